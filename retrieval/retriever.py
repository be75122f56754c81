"""`Retriever`: the synchronous facade the runtime calls (from worker threads).

Pipeline per file: parse -> chunk (cl100k) -> embed (dense, batched) + BM25 (sparse) -> upsert into
the store's index. A file ingested again replaces its previous points. Search embeds the query, asks
the index for dense and keyword candidates in every store, scores each on the side that did not find
it, looks up the chunks holding the query's names, and ranks them all (`retrieval.search`,
`retrieval.literal`).
"""

import logging
import threading
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from retrieval import literal
from retrieval.chunk import chunk_segments, validate_chunking, windows
from retrieval.config import RetrievalConfig
from retrieval.embed import Embedder
from retrieval.errors import RetrievalError
from retrieval.filters import parse_filter, payload_fields
from retrieval.index import Index, IndexHit, IndexPoint, open_index
from retrieval.index.base import point_id
from retrieval.keyword import KeywordEncoder, Sparse, idf, words
from retrieval.parse import parse_file
from retrieval.search import MODES, hybrid, merge

log = logging.getLogger("assistd.retrieval")


@dataclass
class IngestResult:
    chunks: int
    bytes: int


@dataclass
class Hit:
    file_id: str
    filename: str
    score: float
    text: str
    attributes: dict = field(default_factory=dict)
    page: int | None = None
    chunk_index: int = 0


