"""Vector stores through the official SDK: stores, files, batches, search, filters, errors.

A real server with the real embedding model and the default embedded Qdrant; documents are small.
"""

import time

import httpx
import openai
import pytest

DOCS = {
    "penguins.txt": "Emperor penguins breed in Antarctica during the winter. The males keep the egg warm "
    "on their feet for two months while the females hunt fish and krill in the sea.",
    "sourdough.txt": "Sourdough bread rises because wild yeast and lactic acid bacteria in the starter "
    "ferment the flour. Knead the dough, let it proof overnight, then bake it in a hot oven.",
    "volcano.txt": "A volcano erupts when magma from the Earth's mantle rises through the crust. "
    "Lava flows, ash clouds and pyroclastic flows follow an eruption.",
}


def wait_until(check, timeout: float = 90.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(interval)


def wait_store(client, store_id: str):
    return wait_until(
        lambda: (s := client.vector_stores.retrieve(store_id)).file_counts.in_progress == 0 and s
    )


def upload(client, name: str, data: bytes | str):
    return client.files.create(
        file=(name, data.encode() if isinstance(data, str) else data), purpose="assistants"
    )


@pytest.fixture(scope="module")
def docs(client):
    return {name: upload(client, name, text).id for name, text in DOCS.items()}


@pytest.fixture(scope="module")
def corpus(client, docs):
    store = client.vector_stores.create(name="corpus", file_ids=list(docs.values()))
    return wait_store(client, store.id)


def test_create_store_with_files_then_search(client, docs, corpus):
    assert corpus.id.startswith("vs_") and corpus.object == "vector_store"
    assert corpus.name == "corpus" and corpus.status == "completed"
    assert corpus.file_counts.model_dump() == {
        "in_progress": 0,
        "completed": 3,
        "failed": 0,
        "cancelled": 0,
        "total": 3,
    }
    assert corpus.usage_bytes > 0 and corpus.expires_after is None and corpus.expires_at is None
    assert corpus.last_active_at >= corpus.created_at and corpus.metadata == {}

    page = client.vector_stores.search(corpus.id, query="How does bread rise before baking?")
    assert page.data, "no results"
    best = page.data[0]
    assert best.file_id == docs["sourdough.txt"] and best.filename == "sourdough.txt"
    assert 0 < best.score <= 1 and "yeast" in best.content[0].text and best.content[0].type == "text"
    assert page.search_query == ["How does bread rise before baking?"]
    assert page.object == "vector_store.search_results.page" and page.has_more is False

    lava = client.vector_stores.search(corpus.id, query=["lava eruption", "magma"], max_num_results=1)
    assert [hit.file_id for hit in lava.data] == [docs["volcano.txt"]]
    assert lava.search_query == ["lava eruption", "magma"]


def test_store_files_shape_and_listing(client, docs, corpus):
    listed = client.vector_stores.files.list(corpus.id, order="asc")
    assert sorted(f.id for f in listed.data) == sorted(docs.values())
    first = listed.data[0]
    assert first.object == "vector_store.file" and first.vector_store_id == corpus.id
    assert first.status == "completed" and first.last_error is None and first.usage_bytes > 0
    assert first.chunking_strategy.type == "static"
    assert first.chunking_strategy.static.max_chunk_size_tokens == 800
    assert first.chunking_strategy.static.chunk_overlap_tokens == 400
    assert client.vector_stores.files.list(corpus.id, filter="failed").data == []
    assert len(client.vector_stores.files.list(corpus.id, filter="completed").data) == 3
    two = client.vector_stores.files.list(corpus.id, limit=2)
    assert len(two.data) == 2 and two.has_more
    assert len(list(client.vector_stores.files.list(corpus.id, limit=2))) == 3  # auto-pagination
    fetched = client.vector_stores.files.retrieve(docs["penguins.txt"], vector_store_id=corpus.id)
    assert fetched.id == docs["penguins.txt"] and fetched.status == "completed"


def test_sdk_poll_helpers(client):
    store = client.vector_stores.create(name="helpers", metadata={"team": "docs"})
    assert store.status == "completed" and store.file_counts.total == 0 and store.metadata == {"team": "docs"}
    one = upload(client, "one.txt", "The lighthouse keeper climbs two hundred steps every evening.")
    attached = client.vector_stores.files.create_and_poll(
        file_id=one.id, vector_store_id=store.id, attributes={"kind": "story", "year": 1901}
    )
    assert attached.status == "completed" and attached.attributes == {"kind": "story", "year": 1901}

    uploaded = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id,
        file=("two.md", b"# Tides\nThe moon pulls the oceans into high and low tides."),
    )
    assert uploaded.status == "completed"

    batch = client.vector_stores.file_batches.upload_and_poll(
        store.id,
        files=[
            ("three.txt", b"Glaciers carve valleys over thousands of years."),
            ("four.txt", b"Bees dance to tell the hive where flowers are."),
        ],
    )
    assert batch.object == "vector_store.files_batch" and batch.id.startswith("vsfb_")
    assert batch.status == "completed" and batch.file_counts.completed == 2 and batch.file_counts.total == 2
    batch_files = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)
    assert len(batch_files.data) == 2 and all(f.status == "completed" for f in batch_files.data)

    five = upload(client, "five.txt", "Owls hunt at night using their sharp hearing.")
    batch = client.vector_stores.file_batches.create_and_poll(
        store.id, files=[{"file_id": five.id, "attributes": {"kind": "nature"}}]
    )
    assert batch.status == "completed"
    assert client.vector_stores.files.retrieve(five.id, vector_store_id=store.id).attributes == {
        "kind": "nature"
    }
    assert (
        client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id).status == "completed"
    )

    store = client.vector_stores.retrieve(store.id)
    assert store.file_counts.completed == 5 and store.status == "completed"
    hits = client.vector_stores.search(store.id, query="what makes the tide go up and down").data
    assert hits[0].filename == "two.md"


