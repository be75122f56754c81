"""Retrieval measured end to end through the HTTP API of a real `assistd serve` process.

    python -m bench.retrieval_api                      # ingestion throughput + search latency at 10k chunks
    python -m bench.retrieval_api --search-chunks 100000

- `ingest_throughput`: upload N synthetic documents, attach them as one file batch (default `auto`
  chunking: 800-token chunks, 400 overlap) and poll until the batch is done, as the SDK's
  `create_and_poll` does; chunks/s is the total number of chunks over the wall time from batch
  creation to completion seen by the client. Given an embedder, done
  twice, each time followed by the bare embedding of the same chunks, for the ratio of the two.
- `search_latency`: p50/p95 of `POST /v1/vector_stores/{id}/search` on a store holding `chunks` chunks,
  in steady state (after as many other queries, whose p50 is printed too: the cold figure).
  The store is filled through the API by ingesting documents (real embeddings); that is the slow part.

The functions are importable (`bench/retrieval.py` uses them) and each prints its figures.
"""

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.server import Server

WORDS = (
    "river mountain engine protocol harvest lantern quantum ledger violin harbor glacier orbit canyon "
    "algorithm festival copper meadow compiler voyage thunder archive pigment bakery circuit nebula "
    "senate tundra vaccine sculpture turbine manuscript reef caravan polymer orchard telescope dialect "
    "monsoon pharmacy cathedral satellite prairie granite bicycle symphony volcano plankton spreadsheet"
).split()
TOKENS_PER_WORD = 1.3  # rough cl100k tokens per synthetic word


def synthetic_document(rng: random.Random, tokens: int) -> str:
    words = int(tokens / TOKENS_PER_WORD)
    sentences, written = [], 0
    while written < words:
        length = rng.randint(8, 20)
        sentences.append(" ".join(rng.choice(WORDS) for _ in range(length)).capitalize() + ".")
        written += length
    return " ".join(sentences)


def start_server(data_dir: Path | None = None, env: dict | None = None) -> Server:
    data_dir = Path(data_dir or tempfile.mkdtemp(prefix="assistd-bench-")) / "data"
    return Server(data_dir, env=env).start(timeout=120)


def _wait_batch(http: httpx.Client, store_id: str, batch_id: str, timeout: float) -> dict:
    """Poll as the SDK's `file_batches.poll` does: every `openai-poll-after-ms` (the server's hint)."""
    deadline = time.monotonic() + timeout
    while True:
        response = http.get(f"/vector_stores/{store_id}/file_batches/{batch_id}").raise_for_status()
        batch = response.json()
        if batch["status"] != "in_progress":
            return batch
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"batch {batch_id} still in progress after {timeout} s: {batch['file_counts']}"
            )
        time.sleep(int(response.headers.get("openai-poll-after-ms", 1000)) / 1000)


def fill_store(
    server: Server,
    *,
    docs: int,
    tokens_per_doc: int,
    store_id: str | None = None,
    chunking_strategy: dict | None = None,
    seed: int = 0,
    timeout: float = 3600.0,
) -> dict:
    """Upload `docs` documents, ingest them as one batch; returns the batch, store id and timings."""
    rng = random.Random(seed)
    with httpx.Client(base_url=server.base_url, timeout=120) as http:
        if store_id is None:
            store_id = http.post("/vector_stores", json={"name": "bench"}).raise_for_status().json()["id"]
        file_ids = []
        for i in range(docs):
            text = synthetic_document(rng, tokens_per_doc)
            files = {"file": (f"doc{seed}-{i}.txt", text.encode())}
            file_ids.append(
                http.post("/files", files=files, data={"purpose": "assistants"})
                .raise_for_status()
                .json()["id"]
            )
        body: dict = {"file_ids": file_ids}
        if chunking_strategy:
            body["chunking_strategy"] = chunking_strategy
        started = time.perf_counter()
        batch = http.post(f"/vector_stores/{store_id}/file_batches", json=body).raise_for_status().json()
        batch = _wait_batch(http, store_id, batch["id"], timeout)
        seconds = time.perf_counter() - started
        texts = []
        for file_id in file_ids:
            content = http.get(f"/vector_stores/{store_id}/files/{file_id}/content").raise_for_status().json()
            texts += [part["text"] for part in content["data"]]
    return {
        "store_id": store_id,
        "file_ids": file_ids,
        "batch": batch,
        "files": docs,
        "chunks": len(texts),
        "texts": texts,
        "seconds": seconds,
    }


