"""Everything survives a restart, a SIGKILL mid-write leaves an intact database, older databases open."""

import sqlite3
import threading

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from runtime.store import Store
from tests.support.server import Server


def test_objects_survive_restart(tmp_path):
    srv = Server(tmp_path / "data").start()
    try:
        client = srv.client()
        assistant = client.beta.assistants.create(
            model="m", name="durable", tools=[{"type": "code_interpreter"}]
        )
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "remember me"}])
        upload = client.files.create(file=("keep.txt", b"kept bytes"), purpose="assistants")
        srv.restart()
        client = srv.client()
        assert client.beta.assistants.retrieve(assistant.id).model_dump() == assistant.model_dump()
        assert client.beta.threads.retrieve(thread.id).id == thread.id
        assert client.beta.threads.messages.list(thread.id).data[0].content[0].text.value == "remember me"
        assert client.files.content(upload.id).read() == b"kept bytes"
    finally:
        srv.stop()


def test_sigkill_mid_write_keeps_database_intact(tmp_path):
    srv = Server(tmp_path / "data").start()
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        with httpx.Client(base_url=srv.base_url, timeout=5) as http:
            i = 0
            while not stop.is_set():
                try:
                    r = http.post(
                        "/assistants", json={"model": "m", "name": f"w{n}-{i}", "metadata": {"i": str(i)}}
                    )
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    acknowledged.append(r.json()["id"])
                i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    while len(acknowledged) < 100:
        threading.Event().wait(0.01)
    srv.kill()
    stop.set()
    for t in threads:
        t.join()

    db = sqlite3.connect(srv.data_dir / "assistd.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()

    srv.start()
    try:
        client = srv.client()
        stored = {a.id for a in client.beta.assistants.list(limit=100)}
        assert set(acknowledged) <= stored, "an acknowledged write was lost"
        assert client.beta.assistants.create(model="m").object == "assistant"
    finally:
        srv.stop()


def test_database_from_before_the_field_indexes_opens_with_everything(tmp_path):
    """A database made before the `status` / `_batch_id` indexes existed gets them at start-up."""
    srv = Server(tmp_path / "data").start()
    try:
        client = srv.client()
        upload = client.files.create(
            file=("a.txt", b"Otters hold hands while they sleep."), purpose="assistants"
        )
        store = client.vector_stores.create(name="old")
        batch = client.vector_stores.file_batches.create_and_poll(store.id, file_ids=[upload.id])
        assert batch.file_counts.completed == 1
        srv.stop()
        db = sqlite3.connect(srv.data_dir / "assistd.db")
        db.execute("DROP INDEX ix_objects_status")
        db.execute("DROP INDEX ix_objects_batch")
        db.commit()
        db.close()
        srv.start()
        client = srv.client()
        again = client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)
        assert (again.status, again.file_counts.completed) == ("completed", 1)
        listed = client.vector_stores.files.list(store.id, filter="completed")
        assert [f.id for f in listed.data] == [upload.id]
        db = sqlite3.connect(srv.data_dir / "assistd.db")
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        db.close()
        assert {"ix_objects_status", "ix_objects_batch"} <= names
    finally:
        srv.stop()


def test_database_from_before_the_newer_columns_opens_and_serves(tmp_path):
    """A database whose `workers` table predates its `capacity` and `sessions` columns, and whose
    `events` table predates `at` (and its index), gets them at start-up, and the server works on it."""
    srv = Server(tmp_path / "data").start()
    try:
        assistant = srv.client().beta.assistants.create(model="m", name="kept")
        srv.stop()
        db = sqlite3.connect(srv.data_dir / "assistd.db")
        db.execute("ALTER TABLE workers DROP COLUMN capacity")
        db.execute("ALTER TABLE workers DROP COLUMN sessions")
        db.execute("DROP INDEX ix_events_at")
        db.execute("ALTER TABLE events DROP COLUMN at")
        db.commit()
        db.close()
        srv.start()
        assert srv.client().beta.assistants.retrieve(assistant.id).name == "kept"
        db = sqlite3.connect(srv.data_dir / "assistd.db")
        columns = {row[1] for row in db.execute("PRAGMA table_info(workers)")}
        capacity = db.execute("SELECT capacity FROM workers").fetchall()
        events = {row[1] for row in db.execute("PRAGMA table_info(events)")}
        indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        db.close()
        assert {"capacity", "sessions"} <= columns and "at" in events and "ix_events_at" in indexes
        assert capacity and capacity[0][0] > 0  # this process drives runs: its session capacity
    finally:
        srv.stop()


def test_reads_outside_a_transaction_see_each_commit_and_outlive_a_failed_statement(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        store.insert("thing", {"id": "a", "n": 1})
        with store.read() as tx:
            assert tx.get("thing", "a") == {"id": "a", "n": 1}
        store.put("thing", {"id": "a", "n": 2})
        with store.read() as tx:
            assert tx.get("thing", "a")["n"] == 2
        with pytest.raises(DBAPIError), store.read() as tx:
            tx.conn.execute(text("SELECT * FROM no_such_table"))
        with store.read() as tx:  # on a new connection
            assert tx.get("thing", "a")["n"] == 2
    finally:
        store.close()