def test_filters_on_attributes(client):
    store = client.vector_stores.create(name="filters")
    files = []
    for i, (region, year) in enumerate([("eu", 2020), ("us", 2021), ("eu", 2023)]):
        f = upload(client, f"report{i}.txt", f"Quarterly sales report number {i} for the {region} region.")
        files.append(f.id)
        client.vector_stores.files.create_and_poll(
            file_id=f.id,
            vector_store_id=store.id,
            attributes={"region": region, "year": year, "final": i != 1},
        )

    def search(filters):
        return sorted(
            h.file_id
            for h in client.vector_stores.search(store.id, query="sales report", filters=filters).data
        )

    assert search({"type": "eq", "key": "region", "value": "eu"}) == sorted([files[0], files[2]])
    assert search({"type": "gte", "key": "year", "value": 2021}) == sorted(files[1:])
    assert search(
        {
            "type": "and",
            "filters": [
                {"type": "eq", "key": "region", "value": "eu"},
                {"type": "lt", "key": "year", "value": 2022},
            ],
        }
    ) == [files[0]]
    assert search(
        {
            "type": "or",
            "filters": [
                {"type": "eq", "key": "region", "value": "us"},
                {"type": "eq", "key": "year", "value": 2023},
            ],
        }
    ) == sorted(files[1:])
    assert search({"type": "eq", "key": "final", "value": False}) == [files[1]]
    assert search({"type": "in", "key": "region", "value": ["us", "ca"]}) == [files[1]]

    updated = client.vector_stores.files.update(
        files[1], vector_store_id=store.id, attributes={"region": "eu"}
    )
    assert updated.attributes == {"region": "eu"}
    assert search({"type": "eq", "key": "region", "value": "eu"}) == sorted(files)

    with pytest.raises(openai.BadRequestError) as err:
        client.vector_stores.search(
            store.id, query="x", filters={"type": "like", "key": "region", "value": "e"}
        )
    assert err.value.body["param"].startswith("filters")
    with pytest.raises(openai.BadRequestError) as err:
        client.vector_stores.search(store.id, query="x", filters={"type": "and", "filters": []})
    assert err.value.body["param"].startswith("filters")


