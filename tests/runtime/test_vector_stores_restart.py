"""Vector stores across restarts: stores stay searchable, ingestion cut by SIGKILL resumes, expiry."""

import sqlite3
import time

import openai
import pytest

from tests.runtime.test_vector_stores import upload, wait_store, wait_until
from tests.support.server import Server

TOPICS = [
    "astronomy telescopes and distant galaxies",
    "baking croissants with cold butter",
    "repairing bicycle chains and gears",
    "training a puppy to sit",
    "growing basil on a windowsill",
    "tuning a violin before a concert",
    "brewing green tea at low temperature",
    "knitting a wool scarf",
]


def test_restart_keeps_stores_and_resumes_pending_ingestion(tmp_path):
    srv = Server(tmp_path / "data").start()
    try:
        client = srv.client()
        done = client.vector_stores.create(
            name="done",
            file_ids=[
                upload(client, "stars.txt", "Telescopes collect light from distant galaxies and nebulae.").id
            ],
        )
        wait_store(client, done.id)

        store = client.vector_stores.create(name="pending")
        ids = [upload(client, f"doc{i}.txt", f"Notes on {topic}. " * 40).id for i, topic in enumerate(TOPICS)]
        batch = client.vector_stores.file_batches.create(store.id, file_ids=ids)
        assert client.vector_stores.file_batches.retrieve(
            batch.id, vector_store_id=store.id
        ).file_counts.in_progress
        client.close()
        srv.kill()  # SIGKILL: no shutdown code runs, files stay in_progress

        srv.start()
        client = srv.client()
        batch = wait_until(
            lambda: (
                (b := client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)).status
                != "in_progress"
                and b
            ),
            timeout=120,
        )
        assert batch.status == "completed" and batch.file_counts.completed == len(TOPICS)
        hits = client.vector_stores.search(store.id, query="how do I train a puppy to sit").data
        assert hits[0].file_id == ids[3]
        assert client.vector_stores.search(done.id, query="galaxies").data[0].filename == "stars.txt"

        client.close()
        srv.restart()  # a clean restart keeps everything too
        client = srv.client()
        assert client.vector_stores.retrieve(store.id).file_counts.completed == len(TOPICS)
        assert client.vector_stores.search(store.id, query="tuning a violin").data[0].file_id == ids[5]
        client.close()
    finally:
        srv.stop()


def test_deleting_while_ingesting_keeps_the_worker_alive(tmp_path):
    with Server(tmp_path / "data") as srv:
        client = srv.client()
        ids = [
            upload(client, f"d{i}.txt", f"Document {i} about {topic}. " * 30).id
            for i, topic in enumerate(TOPICS)
        ]
        doomed = client.vector_stores.create(name="doomed", file_ids=ids)
        partial = client.vector_stores.create(name="partial", file_ids=ids)
        client.vector_stores.delete(doomed.id)
        client.vector_stores.files.delete(ids[0], vector_store_id=partial.id)
        client.files.delete(ids[1])
        survivor = wait_store(client, partial.id)
        assert survivor.file_counts.completed == len(ids) - 2 and survivor.file_counts.total == len(ids) - 2
        later = client.vector_stores.create(name="later", file_ids=ids[2:4])
        assert wait_store(client, later.id).file_counts.completed == 2
        assert {
            h.file_id
            for h in client.vector_stores.search(partial.id, query="document", max_num_results=50).data
        } <= set(ids[2:])
        assert "Traceback" not in srv.log()


def test_expired_store_reports_expired_and_refuses_search(tmp_path):
    with Server(tmp_path / "data") as srv:
        client = srv.client()
        store = client.vector_stores.create(name="old", expires_after={"anchor": "last_active_at", "days": 1})
        assert store.status == "completed" and store.expires_at == store.last_active_at + 86400

        db = sqlite3.connect(srv.data_dir / "assistd.db")
        with db:
            db.execute(
                "UPDATE objects SET body = json_set(body, '$.last_active_at', ?) WHERE kind = 'vector_store' "
                "AND id = ?",
                (int(time.time()) - 2 * 86400, store.id),
            )
        db.close()

        expired = client.vector_stores.retrieve(store.id)
        assert expired.status == "expired" and expired.expires_at < time.time()
        with pytest.raises(openai.BadRequestError) as err:
            client.vector_stores.search(store.id, query="anything")
        assert "expired" in err.value.message
        renewed = client.vector_stores.update(store.id, expires_after={"anchor": "last_active_at", "days": 3})
        assert renewed.status == "completed"
