"""End to end with the real model and real Qdrant, on both backends (one suite, parametrized):
ingestion of a mixed corpus, facts found first, pages, filters, deletion, reopening, congruence."""

import pytest
from conftest import BACKENDS
from retrieval_corpus import FACTS, FILLER, write_corpus

from retrieval import FilterError, ParseError, RetrievalError
from retrieval.filters import matches, parse_filter
from retrieval.index.base import point_id
from retrieval.keyword import Sparse, idf

STORE = "vs_corpus"


def ingest_corpus(retriever, root, store=STORE):
    paths = write_corpus(root)
    ids = {}
    for n, (name, path) in enumerate(sorted(paths.items())):
        file_id = f"file-{n:02d}"
        attrs = {"name": name, "rank": n, "kind": name.rsplit(".", 1)[-1], "even": n % 2 == 0}
        result = retriever.ingest_file(store, file_id, path, name, attributes=attrs)
        assert result.chunks >= 1 and result.bytes > 0
        ids[name] = file_id
    return ids


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def corpus(make_retriever, backend, tmp_path):
    retriever = make_retriever(backend)
    return retriever, ingest_corpus(retriever, tmp_path / "corpus")


def test_each_fact_is_found_first(corpus):
    retriever, ids = corpus
    for name, _content, query, words in FACTS:
        hits = retriever.search([STORE], query, max_num_results=5)
        assert hits, query
        assert hits[0].file_id == ids[name], (query, [(h.filename, h.score) for h in hits])
        assert words in hits[0].text
        assert hits[0].filename == name


def test_scores_ordered_and_bounded(corpus):
    retriever, _ = corpus
    hits = retriever.search([STORE], "vacation days", max_num_results=50)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert len(retriever.search([STORE], "vacation days", max_num_results=2)) == 2
    strict = retriever.search([STORE], "vacation days", score_threshold=0.6)
    assert strict and all(h.score >= 0.6 for h in strict) and len(strict) < len(hits)
    with pytest.raises(RetrievalError):
        retriever.search([STORE], "x", max_num_results=51)


def test_hybrid_score_is_the_mean_of_the_relative_cosine_and_the_share_of_the_querys_bm25(corpus):
    """A hybrid score as `retrieval.search` documents it, rebuilt from the index's own answers: the
    cosine over the best cosine, and the BM25 score over the query's own (the sum of its terms' IDF)."""
    retriever, ids = corpus
    index, query = retriever.index, "How many vacation days do employees get?"
    dense, sparse = retriever.embedder.encode([query])[0], retriever.keywords.query(query)
    hybrid = retriever.search([STORE], query, max_num_results=50)
    points = {point_id(ids[h.filename], h.chunk_index): h for h in hybrid}
    cosines, bm25 = index.score(STORE, dense=(list(points), dense), sparse=(list(points), sparse))
    cosine = {h.id: max(h.score, 0.0) for h in cosines}
    keyword = {h.id: h.score for h in bm25}
    count, frequencies = index.frequencies(STORE, sparse.indices)
    own = sum(idf(count, n) for n in frequencies)
    assert len(hybrid) == len(cosine.keys() | keyword.keys())  # the corpus is smaller than the lists
    for point, hit in points.items():
        share = min(keyword.get(point, 0.0) / own, 1.0)
        assert hit.score == pytest.approx((cosine[point] / max(cosine.values()) + share) / 2, abs=1e-5)
    retriever.config.fusion = "rrf"
    assert [h.score for h in retriever.search([STORE], query, max_num_results=50)] != [
        h.score for h in hybrid
    ]


def test_the_index_counts_the_chunks_holding_each_term(corpus, tmp_path):
    """`Index.frequencies`: the statistics behind the keyword side's IDF, kept until the store changes."""
    retriever, ids = corpus
    index, keywords = retriever.index, retriever.keywords
    texts = [t for file_id in ids.values() for t in retriever.file_chunks(STORE, file_id)]
    held = [set(keywords.document(t).indices) for t in texts]
    terms = keywords.query("Zephyr pump gasket employees parking xylophonic").indices
    count, frequencies = index.frequencies(STORE, terms)
    assert count == len(texts)
    assert frequencies == [sum(t in h for h in held) for t in terms]
    unseen = terms.index(keywords.term("xylophonic"))
    assert [n == 0 for n in frequencies] == [i == unseen for i in range(len(terms))]
    (tmp_path / "new.txt").write_text("A xylophonic chime rings at noon.")
    retriever.ingest_file(STORE, "file-new", tmp_path / "new.txt")
    assert index.frequencies(STORE, terms) == (
        count + 1,
        [n + (i == unseen) for i, n in enumerate(frequencies)],
    )
    assert index.frequencies("vs_unknown", terms) == (0, [0] * len(terms))