def ingest_throughput(server: Server, *, docs: int = 40, tokens_per_doc: int = 8000, embedder=None) -> dict:
    """End-to-end ingestion throughput in chunks/s (default chunking: 800-token chunks, 400 overlap).

    With an `embedder` (a `retrieval.embed.Embedder` like the server's), also its ratio to the bare
    embedding throughput of the same chunks. The machine's speed drifts from minute to minute, so the
    two are interleaved: API, bare, API again (a new store, the same documents), bare again; the
    ratio is of the two means.
    """
    from bench.retrieval import bare_embedding

    # First a small batch of the same documents: loads the model and warms its kernels for these
    # shapes, as the bare figure's warm-up does.
    fill_store(server, docs=2, tokens_per_doc=tokens_per_doc, seed=999)
    api, bare = [], []
    for _ in range(2 if embedder is not None else 1):
        result = fill_store(server, docs=docs, tokens_per_doc=tokens_per_doc)
        api.append(result["chunks"] / result["seconds"])
        if embedder is not None:
            bare.append(bare_embedding(embedder, result["texts"]))
    result["chunks_per_s"] = statistics.mean(api)
    failed = result["batch"]["file_counts"]["failed"]
    line = (
        f"ingestion: {result['files']} files, {result['chunks']} chunks in {result['seconds']:.1f} s; "
        f"{' / '.join(f'{r:.1f}' for r in api)} chunks/s (failed files: {failed})"
    )
    if bare:
        result["bare_per_s"] = statistics.mean(bare)
        line += (
            f"; bare embedding of the same chunks between and after: {' / '.join(f'{r:.1f}' for r in bare)}"
            f" seq/s; ratio {result['chunks_per_s'] / result['bare_per_s']:.0%}"
        )
    print(line)
    return result


def search_latency(
    server: Server, store_id: str, *, queries: int = 200, max_num_results: int = 10, seed: int = 1
) -> dict:
    """p50/p95 latency of `POST /v1/vector_stores/{id}/search`, sequential requests, in steady state.

    A server just started (or a store just filled) answers its first few hundred queries slower,
    while the pages of the index files it maps are touched for the first time. So `queries` other
    queries run first; their p50 is reported as `cold_p50_ms`, then the measured ones."""
    rng = random.Random(seed)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))) for _ in range(2 * queries)]
    timings = []
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        for text in texts:
            started = time.perf_counter()
            response = http.post(
                f"/vector_stores/{store_id}/search", json={"query": text, "max_num_results": max_num_results}
            )
            timings.append(time.perf_counter() - started)
            response.raise_for_status()
            assert response.json()["data"], "search returned nothing"
    cold, timings = timings[:queries], sorted(timings[queries:])
    return {
        "queries": queries,
        "p50_ms": statistics.median(timings) * 1000,
        "p95_ms": timings[int(0.95 * (len(timings) - 1))] * 1000,
        "cold_p50_ms": statistics.median(cold) * 1000,
    }