class Retriever:
    """Ingests files into per-store indexes and searches them. Thread-safe; call `close()` at the end."""

    def __init__(
        self,
        config: RetrievalConfig | None = None,
        *,
        index: Index | None = None,
        embedder: Embedder | None = None,
    ):
        self.config = config or RetrievalConfig()
        self._owns_embedder = embedder is None
        self.embedder = embedder or Embedder(
            self.config.embedding_model, self.config.embedding_dtype, self.config.embedding_batch
        )
        self.keywords = KeywordEncoder()
        self._index = index
        self._lock = threading.Lock()

    @property
    def index(self) -> Index:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = open_index(
                        self.config.qdrant_url,
                        self.config.data_dir,
                        self.embedder.dimension,
                        self.config.dense_windows,
                    )
        return self._index

    @property
    def search_thread(self) -> Executor | None:
        """The thread to call `search` on once the embedding model has loaded (None before): the
        query embedding then runs there inline, without a hand-off to its thread and back."""
        return self.embedder.query_thread

    # Ingestion

    def ingest_file(
        self,
        store_id: str,
        file_id: str,
        path: Path | str,
        filename: str | None = None,
        *,
        chunking_strategy: dict | None = None,
        attributes: dict | None = None,
    ) -> IngestResult:
        """Parse, chunk, embed and index one file; raises ParseError/ChunkingError for bad input."""
        size, overlap = validate_chunking(chunking_strategy)
        filename = filename or Path(path).name
        segments = parse_file(path, filename)
        chunks = chunk_segments(segments, size, overlap)
        index = self.index
        index.delete_file(store_id, file_id)
        batch = max(1, self.config.embedding_batch)
        count = max(2, self.config.dense_windows) if index.multivector(store_id) else 1
        try:
            for start in range(0, len(chunks), batch):
                part = chunks[start : start + batch]
                dense = self._embed_chunks(part, count)
                points = [
                    IndexPoint(
                        point_id(file_id, c.index),
                        vector,
                        self.keywords.document(c.text),
                        {
                            "file_id": file_id,
                            "filename": filename,
                            "chunk_index": c.index,
                            "page": c.page,
                            "text": c.text,
                            **payload_fields(attributes or {}),
                        },
                    )
                    for c, vector in zip(part, dense, strict=True)
                ]
                index.upsert(store_id, points)
            index.flush(store_id)
        except BaseException:
            try:
                index.delete_file(store_id, file_id)
            except Exception as exc:  # keep the original error
                log.warning("could not remove partial points of %s: %r", file_id, exc)
            raise
        return IngestResult(len(chunks), sum(len(s.text.encode()) for s in segments))

    def _embed_chunks(self, chunks, count: int) -> list:
        """One vector per chunk, or a list of `count` window vectors per chunk."""
        if count <= 1:
            return list(self.embedder.encode([c.text for c in chunks]))
        texts = [windows(c, count) for c in chunks]
        flat = self.embedder.encode([t for group in texts for t in group])
        out, at = [], 0
        for group in texts:
            out.append(list(flat[at : at + len(group)]))
            at += len(group)
        return out

    # Search

    def search(
        self,
        store_ids: list[str] | str,
        query: str | list[str],
        max_num_results: int = 20,
        score_threshold: float = 0.0,
        filters: dict | None = None,
        *,
        mode: str = "hybrid",
        rescore: bool = True,
        weights: tuple[float, float] = (1.0, 1.0),
    ) -> list[Hit]:
        """Best hits first, scores in 0..1; raises FilterError for a malformed filter.

        `rescore`: score every candidate on both sides and rank the query's names first (see
        `retrieval.search` and `retrieval.literal`); False fuses the two candidate lists as they
        come. `weights`: the (dense, keyword) shares of a hybrid score."""
        if isinstance(store_ids, str):
            store_ids = [store_ids]
        if (
            isinstance(max_num_results, bool)
            or not isinstance(max_num_results, int)
            or not 1 <= max_num_results <= 50
        ):
            raise RetrievalError(f"max_num_results must be between 1 and 50, not {max_num_results!r}.")
        if mode not in MODES:
            raise RetrievalError(f"mode must be one of {MODES}, not {mode!r}.")
        if len(weights) != 2 or min(weights) < 0 or not sum(weights) > 0:
            raise RetrievalError(f"weights must be two numbers >= 0, not both 0, not {weights!r}.")
        node = parse_filter(filters) if filters is not None else None
        queries = [query] if isinstance(query, str) else [q for q in query if isinstance(q, str)]
        queries = [q for q in queries if q.strip()]
        if not queries or not store_ids:
            return []
        limit = max(self.config.candidates, max_num_results)
        rescore = rescore and mode == "hybrid"
        dense_lists, keyword_lists, evidence = [], [], []
        vectors = self.embedder.encode(queries) if mode != "keyword" else [None] * len(queries)
        for text, vector in zip(queries, vectors, strict=True):
            sparse = self.keywords.query(text) if mode != "dense" else None
            found = [self.index.search(s, limit, node, dense=vector, sparse=sparse) for s in store_ids]
            if rescore:
                whole = self.embedder.whole_words(words(text))
                found = [
                    self._rescored(s, hits, text, whole, vector, sparse, limit, node)
                    for s, hits in zip(store_ids, found, strict=True)
                ]
                evidence += [f[2] for f in found]
            if mode != "keyword":
                dense_lists.append(merge([f[0] for f in found]))
            if mode != "dense":
                keyword_lists.append(merge([f[1] for f in found]))
        fusion, k = self.config.fusion, self.config.rrf_k
        ranked = hybrid(dense_lists, keyword_lists, mode, fusion, k, weights, shares=rescore)
        ranked = literal.rank(ranked, evidence) if rescore else ranked
        top = [r for r in ranked if r.score >= score_threshold][:max_num_results]
        return self._hits(top)

    def _rescored(self, store_id, found, text, whole, vector, sparse, limit, node) -> tuple:
        """One store's (dense, keyword) candidates for one query string, with the chunks holding the
        query's names added, each scored on both sides (a keyword-only one gets its cosine, a
        dense-only one its BM25); keyword scores as shares of the query's own BM25 score (the sum of
        its terms' IDF); and the query's `literal.Query` evidence."""
        index, (dense, keyword) = self.index, found
        points, frequencies = index.frequencies(store_id, sparse.indices)
        df = dict(zip(sparse.indices, frequencies, strict=True))
        names = literal.names(self.keywords, text, whole, df, limit)
        query = literal.Query({t: idf(points, n) for t, n in df.items()}, names)
        for term in query.names:
            for hit in index.search(store_id, limit, node, sparse=Sparse([term], [1.0]))[1]:
                query.held.setdefault(hit.id, set()).add(term)
        every = dict.fromkeys([*(h.id for h in dense), *(h.id for h in keyword), *query.held])
        in_dense, in_keyword = {h.id for h in dense}, {h.id for h in keyword}
        needs_dense = [i for i in every if i not in in_dense]
        # a keyword list shorter than the limit holds every point that has a term of the query
        needs_keyword = [i for i in every if i not in in_keyword] if len(keyword) >= limit else []
        more_dense, more_keyword = index.score(
            store_id, dense=(needs_dense, vector), sparse=(needs_keyword, sparse)
        )
        dense, keyword = dense + more_dense, keyword + more_keyword
        total = sum(query.idf.values())
        keyword = [IndexHit(h.id, h.score / total, store_id) for h in keyword] if total > 0 else []
        if query.held:
            texts = index.payloads(store_id, list(query.held))
            query.shares = {
                i: literal.share(self.keywords, texts.get(i, {}).get("text", ""), query, terms)
                for i, terms in query.held.items()
            }
        return dense, keyword, query

    def rewrite_query(self, text: str) -> str:
        """`rewrite_query`: the query's words without stop words or punctuation (see `keyword`)."""
        return self.keywords.rewrite(text)

    def _hits(self, ranked) -> list[Hit]:
        """Fetch payloads for the final hits only (candidate lists carry ids and scores)."""
        wanted: dict[str, list[str]] = {}
        for r in ranked:
            wanted.setdefault(r.hit.store_id, []).append(r.hit.id)
        payloads = {}
        for store_id, ids in wanted.items():
            payloads.update({(store_id, i): p for i, p in self.index.payloads(store_id, ids).items()})
        hits = []
        for r in ranked:
            p = payloads.get((r.hit.store_id, r.hit.id))
            if p is None:  # deleted between the query and the fetch
                continue
            hits.append(
                Hit(
                    p.get("file_id", ""),
                    p.get("filename", ""),
                    round(r.score, 6),
                    p.get("text", ""),
                    dict(p.get("attributes") or {}),
                    p.get("page"),
                    int(p.get("chunk_index", 0)),
                )
            )
        return hits

    # Maintenance

    def file_chunks(self, store_id: str, file_id: str) -> list[str]:
        """The file's chunk texts in order."""
        payloads = sorted(self.index.file_points(store_id, file_id), key=lambda p: p.get("chunk_index", 0))
        return [p.get("text", "") for p in payloads]

    def update_attributes(self, store_id: str, file_id: str, attributes: dict) -> None:
        self.index.set_attributes(store_id, file_id, dict(attributes or {}))

    def delete_file(self, store_id: str, file_id: str) -> None:
        self.index.delete_file(store_id, file_id)

    def delete_store(self, store_id: str) -> None:
        self.index.delete_store(store_id)

    def validate_chunking(self, strategy: dict | None) -> tuple[int, int]:
        return validate_chunking(strategy)

    def close(self) -> None:
        with self._lock:
            index, self._index = self._index, None
        if index is not None:
            index.close()
        if self._owns_embedder:
            self.embedder.close()