def test_the_index_answers_both_queries_of_a_batch_as_it_answers_each_alone(corpus):
    retriever, _ = corpus
    index, query = retriever.index, "How many vacation days do employees get?"
    dense, sparse = retriever.embedder.encode([query])[0], retriever.keywords.query(query)
    only_policy = parse_filter({"type": "eq", "key": "name", "value": "policy.docx"})
    for where in (None, only_policy):
        both = index.search(STORE, 20, where, dense=dense, sparse=sparse)
        alone = (
            index.search(STORE, 20, where, dense=dense)[0],
            index.search(STORE, 20, where, sparse=sparse)[1],
        )
        assert both[0] and both[1]
        for got, want in zip(both, alone, strict=True):  # same hits; scores may differ in the last
            assert [h.id for h in got] == [h.id for h in want]  # float digits (qdrant-client's numpy)
            assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-6, abs=1e-7)
        assert index.search(STORE, 20, where, dense=dense)[1] == []  # nothing asked, nothing found
    assert index.search("vs_unknown", 20, dense=dense, sparse=sparse) == ([], [])


def test_the_index_scores_given_points_as_its_searches_do(corpus):
    retriever, _ = corpus
    index, query = retriever.index, "How many vacation days do employees get?"
    dense, sparse = retriever.embedder.encode([query])[0], retriever.keywords.query(query)
    dense_hits, keyword_hits = index.search(STORE, 50, dense=dense, sparse=sparse)
    some, others = [h.id for h in dense_hits[::2]], [h.id for h in dense_hits[1::2]]
    cosines, keywords = index.score(STORE, dense=(some, dense), sparse=(others, sparse))
    assert {h.id: h.score for h in cosines} == pytest.approx(
        {h.id: h.score for h in dense_hits if h.id in some}, rel=1e-5
    )
    want = {h.id: h.score for h in keyword_hits if h.id in others}  # a point without the terms: left out
    assert {h.id: h.score for h in keywords} == pytest.approx(want, rel=1e-5)
    assert index.score(STORE, dense=([], dense), sparse=(others, Sparse([1], [1.0]))) == ([], [])
    assert index.score("vs_unknown", dense=(some, dense), sparse=(others, sparse)) == ([], [])


def test_a_literal_name_beats_a_near_miss_that_only_shares_the_wording(make_retriever, backend, tmp_path):
    """A long document holds the fact once among unrelated words; a short overview shares the
    question's wording (what the dense side prefers) but not the office's name."""
    retriever = make_retriever(backend)
    long_text = (
        FILLER * 12 + "The guest wifi password at the Lumtor office is tulip-Harbor-9921. " + FILLER * 12
    )
    overview = (
        "Every office runs a guest wifi network. Guest wifi passwords change every quarter; ask the "
        "office reception for the current guest wifi password."
    )
    for n, (name, text) in enumerate((("notes.txt", long_text), ("wifi.md", overview))):
        (tmp_path / name).write_text(text)
        retriever.ingest_file(STORE, f"file-{n}", tmp_path / name, name)
    query = "What is the guest wifi password at the Lumtor office?"
    assert retriever.search([STORE], query, mode="dense")[0].filename == "wifi.md"
    (first, second) = retriever.search([STORE], query, max_num_results=2)
    assert first.filename == "notes.txt" and "tulip-Harbor-9921" in first.text
    assert 0 <= second.score < first.score <= 1