def search_latency_at(server: Server, chunks: int, *, queries: int = 200, chunk_tokens: int = 100) -> dict:
    """Build a store of about `chunks` chunks through the API, then measure search latency on it.

    Chunks are `chunk_tokens` tokens (static chunking, no overlap) so that filling the store costs
    less embedding time; the index holds the same number of vectors whatever the chunk length.
    """
    docs_per_batch, chunks_per_doc = 100, 20
    strategy = {
        "type": "static",
        "static": {"max_chunk_size_tokens": chunk_tokens, "chunk_overlap_tokens": 0},
    }
    store_id, total, seconds, seed = None, 0, 0.0, 100
    while total < chunks:
        docs = min(docs_per_batch, max(1, (chunks - total) // chunks_per_doc))
        filled = fill_store(
            server,
            docs=docs,
            tokens_per_doc=chunk_tokens * chunks_per_doc,
            store_id=store_id,
            chunking_strategy=strategy,
            seed=seed,
        )
        store_id, total, seconds, seed = (
            filled["store_id"],
            total + filled["chunks"],
            seconds + filled["seconds"],
            seed + 1,
        )
    result = search_latency(server, store_id, queries=queries)
    result.update(chunks=total, fill_seconds=seconds)
    print(
        f"search at {total} chunks (filled in {seconds:.0f} s): p50 {result['p50_ms']:.1f} ms, "
        f"p95 {result['p95_ms']:.1f} ms over {queries} queries (the {queries} before them: "
        f"p50 {result['cold_p50_ms']:.1f} ms)"
    )
    return result


def synthetic_store(chunks: int) -> dict:
    """A data directory holding a store of `chunks` SYNTHESISED points: {data_dir, store_id, chunks,
    fill_seconds}.

    Filling 100k chunks through the API would take about half an hour of embedding, so: a server
    ingests one real file into a store and stops; the store's embedded index then receives `chunks`
    synthetic points of that file (`bench.retrieval.fill_synthetic`: noisy copies of real embeddings,
    BM25 of synthetic text). A server started on the data directory answers searches on it.
    """
    from bench.retrieval import fill_synthetic, synthetic_text
    from retrieval import RetrievalConfig, Retriever

    data_dir = Path(tempfile.mkdtemp(prefix="assistd-bench-")) / "data"
    server = Server(data_dir).start(timeout=120)
    try:
        filled = fill_store(server, docs=1, tokens_per_doc=1000)
    finally:
        server.stop()
    started = time.perf_counter()
    retriever = Retriever(RetrievalConfig(data_dir=data_dir / "vectors"))
    try:
        rng = random.Random(5)
        base = retriever.embedder.encode([synthetic_text(rng, 75) for _ in range(1000)])
        fill_synthetic(retriever, filled["store_id"], chunks, base, file_id=filled["file_ids"][0])
        total = retriever.index.count(filled["store_id"])
    finally:
        retriever.close()
    seconds = time.perf_counter() - started
    return {"data_dir": data_dir, "store_id": filled["store_id"], "chunks": total, "fill_seconds": seconds}


def search_latency_synthetic(chunks: int, *, queries: int = 200) -> dict:
    """Search latency through the API on a store of `chunks` SYNTHESISED points (`synthetic_store`)."""
    store = synthetic_store(chunks)
    server = Server(store["data_dir"]).start(timeout=120)
    try:
        result = search_latency(server, store["store_id"], queries=queries)
    finally:
        server.stop()
    result.update(chunks=store["chunks"], fill_seconds=store["fill_seconds"])
    print(
        f"search at {store['chunks']} chunks (SYNTHESISED, filled in {store['fill_seconds']:.0f} s): "
        f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms over {queries} queries "
        f"(the {queries} before them: p50 {result['cold_p50_ms']:.1f} ms)"
    )
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=40, help="documents for the ingestion figure")
    parser.add_argument("--tokens-per-doc", type=int, default=8000)
    parser.add_argument(
        "--search-chunks",
        type=int,
        nargs="*",
        default=[10000],
        help="store sizes (in chunks) for the search figures",
    )
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    from retrieval.embed import Embedder

    server = start_server()
    try:
        ingest_throughput(server, docs=args.docs, tokens_per_doc=args.tokens_per_doc, embedder=Embedder())
        for chunks in args.search_chunks:
            search_latency_at(server, chunks, queries=args.queries)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