def test_corrupt_file_fails_alone(client):
    store = client.vector_stores.create(name="mixed")
    good = [
        upload(client, f"good{i}.txt", f"Healthy document number {i} about gardening tomatoes.").id
        for i in range(2)
    ]
    bad = upload(client, "broken.pdf", b"%PDF-1.7\n\x00\x01\x02 this is not really a pdf \xff\xfe").id
    batch = client.vector_stores.file_batches.create_and_poll(store.id, file_ids=[*good, bad])
    assert batch.status == "completed"
    assert (batch.file_counts.completed, batch.file_counts.failed, batch.file_counts.total) == (2, 1, 3)
    failed = client.vector_stores.files.retrieve(bad, vector_store_id=store.id)
    assert failed.status == "failed"
    assert failed.last_error.code in ("invalid_file", "unsupported_file") and failed.last_error.message
    failed_only = client.vector_stores.file_batches.list_files(
        batch.id, vector_store_id=store.id, filter="failed"
    )
    assert [f.id for f in failed_only.data] == [bad]
    assert client.vector_stores.retrieve(store.id).file_counts.failed == 1
    hits = client.vector_stores.search(store.id, query="gardening tomatoes").data
    assert {h.file_id for h in hits} == set(good)


def test_chunking_strategy(client):
    text = " ".join(f"Sentence number {i} talks about the history of maps and sailors." for i in range(120))
    doc = upload(client, "long.txt", text)
    store = client.vector_stores.create(
        name="chunks",
        file_ids=[doc.id],
        chunking_strategy={
            "type": "static",
            "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 20},
        },
    )
    store = wait_store(client, store.id)
    stored = client.vector_stores.files.retrieve(doc.id, vector_store_id=store.id)
    assert stored.status == "completed"
    assert stored.chunking_strategy.static.max_chunk_size_tokens == 100
    assert stored.chunking_strategy.static.chunk_overlap_tokens == 20

    content = client.vector_stores.files.content(doc.id, vector_store_id=store.id)
    chunks = [part.text for part in content.data]
    assert len(chunks) > 5 and all(part.type == "text" for part in content.data)
    assert "Sentence number 0" in chunks[0] and "Sentence number 119" in chunks[-1]

    bad = [
        (
            {"type": "static", "static": {"max_chunk_size_tokens": 50, "chunk_overlap_tokens": 0}},
            "chunking_strategy.static.max_chunk_size_tokens",
        ),
        (
            {"type": "static", "static": {"max_chunk_size_tokens": 5000, "chunk_overlap_tokens": 0}},
            "chunking_strategy.static.max_chunk_size_tokens",
        ),
        (
            {"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 150}},
            "chunking_strategy.static.chunk_overlap_tokens",
        ),
        ({"type": "static"}, "chunking_strategy.static"),
        ({"type": "fancy"}, "chunking_strategy.type"),
    ]
    for strategy, param in bad:
        with pytest.raises(openai.BadRequestError) as err:
            client.vector_stores.files.create(
                vector_store_id=store.id, file_id=doc.id, chunking_strategy=strategy
            )
        assert err.value.body["param"] == param, strategy
        with pytest.raises(openai.BadRequestError):
            client.vector_stores.create(file_ids=[doc.id], chunking_strategy=strategy)
    with pytest.raises(openai.BadRequestError) as err:
        client.vector_stores.file_batches.create(
            store.id, files=[{"file_id": doc.id, "chunking_strategy": bad[0][0]}]
        )
    assert err.value.body["param"] == "files[0].chunking_strategy.static.max_chunk_size_tokens"


def test_delete_vector_store_file_removes_its_results(client):
    store = client.vector_stores.create(name="deleting")
    keep = upload(client, "keep.txt", "Chess openings: the Sicilian defence answers e4 with c5.")
    drop = upload(client, "drop.txt", "Chess endgames: king and pawn against king needs opposition.")
    client.vector_stores.file_batches.create_and_poll(store.id, file_ids=[keep.id, drop.id])
    assert {h.file_id for h in client.vector_stores.search(store.id, query="chess").data} == {
        keep.id,
        drop.id,
    }

    deleted = client.vector_stores.files.delete(drop.id, vector_store_id=store.id)
    assert deleted.deleted and deleted.id == drop.id and deleted.object == "vector_store.file.deleted"
    assert {h.file_id for h in client.vector_stores.search(store.id, query="chess").data} == {keep.id}
    assert client.vector_stores.retrieve(store.id).file_counts.total == 1
    assert client.files.retrieve(drop.id).id == drop.id  # the File itself stays
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve(drop.id, vector_store_id=store.id)

    client.files.delete(keep.id)  # deleting the File takes it out of the store too
    assert client.vector_stores.files.list(store.id).data == []
    assert client.vector_stores.search(store.id, query="chess").data == []


def test_update_list_and_delete_store(client, docs):
    store = client.vector_stores.create(
        name="temp", expires_after={"anchor": "last_active_at", "days": 2}, file_ids=[docs["volcano.txt"]]
    )
    assert store.expires_after.days == 2 and store.expires_at == store.last_active_at + 2 * 86400
    updated = client.vector_stores.update(store.id, name="renamed", metadata={"k": "v"})
    assert updated.name == "renamed" and updated.metadata == {"k": "v"} and updated.expires_after.days == 2
    cleared = client.vector_stores.update(store.id, expires_after=None)
    assert cleared.expires_after is None and cleared.expires_at is None and cleared.name == "renamed"

    ids = [client.vector_stores.create(name=f"page{i}").id for i in range(3)]
    listed = [s.id for s in client.vector_stores.list(limit=2) if s.id in ids]
    assert listed == list(reversed(ids))

    wait_store(client, store.id)
    deleted = client.vector_stores.delete(store.id)
    assert deleted.deleted and deleted.object == "vector_store.deleted"
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve(store.id)
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.search(store.id, query="lava")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.delete(store.id)


def test_search_touches_last_active_at(client, corpus):
    before = client.vector_stores.retrieve(corpus.id).last_active_at
    time.sleep(1.1)
    client.vector_stores.search(corpus.id, query="penguin")
    assert client.vector_stores.retrieve(corpus.id).last_active_at > before


def test_search_options(client, docs, corpus):
    all_hits = client.vector_stores.search(corpus.id, query="penguins in the cold", max_num_results=50).data
    assert all_hits[0].file_id == docs["penguins.txt"]
    assert [h.score for h in all_hits] == sorted((h.score for h in all_hits), reverse=True)
    strict = client.vector_stores.search(
        corpus.id,
        query="penguins in the cold",
        ranking_options={"ranker": "auto", "score_threshold": all_hits[0].score - 1e-6},
    ).data
    assert [h.file_id for h in strict] == [docs["penguins.txt"]]
    for ranker in ("none", "default-2024-11-15"):
        ranked = client.vector_stores.search(
            corpus.id, query="penguins in the cold", ranking_options={"ranker": ranker}
        ).data
        assert ranked[0].file_id == docs["penguins.txt"] and all(0 <= h.score <= 1 for h in ranked)


def test_rewrite_query(client, docs, corpus):
    page = client.vector_stores.search(
        corpus.id, query="How do Emperor penguins keep their eggs warm?", rewrite_query=True
    )
    assert page.search_query == ["Emperor penguins keep eggs warm"]
    assert page.data[0].file_id == docs["penguins.txt"]
    plain = client.vector_stores.search(corpus.id, query=["Lava and ash?", "sourdough"])
    assert plain.search_query == ["Lava and ash?", "sourdough"]


def test_inline_vector_store_from_tool_resources(client, docs):
    thread = client.beta.threads.create(
        tool_resources={
            "file_search": {
                "vector_stores": [{"file_ids": [docs["penguins.txt"]], "metadata": {"from": "thread"}}]
            }
        }
    )
    (store_id,) = thread.tool_resources.file_search.vector_store_ids
    store = wait_store(client, store_id)
    assert store.file_counts.completed == 1 and store.metadata == {"from": "thread"}
    assert (
        client.vector_stores.search(store_id, query="emperor penguin eggs").data[0].file_id
        == docs["penguins.txt"]
    )


def test_cancel_batch(client):
    store = client.vector_stores.create(name="cancel")
    ids = [
        upload(client, f"c{i}.txt", f"Cancelled document {i} about trains and railways.").id
        for i in range(12)
    ]
    batch = client.vector_stores.file_batches.create(store.id, file_ids=ids)
    cancelled = client.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)
    assert cancelled.status == "cancelled" and cancelled.file_counts.in_progress == 0
    counts = cancelled.file_counts
    assert counts.cancelled + counts.completed + counts.failed == counts.total == 12
    time.sleep(0.5)
    cancelled_ids = {f.id for f in client.vector_stores.files.list(store.id, filter="cancelled", limit=100)}
    hits = client.vector_stores.search(store.id, query="trains and railways", max_num_results=50).data
    assert not cancelled_ids & {h.file_id for h in hits}