def test_the_sentence_stating_the_query_beats_a_name_in_passing(make_retriever, backend, tmp_path):
    """Two long documents name the Lumtor office: one in passing, at the start of its chunk (the part
    the dense side reads), the other in the sentence that answers, past the part the dense side reads
    of either chunk holding it; and an overview shares the question's wording without the name."""
    retriever = make_retriever(backend)
    answer = "The guest wifi password at the Lumtor office is tulip-Harbor-9921. "
    docs = {
        "answer.txt": FILLER * 19 + answer + FILLER * 19,
        "passing.txt": "The Lumtor office closes its reception desk at six. " + FILLER * 38,
        "wifi.md": "Every office runs a guest wifi network; ask reception for the guest wifi password.",
    }
    for n, (name, text) in enumerate(docs.items()):
        (tmp_path / name).write_text(text)
        retriever.ingest_file(STORE, f"file-{n}", tmp_path / name, name)
    query = "What is the guest wifi password at the Lumtor office?"
    assert "tulip-Harbor-9921" not in retriever.search([STORE], query, mode="dense")[0].text
    hits = retriever.search([STORE], query, max_num_results=10)
    held = [h for h in hits if "tulip-Harbor-9921" in h.text]
    assert hits[: len(held)] == held and len(held) == 2  # the two chunks around the answer, first
    assert [h.score for h in held] == pytest.approx([1.0, 1.0])  # the name, and the query around it
    passing = next(h for h in hits if h.filename == "passing.txt")
    assert passing.score < 0.5  # one of the two names here (wifi, Lumtor), few words of the query
    assert all(h.score < 1 for h in hits[2:])


def test_pdf_pages(corpus):
    retriever, ids = corpus
    (hit, *_) = retriever.search([STORE], "fluorosilicone gasket", max_num_results=1)
    assert hit.file_id == ids["manual.pdf"] and hit.page == 1  # one chunk, starting on page 1
    other = [h for h in retriever.search([STORE], "vacation days") if h.filename == "policy.docx"]
    assert other and other[0].page is None


def test_pages_per_chunk(make_retriever, backend, tmp_path):
    from retrieval_corpus import pdf_bytes

    retriever = make_retriever(backend)
    pages = [f"Page {n} talks about topic number {n}. " + "filler words here. " * 40 for n in range(1, 6)]
    pages[3] += "The unicorn stable is painted violet."
    path = tmp_path / "long.pdf"
    path.write_bytes(pdf_bytes(pages))
    strategy = {"type": "static", "static": {"max_chunk_size_tokens": 150, "chunk_overlap_tokens": 0}}
    result = retriever.ingest_file("vs_pages", "f", path, "long.pdf", chunking_strategy=strategy)
    assert result.chunks >= 5
    (hit, *_) = retriever.search(["vs_pages"], "unicorn stable violet", max_num_results=1)
    assert "unicorn" in hit.text and hit.page == 4


def test_corrupt_file_fails_alone(make_retriever, backend, tmp_path):
    retriever = make_retriever(backend)
    good = tmp_path / "good.txt"
    good.write_text("Otters hold hands while they sleep.")
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.7 truncated garbage")
    retriever.ingest_file("vs_x", "good", good, "good.txt")
    with pytest.raises(ParseError):
        retriever.ingest_file("vs_x", "bad", bad, "bad.pdf")
    assert retriever.file_chunks("vs_x", "bad") == []
    (hit,) = retriever.search(["vs_x"], "otters sleeping")
    assert hit.file_id == "good"


FILTERS = [
    {"type": "eq", "key": "kind", "value": "txt"},
    {"type": "ne", "key": "kind", "value": "txt"},
    {"type": "gt", "key": "rank", "value": 5},
    {"type": "lte", "key": "rank", "value": 3.0},
    {"type": "in", "key": "kind", "value": ["md", "html"]},
    {"type": "nin", "key": "rank", "value": [0, 1, 2]},
    {"type": "eq", "key": "even", "value": True},
    {
        "type": "and",
        "filters": [{"type": "gte", "key": "rank", "value": 2}, {"type": "lt", "key": "rank", "value": 6}],
    },
    {
        "type": "or",
        "filters": [
            {"type": "eq", "key": "kind", "value": "pdf"},
            {
                "type": "and",
                "filters": [
                    {"type": "eq", "key": "even", "value": False},
                    {"type": "ne", "key": "kind", "value": "md"},
                ],
            },
        ],
    },
    {"type": "eq", "key": "missing", "value": 1},
]


