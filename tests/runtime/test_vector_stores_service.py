"""The vector store service as the run engine calls it: thread stores from attachments, search."""

from fastapi.testclient import TestClient

from runtime.app import create_app
from runtime.settings import Settings


def test_attach_to_thread_and_search(tmp_path):
    app = create_app(Settings(data_dir=tmp_path / "data", sandbox_prewarm=False))
    with TestClient(app) as http:
        zebra = http.post(
            "/v1/files",
            files={
                "file": ("zebra.txt", b"Zebras have black and white stripes and live on the African savanna.")
            },
            data={"purpose": "assistants"},
        ).json()
        owl = http.post(
            "/v1/files",
            files={"file": ("owl.txt", b"Owls hunt mice at night using their excellent hearing.")},
            data={"purpose": "assistants"},
        ).json()
        thread = http.post("/v1/threads", json={}).json()
        service = app.state.vector_stores

        store_id = http.portal.call(service.attach_to_thread, thread["id"], [zebra["id"]])
        assert http.get(f"/v1/threads/{thread['id']}").json()["tool_resources"] == {
            "file_search": {"vector_store_ids": [store_id]}
        }
        store = http.get(f"/v1/vector_stores/{store_id}").json()
        assert store["file_counts"]["completed"] == 1  # attach_to_thread waits for ingestion
        assert store["expires_after"] == {"anchor": "last_active_at", "days": 7}

        # A second attachment goes into the same store; files already there are not ingested again.
        assert http.portal.call(service.attach_to_thread, thread["id"], [zebra["id"], owl["id"]]) == store_id
        assert http.get(f"/v1/vector_stores/{store_id}").json()["file_counts"]["completed"] == 2

        hits = http.portal.call(service.search, [store_id, "vs_unknown"], "striped animals in Africa", 5, 0.0)
        assert hits[0]["file_id"] == zebra["id"] and hits[0]["filename"] == "zebra.txt"
        assert set(hits[0]) == {"file_id", "filename", "score", "text", "attributes"}
        assert "stripes" in hits[0]["text"]
        assert http.portal.call(service.search, [], "anything") == []

        # Only files whose ingestion completed are searchable, whatever their points in the index.
        owl_row = service.store.get("vector_store.file", owl["id"], store_id)
        assert (
            http.portal.call(service.search, [store_id], "owls at night", 5, 0.0)[0]["file_id"] == owl["id"]
        )
        service.store.put("vector_store.file", {**owl_row, "status": "failed"}, store_id)
        hits = http.portal.call(service.search, [store_id], "owls at night", 5, 0.0)
        assert hits and owl["id"] not in {h["file_id"] for h in hits}
        assert http.portal.call(service.attach_to_thread, "thread_unknown", [owl["id"]]) is None
