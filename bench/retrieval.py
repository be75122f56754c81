"""Retrieval benchmark: throughput, search latency and quality of the `retrieval` package, in one run.

    python -m bench.retrieval              # everything, then the HTTP API figures (bench/retrieval_api.py)
    python -m bench.retrieval --no-api     # the package only
    python -m bench.retrieval --quick      # smaller sizes, for a smoke run
    python -m bench.retrieval --quality-only  # [4] alone, both evaluations (~5 min)

1. Bare embedding throughput: sequences/s of the sentence-transformers model on 800-token chunks
   (the model reads their first 256 word pieces), batch 32, in bfloat16 and float32 (`auto`, the
   default, takes bfloat16 only where the CPU computes it natively).
2. End-to-end ingestion: `Retriever.ingest_file` on synthetic text documents with the default `auto`
   chunking (800 tokens, 400 overlap), parse -> chunk -> embed -> BM25 -> upsert -> flush (searchable);
   chunks/s and its ratio to the bare figure (default dtype) measured right before on the same chunks.
3. Search latency, p50/p95 of `Retriever.search` (query embedding + dense and BM25 queries + fusion),
   beside the bare index query time (one dense nearest-neighbour query with a precomputed vector).
   10k chunks are ingested for real (100-token chunks, to keep the fill short); 100k chunks are
   SYNTHESISED: the real embeddings of 1000 synthetic texts plus Gaussian noise (renormalised),
   BM25 vectors of synthetic text, upserted straight into the index (no embedding), then optimised
   (HNSW built).
4. Quality on the labelled set `bench/data/retrieval_qa.json` (8 invented handbooks, 40 queries, each
   labelled with an answer string; a chunk is relevant when it contains it): recall@5 (share of
   queries with a relevant chunk in the top 5) and nDCG@10 (binary gains) of dense-only, keyword-only,
   hybrid (relative score fusion, the default) and hybrid-rrf (reciprocal rank fusion), with one dense
   vector per chunk (first 256 word pieces, the default) and with 2 or 4 consecutive 200-token window
   vectors per chunk (Qdrant multivector, MaxSim; 2 windows cover every token once under auto
   chunking, 4 cover each whole chunk). "tail" queries are those whose answer lies beyond the first
   256 word pieces of every chunk that holds it: what one vector never sees. Then the same queries
   over 8 other layouts of the handbooks (`make_retrieval_qa.build(seed)`: other filler, positions
   and chunk boundaries), so that one layout's luck does not decide between the rankings.
   Then the second, independent evaluation (`bench/retrieval_facts.py`): top-1 accuracy on exact
   facts (codes, figures, names, rare words) hidden in long documents of all 8 formats, under the
   same rankings, so that no ranking is chosen on one set alone: on the development build (the
   rankings were studied on it and on the labelled set) and on a held-out build that no choice
   looked at (the result). Each hybrid ranking comes twice: with every candidate scored on both
   sides and the query's names looked up (the default; see `retrieval.search` and
   `retrieval.literal`) and `-1side` (ranker `none`: the two lists fused as they come).

The machine has 2 cores shared with other work: timings are noisy.
"""

import argparse
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from retrieval import RetrievalConfig, Retriever  # noqa: E402
from retrieval.chunk import chunk_segments  # noqa: E402
from retrieval.embed import Embedder, resolve_dtype  # noqa: E402
from retrieval.index.base import IndexPoint, point_id  # noqa: E402
from retrieval.parse import Segment  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "retrieval_qa.json"
SHIPPED_SEED = 7  # the layout of DATA (`make_retrieval_qa.build()`'s default)
WORDS = (
    "river mountain engine protocol harvest lantern quantum ledger violin harbor glacier orbit canyon "
    "algorithm festival copper meadow compiler voyage thunder archive pigment bakery circuit nebula "
    "senate tundra vaccine sculpture turbine manuscript reef caravan polymer orchard telescope dialect "
    "monsoon pharmacy cathedral satellite prairie granite bicycle symphony volcano plankton spreadsheet "
    "the a of and to in is was for on with as by at from that this which it be are"
).split()