def test_errors(client, server, docs, corpus):
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve("vs_missing")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve("file-missing", vector_store_id=corpus.id)
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.list("vs_missing")
    with pytest.raises(openai.NotFoundError) as err:
        client.vector_stores.files.create(vector_store_id=corpus.id, file_id="file-missing")
    assert err.value.body["param"] == "file_id"
    with pytest.raises(openai.NotFoundError) as err:
        client.vector_stores.create(file_ids=[docs["volcano.txt"], "file-missing"])
    assert err.value.body["param"] == "file_ids[1]"
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.file_batches.retrieve("vsfb_missing", vector_store_id=corpus.id)
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.content("file-missing", vector_store_id=corpus.id)
    for kwargs, param in [
        ({"max_num_results": 0}, "max_num_results"),
        ({"max_num_results": 51}, "max_num_results"),
        ({"ranking_options": {"score_threshold": 2}}, "ranking_options.score_threshold"),
        ({"ranking_options": {"ranker": "default_2024_08_21"}}, "ranking_options.ranker"),
        (
            {"ranking_options": {"hybrid_search": {"embedding_weight": 1, "text_weight": 1}}},
            "ranking_options.hybrid_search",
        ),
    ]:
        with pytest.raises(openai.BadRequestError) as err:
            client.vector_stores.search(corpus.id, query="x", **kwargs)
        assert err.value.body["param"] == param
    with pytest.raises(openai.BadRequestError) as err:
        client.vector_stores.search(corpus.id, query="  ")
    assert err.value.body["param"] == "query"
    with pytest.raises(openai.BadRequestError) as err:
        client.vector_stores.create(expires_after={"anchor": "last_active_at", "days": 0})
    assert err.value.body["param"] == "expires_after.days"
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.create(expires_after={"anchor": "created_at", "days": 3})
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.file_batches.create(
            corpus.id, file_ids=[docs["volcano.txt"]], files=[{"file_id": docs["volcano.txt"]}]
        )
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.file_batches.create(corpus.id)
    with pytest.raises(openai.BadRequestError) as err:
        client.vector_stores.files.list(corpus.id, filter="done")
    assert err.value.body["param"] == "filter"
    with pytest.raises(openai.BadRequestError) as err:
        client.vector_stores.files.create(
            vector_store_id=corpus.id, file_id=docs["volcano.txt"], attributes={f"k{i}": i for i in range(17)}
        )
    assert err.value.body["param"] == "attributes"
    raw = httpx.post(
        f"{server.base_url}/vector_stores/{corpus.id}/search",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"