def test_filters(corpus):
    retriever, ids = corpus
    by_id = {}
    for name, file_id in ids.items():
        (h, *_) = [h for h in retriever.search([STORE], name, max_num_results=50) if h.file_id == file_id]
        by_id[file_id] = h.attributes
    for flt in FILTERS:
        expected = {f for f, attrs in by_id.items() if matches(parse_filter(flt), attrs)}
        got = {h.file_id for h in retriever.search([STORE], "the", max_num_results=50, filters=flt)}
        got |= {
            h.file_id for h in retriever.search([STORE], "planning meetings", max_num_results=50, filters=flt)
        }
        assert got <= expected, flt
        assert got == expected or not expected, (flt, got, expected)
    with pytest.raises(FilterError):
        retriever.search([STORE], "x", filters={"type": "gt", "key": "rank", "value": "5"})


def test_update_attributes(corpus):
    retriever, ids = corpus
    file_id = ids["notes.txt"]
    retriever.update_attributes(STORE, file_id, {"label": "secret"})
    hits = retriever.search([STORE], "launch code", filters={"type": "eq", "key": "label", "value": "secret"})
    assert {h.file_id for h in hits} == {file_id}
    assert hits[0].attributes == {"label": "secret"}


def test_delete_file_and_store(corpus):
    retriever, ids = corpus
    file_id = ids["notes.txt"]
    assert retriever.file_chunks(STORE, file_id)
    retriever.delete_file(STORE, file_id)
    assert retriever.file_chunks(STORE, file_id) == []
    assert file_id not in {
        h.file_id for h in retriever.search([STORE], "launch code Bluebird", max_num_results=50)
    }
    retriever.delete_store(STORE)
    assert retriever.search([STORE], "launch code") == []
    assert not retriever.index.has_store(STORE)


def test_reingest_replaces(make_retriever, backend, tmp_path):
    retriever = make_retriever(backend)
    path = tmp_path / "a.txt"
    path.write_text("word " * 2000)
    assert retriever.ingest_file("vs_r", "f", path, "a.txt").chunks > 1
    path.write_text("Only one small chunk now.")
    assert retriever.ingest_file("vs_r", "f", path, "a.txt").chunks == 1
    assert retriever.file_chunks("vs_r", "f") == ["Only one small chunk now."]


def test_several_stores_and_queries(make_retriever, backend, tmp_path):
    retriever = make_retriever(backend)
    for store, text in (
        ("vs_a", "Penguins live in Antarctica."),
        ("vs_b", "Camels cross the Sahara desert."),
    ):
        path = tmp_path / f"{store}.txt"
        path.write_text(text)
        retriever.ingest_file(store, store + "_f", path, path.name)
    assert retriever.search(["vs_a"], "camels desert")[0].file_id == "vs_a_f"  # scoped: only vs_a
    assert retriever.search(["vs_a", "vs_b"], "camels desert")[0].file_id == "vs_b_f"
    both = retriever.search(["vs_a", "vs_b", "vs_unknown"], ["penguins", "camels"])
    assert {h.file_id for h in both} == {"vs_a_f", "vs_b_f"}


def test_reopen_keeps_stores(make_retriever, backend, tmp_path):
    data = tmp_path / "persist"
    retriever = make_retriever(backend, data)
    path = tmp_path / "p.md"
    path.write_text("# Lighthouse\nThe lighthouse keeper feeds the seagulls at dawn.")
    retriever.ingest_file("vs_p", "f", path, "p.md", attributes={"k": "v"})
    before = retriever.search(["vs_p"], "who feeds the seagulls")
    retriever.close()
    again = make_retriever(backend, data)
    after = again.search(["vs_p"], "who feeds the seagulls")
    assert [(h.file_id, h.text, h.attributes) for h in after] == [
        (h.file_id, h.text, h.attributes) for h in before
    ]
    assert after and after[0].score == pytest.approx(before[0].score)


def test_backends_congruent(make_retriever, tmp_path):
    """The same corpus and queries give the same hits, order and (nearly) the same scores on both."""
    edge, client = make_retriever("edge"), make_retriever("qdrant-client")
    ingest_corpus(edge, tmp_path / "c1")
    ingest_corpus(client, tmp_path / "c2")
    queries = [q for _, _, q, _ in FACTS] + ["planning meetings", "Reno"]
    for mode in ("hybrid", "dense", "keyword"):
        for query in queries:
            a = edge.search([STORE], query, max_num_results=10, mode=mode)
            b = client.search([STORE], query, max_num_results=10, mode=mode)
            assert [h.file_id for h in a][:3] == [h.file_id for h in b][:3], (mode, query)
            assert [h.score for h in a][:3] == pytest.approx([h.score for h in b][:3], abs=2e-3), (
                mode,
                query,
            )
        flt = FILTERS[-2]
        a = edge.search([STORE], "planning", max_num_results=20, filters=flt, mode=mode)
        b = client.search([STORE], "planning", max_num_results=20, filters=flt, mode=mode)
        assert {h.file_id for h in a} == {h.file_id for h in b}
    for name in ("notes.txt", "manual.pdf"):
        assert edge.file_chunks(STORE, "file-00") == client.file_chunks(STORE, "file-00"), name