def synthetic_text(rng: random.Random, words: int) -> str:
    out = []
    while len(out) < words:
        sentence = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
        out.extend(sentence)
        out[-1] += "."
    return " ".join(out)


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


# 1 + 2: throughput


def bare_embedding(embedder: Embedder, texts: list[str]) -> float:
    embedder.encode(texts[:8])
    started = time.perf_counter()
    embedder.encode(texts)
    return len(texts) / (time.perf_counter() - started)


def ingestion(embedder: Embedder, root: Path, docs: int, tokens_per_doc: int) -> dict:
    rng = random.Random(0)
    paths = []
    for n in range(docs):
        path = root / f"doc{n}.txt"
        path.write_text(synthetic_text(rng, int(tokens_per_doc / 1.3)))
        paths.append(path)
    chunks = [c.text for p in paths for c in chunk_segments([Segment(p.read_text())], 800, 400)]
    retriever = Retriever(RetrievalConfig(data_dir=root / "vectors"), embedder=embedder)
    try:
        warm = root / "warm.txt"
        warm.write_text(synthetic_text(rng, 300))
        retriever.ingest_file("vs_warm", "warm", warm)
        bare = bare_embedding(embedder, chunks)
        started = time.perf_counter()
        total = sum(retriever.ingest_file("vs_ingest", f"f{n}", p).chunks for n, p in enumerate(paths))
        seconds = time.perf_counter() - started
        hits = retriever.search(["vs_ingest"], "harbor glacier orbit")
        assert hits, "nothing searchable after ingestion"
    finally:
        retriever.close()
    return {"chunks": total, "seconds": seconds, "chunks_per_s": total / seconds, "bare_per_s": bare}


# 3: latency


def latency(retriever: Retriever, store: str, queries: list[str], vectors: np.ndarray) -> dict:
    index = retriever.index
    for text in queries[:5]:
        retriever.search([store], text, max_num_results=10)
    full, bare = [], []
    for text in queries:
        started = time.perf_counter()
        hits = retriever.search([store], text, max_num_results=10)
        full.append(time.perf_counter() - started)
        assert hits
    for vector in vectors:
        started = time.perf_counter()
        index.search(store, 10, dense=vector)
        bare.append(time.perf_counter() - started)
    embed = []
    for text in queries[:50]:
        started = time.perf_counter()
        retriever.embedder.encode([text])
        embed.append(time.perf_counter() - started)
    (p50, p95), (b50, b95), (e50, _) = percentiles(full), percentiles(bare), percentiles(embed)
    return {
        "p50_ms": p50,
        "p95_ms": p95,
        "bare_p50_ms": b50,
        "bare_p95_ms": b95,
        "embed_p50_ms": e50,
        "points": index.count(store),
    }


def fill_real(retriever: Retriever, root: Path, chunks: int) -> int:
    """Ingest about `chunks` 100-token chunks for real; returns how many."""
    rng = random.Random(1)
    per_doc, strategy = (
        50,
        {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}},
    )
    total, n = 0, 0
    while total < chunks:
        path = root / f"fill{n}.txt"
        path.write_text(synthetic_text(rng, int(100 * per_doc / 1.3)))
        total += retriever.ingest_file("vs_10k", f"fill{n}", path, chunking_strategy=strategy).chunks
        n += 1
    return total


def fill_synthetic(
    retriever: Retriever, store: str, chunks: int, base: np.ndarray, file_id: str | None = None
) -> None:
    """Upsert `chunks` synthetic points: noisy copies of `base` (real embeddings of synthetic text),
    BM25 vectors of fresh synthetic text; no embedding. Points belong to made-up files of 50 chunks,
    or all to `file_id` (after its real chunks) when given."""
    rng, nrng = random.Random(2), np.random.default_rng(2)
    index, keywords = retriever.index, retriever.keywords
    for start in range(0, chunks, 1000):
        count = min(1000, chunks - start)
        picks = base[nrng.integers(0, len(base), count)]
        vectors = picks + nrng.normal(0, 0.03, picks.shape).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        points = []
        for i, vector in enumerate(vectors):
            text = synthetic_text(rng, 75)
            points.append(
                IndexPoint(
                    point_id(file_id or "synthetic", 10_000_000 + start + i),
                    vector,
                    keywords.document(text),
                    {
                        "file_id": file_id or f"syn{(start + i) // 50}",
                        "filename": "synthetic.txt",
                        "chunk_index": 10_000_000 + start + i if file_id else (start + i) % 50,
                        "page": None,
                        "text": text,
                        "attributes": {},
                        "attribute_flags": {},
                    },
                )
            )
        index.upsert(store, points)
    index.flush(store)


def search_figures(embedder: Embedder, root: Path, sizes: tuple[int, int], queries: int) -> list[dict]:
    retriever = Retriever(RetrievalConfig(data_dir=root / "latency"), embedder=embedder)
    rng = random.Random(3)
    texts = [" ".join(rng.choice(WORDS[:48]) for _ in range(rng.randint(3, 8))) for _ in range(queries)]
    query_vectors = embedder.encode(texts)
    out = []
    try:
        started = time.perf_counter()
        real = fill_real(retriever, root, sizes[0])
        fill_seconds = time.perf_counter() - started
        result = latency(retriever, "vs_10k", texts, query_vectors)
        result.update(kind="real embeddings", fill_s=fill_seconds, chunks=real)
        out.append(result)
        base = embedder.encode([synthetic_text(rng, 75) for _ in range(1000)])
        started = time.perf_counter()
        fill_synthetic(retriever, "vs_100k", sizes[1], base)
        result = latency(retriever, "vs_100k", texts, query_vectors)
        result.update(kind="SYNTHESISED vectors", fill_s=time.perf_counter() - started, chunks=sizes[1])
        out.append(result)
    finally:
        retriever.close()
    return out


# 4: quality

RANKINGS = (  # (label, search mode, fusion, both sides scored)
    ("dense", "dense", "relative", True),  # one list alone: the fusion does not matter
    ("keyword", "keyword", "relative", True),
    ("hybrid", "hybrid", "relative", True),
    ("hybrid-rrf", "hybrid", "rrf", True),
    ("hybrid-1side", "hybrid", "relative", False),
    ("hybrid-rrf-1side", "hybrid", "rrf", False),
)


def quality(embedder: Embedder, root: Path, windows: int, data: dict) -> dict:
    retriever = Retriever(
        RetrievalConfig(data_dir=tempfile.mkdtemp(dir=root), dense_windows=windows),
        embedder=embedder,
    )
    try:
        files = {}
        for n, doc in enumerate(data["documents"]):
            path = root / doc["name"]
            path.write_text(doc["text"])
            files[doc["name"]] = f"doc{n}"
            retriever.ingest_file("vs_qa", f"doc{n}", path, doc["name"])
        chunks = {name: retriever.file_chunks("vs_qa", file_id) for name, file_id in files.items()}
        tail = _tail_queries(data, chunks, embedder)
        out = {}
        for label, mode, fusion, rescore in RANKINGS:
            retriever.config.fusion = fusion
            recalls, ndcgs, tail_recalls, kinds = [], [], [], {}
            for q in data["queries"]:
                hits = retriever.search(["vs_qa"], q["query"], max_num_results=10, mode=mode, rescore=rescore)
                gains = [1.0 if q["answer"] in h.text else 0.0 for h in hits]
                relevant = sum(q["answer"] in c for c in chunks[q["document"]])
                recall = 1.0 if any(gains[:5]) else 0.0
                dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
                ideal = sum(1 / math.log2(i + 2) for i in range(min(relevant, 10)))
                recalls.append(recall)
                ndcgs.append(dcg / ideal if ideal else 0.0)
                if q["query"] in tail:
                    tail_recalls.append(recall)
                kinds.setdefault(q["kind"], []).append(recall)
            out[label] = {
                "recall@5": statistics.mean(recalls),
                "ndcg@10": statistics.mean(ndcgs),
                "tail_recall@5": statistics.mean(tail_recalls) if tail_recalls else float("nan"),
                **{f"{k}_recall@5": statistics.mean(v) for k, v in kinds.items()},
            }
        out["tail_queries"] = len(tail)
        out["queries"] = len(data["queries"])
        return out
    finally:
        retriever.close()