@pytest.mark.parametrize("backend", BACKENDS)
def test_dense_windows_see_past_256_word_pieces(embedder, tmp_path, backend):
    """With two window vectors per chunk the dense side finds a fact in the chunk's second 200 tokens."""
    from retrieval import RetrievalConfig, Retriever

    url = None if backend == "edge" else ":memory:"
    filler = " ".join(["The committee reviewed the budget and the meeting schedule."] * 25)  # ~250 tokens
    path = tmp_path / "w.txt"
    path.write_text(filler + " The lighthouse on Gull Island was painted crimson in 1911. " + filler)
    found = {}
    for windows in (1, 2):
        r = Retriever(
            RetrievalConfig(data_dir=tmp_path / f"w{windows}", qdrant_url=url, dense_windows=windows),
            embedder=embedder,
        )
        try:
            r.ingest_file("vs_w", "f", path, "w.txt")
            (hit,) = r.search(["vs_w"], "What color is the Gull Island lighthouse?", mode="dense")
            found[windows] = hit.score
        finally:
            r.close()
    assert found[2] > found[1] + 0.1


@pytest.mark.parametrize("backend", BACKENDS)
def test_store_keeps_its_dense_layout(embedder, tmp_path, backend):
    """Changing `dense_windows` later affects new stores only; old stores keep working."""
    from retrieval import RetrievalConfig, Retriever

    data = tmp_path / "layout"
    url = None if backend == "edge" else f"file://{data}/local-qdrant"
    path = tmp_path / "t.txt"
    path.write_text("Foxes dig dens in sandy soil near the river.")
    for windows, store in ((1, "vs_old"), (2, "vs_new"), (1, "vs_new2")):
        r = Retriever(
            RetrievalConfig(data_dir=data, qdrant_url=url, dense_windows=windows), embedder=embedder
        )
        try:
            for s in ("vs_old", store):
                r.ingest_file(s, f"f-{windows}", path, "t.txt")
                hits = r.search([s], "where do foxes live", mode="dense")
                # vs_old holds the same text under every file id: equal scores, in any order
                assert f"f-{windows}" in [h.file_id for h in hits if h.score == hits[0].score]
            assert r.index.multivector("vs_old") is False
            if store != "vs_old":
                assert r.index.multivector("vs_new") is True
        finally:
            r.close()


def test_edge_shards_cache_payloads_and_search_on_one_thread_old_ones_too(embedder, tmp_path):
    """New shards and shards an older assistd made (Edge's defaults) get the latency settings."""
    import json

    import qdrant_edge as q

    from retrieval import RetrievalConfig, Retriever
    from retrieval.index.base import DENSE, SPARSE

    data = tmp_path / "edge-settings"
    old = data / "edge" / "vs_old"
    shard = q.EdgeShard.create(  # the config assistd wrote before these settings
        str(old),
        q.EdgeConfig(
            vectors={DENSE: q.EdgeVectorParams(size=embedder.dimension, distance=q.Distance.Cosine)},
            sparse_vectors={SPARSE: q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)},
        ),
    )
    shard.close()
    before = json.loads((old / "edge_config.json").read_text())
    assert "payload_memory" not in before and "max_search_threads" not in before  # Edge's defaults
    path = tmp_path / "otters.txt"
    path.write_text("Sea otters hold hands while they sleep so that they do not drift apart.")
    retriever = Retriever(RetrievalConfig(data_dir=data), embedder=embedder)
    try:
        for store in ("vs_old", "vs_new"):
            retriever.ingest_file(store, "f", path, path.name)
            assert retriever.search([store], "why do otters hold hands")[0].file_id == "f"
    finally:
        retriever.close()
    for store in ("vs_old", "vs_new"):
        config = json.loads((data / "edge" / store / "edge_config.json").read_text())
        assert (config["payload_memory"], config["max_search_threads"]) == ("cached", 1), store