def _tail_queries(data: dict, chunks: dict[str, list[str]], embedder: Embedder) -> set[str]:
    """Queries whose answer is in no chunk's first 256 word pieces (what one dense vector sees)."""
    tokenizer, limit = embedder.model.tokenizer, embedder.max_seq_length - 2
    tail = set()
    for q in data["queries"]:
        seen = False
        for chunk in chunks[q["document"]]:
            if q["answer"] in chunk:
                ids = tokenizer(chunk, add_special_tokens=False, truncation=True, max_length=limit)[
                    "input_ids"
                ]
                seen = seen or q["answer"].lower() in tokenizer.decode(ids).lower()
        if not seen:
            tail.add(q["query"])
    return tail


def layouts(embedder: Embedder, root: Path, seeds: list[int]) -> None:
    """The same facts and queries in other seeded layouts (positions, filler, chunk boundaries)."""
    from bench.data.make_retrieval_qa import build

    rows = {label: [] for label, *_ in RANKINGS}
    for seed in seeds:
        q = quality(embedder, root, 1, build(seed))
        for label in rows:
            rows[label].append((q[label]["recall@5"], q[label]["ndcg@10"]))
    single = [max(d[1], k[1]) for d, k in zip(rows["dense"], rows["keyword"], strict=True)]
    for label, values in rows.items():
        recall, ndcg = statistics.mean(v[0] for v in values), statistics.mean(v[1] for v in values)
        line = f"      {label:<10} recall@5 {recall:.3f}  nDCG@10 {ndcg:.3f}"
        if label.startswith("hybrid"):
            margin = min(v[1] - s for v, s in zip(values, single, strict=True))
            line += f"  | minus the better single side's nDCG@10, worst layout: {margin:+.3f}"
        print(line)


# Report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--no-api", action="store_true", help="skip the HTTP API figures")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the data directory (~400 MB)")
    parser.add_argument("--quality-only", action="store_true", help="only [4], the quality figures")
    args = parser.parse_args(argv)
    sizes = (1000, 5000) if args.quick else (10_000, 100_000)
    docs = 4 if args.quick else 40  # ~760 chunks: a batch's fixed latency (last poll...) weighs ~2%
    root = Path(tempfile.mkdtemp(prefix="assistd-bench-retrieval-"))
    print(f"retrieval benchmark (2 shared cores, timings are noisy); data under {root}")
    try:
        run(args, root, sizes, docs)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def run(args, root: Path, sizes: tuple[int, int], docs: int) -> None:
    embedder = Embedder(dtype=resolve_dtype("auto"))  # the dtype the server uses on this CPU
    if not args.quality_only:
        speed(args, embedder, root, sizes, docs)
    report_quality(args, embedder, root)
    if not (args.no_api or args.quality_only):
        api(args, embedder, sizes, docs)


def speed(args, embedder: Embedder, root: Path, sizes: tuple[int, int], docs: int) -> None:
    other = Embedder(dtype="float32" if embedder.dtype == "bfloat16" else "bfloat16")
    rng = random.Random(9)
    sample = [c.text for c in chunk_segments([Segment(synthetic_text(rng, 10000))], 800, 400)][:64]
    rates = {embedder.dtype: bare_embedding(embedder, sample)}
    rates[other.dtype] = bare_embedding(other, sample[:16])
    del other
    print(
        f"\n[1] bare embedding, 800-token chunks (model reads 256 word pieces), batch 32:\n"
        f"    bfloat16 {rates['bfloat16']:.1f} seq/s   float32 {rates['float32']:.1f} seq/s"
        f"   (default `auto` on this CPU: {embedder.dtype})"
    )

    ing = ingestion(embedder, root, docs, 8000)
    print(
        f"\n[2] end-to-end ingestion (parse -> searchable), {docs} x 8000-token text files, auto chunking:\n"
        f"    {ing['chunks']} chunks in {ing['seconds']:.1f} s = {ing['chunks_per_s']:.1f} chunks/s; "
        f"bare {embedder.dtype} on the same chunks just before: {ing['bare_per_s']:.1f} seq/s; "
        f"ratio {ing['chunks_per_s'] / ing['bare_per_s']:.0%}"
    )

    print(
        f"\n[3] search latency, {args.queries} queries of 3-8 words, max_num_results=10, "
        "embedded Qdrant Edge:"
    )
    for r in search_figures(embedder, root, sizes, args.queries):
        print(
            f"    {r['points']:>7} chunks ({r['kind']}, filled in {r['fill_s']:.0f} s): "
            f"search p50 {r['p50_ms']:.1f} ms,"
            f" p95 {r['p95_ms']:.1f} ms | bare index query p50 {r['bare_p50_ms']:.2f} ms, p95 "
            f"{r['bare_p95_ms']:.2f} ms | query embedding p50 {r['embed_p50_ms']:.1f} ms"
        )


def report_quality(args, embedder: Embedder, root: Path) -> None:
    print("\n[4] quality on bench/data/retrieval_qa.json:")
    data = json.loads(DATA.read_text())
    for windows in (1, 2, 4):
        q = quality(embedder, root, windows, data)
        label = (
            "1 dense vector/chunk (first 256 word pieces) [default]"
            if windows == 1
            else f"{windows} window vectors/chunk (200-token windows, multivector MaxSim, "
            f"{windows}x embedding cost)"
        )
        print(
            f"    {label}; {q['queries']} queries, {q['tail_queries']} with the answer past word piece 256:"
        )
        for name, *_ in RANKINGS:
            m = q[name]
            print(
                f"      {name:<10} recall@5 {m['recall@5']:.3f}  nDCG@10 {m['ndcg@10']:.3f}  "
                f"| recall@5 on tail {m['tail_recall@5']:.3f}, paraphrase {m['paraphrase_recall@5']:.3f}, "
                f"keyword-style {m['keyword_recall@5']:.3f}"
            )
    seeds = [s for s in range(1, 4 if args.quick else 10) if s != SHIPPED_SEED]
    print(
        f"    the same queries over {len(seeds)} other layouts of the handbooks "
        f"(make_retrieval_qa.build(seed), seeds {seeds}), 1 dense vector/chunk, means:"
    )
    layouts(embedder, root, seeds)
    from bench import retrieval_facts

    retrieval_facts.report(embedder, root, RANKINGS)


def api(args, embedder: Embedder, sizes: tuple[int, int], docs: int) -> None:
    print("\n[5] through the HTTP API (bench/retrieval_api.py, a real `assistd serve`):")
    try:
        from bench import retrieval_api

        server = retrieval_api.start_server()
        try:
            retrieval_api.ingest_throughput(server, docs=docs, tokens_per_doc=8000, embedder=embedder)
            retrieval_api.search_latency_at(server, sizes[0], queries=args.queries)
        finally:
            server.stop()
        retrieval_api.search_latency_synthetic(sizes[1], queries=args.queries)
    except Exception as exc:  # the API bench belongs to another package; report, don't hide our figures
        print(f"    API benchmark failed: {exc!r}")


if __name__ == "__main__":
    main()
