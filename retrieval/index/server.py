"""Server backend: qdrant-client, one collection `assistd_<store>` per vector store.

Used when `qdrant_url` is set. `:memory:` and `file:///path` select qdrant-client's local mode,
which speaks the same client API; the tests run the congruence suite against it.
"""

import threading
import warnings
from types import SimpleNamespace

from qdrant_client import QdrantClient, models

from retrieval.filters import payload_fields, to_qdrant
from retrieval.index.base import (
    DENSE,
    SPARSE,
    Frequencies,
    Given,
    IndexHit,
    IndexPoint,
    asked,
    batch_hits,
    probed,
    scoring,
    store_key,
)
from retrieval.keyword import Sparse

MODELS = SimpleNamespace(
    Filter=models.Filter,
    FieldCondition=models.FieldCondition,
    MatchValue=models.MatchValue,
    Range=models.Range,
)
PREFIX = "assistd_"


def _file_filter(file_id: str) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(key="file_id", match=models.MatchValue(value=file_id))])


class ServerIndex:
    def __init__(self, client: QdrantClient, dimension: int, windows: int = 1, *, local: bool = False):
        self.client, self.dimension, self.windows, self.local = client, dimension, windows, local
        self._known: set[str] = set()
        self._multi: dict[str, bool] = {}
        # qdrant-client's local mode is not thread-safe; a server is, but one lock keeps both alike.
        self._lock = threading.RLock() if local else _NoLock()
        self._frequencies = Frequencies(self._probe)

    @classmethod
    def from_url(cls, url: str, dimension: int, windows: int = 1) -> "ServerIndex":
        if url == ":memory:":
            return cls(QdrantClient(location=":memory:"), dimension, windows, local=True)
        if url.startswith("file://"):
            return cls(QdrantClient(path=url[len("file://") :]), dimension, windows, local=True)
        return cls(QdrantClient(url=url), dimension, windows)

    def _name(self, store_id: str) -> str:
        return PREFIX + store_key(store_id)

    def has_store(self, store_id: str) -> bool:
        name = self._name(store_id)
        if name in self._known:
            return True
        with self._lock:
            exists = self.client.collection_exists(name)
        if exists:
            self._known.add(name)
        return exists

    def multivector(self, store_id: str) -> bool:
        """Whether the store's dense vector is a multivector; for a new store, what it will be."""
        if store_id not in self._multi:
            if not self.has_store(store_id):
                return self.windows > 1
            with self._lock:
                vectors = self.client.get_collection(self._name(store_id)).config.params.vectors
            self._multi[store_id] = vectors[DENSE].multivector_config is not None
        return self._multi[store_id]

    def _ensure(self, store_id: str) -> str:
        name = self._name(store_id)
        if self.has_store(store_id):
            return name
        multi = (
            models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
            if self.windows > 1
            else None
        )
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # local mode warns that payload indexes have no effect
            if not self.client.collection_exists(name):
                self.client.create_collection(
                    name,
                    vectors_config={
                        DENSE: models.VectorParams(
                            size=self.dimension, distance=models.Distance.COSINE, multivector_config=multi
                        )
                    },
                    sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
                )
                self.client.create_payload_index(name, "file_id", models.PayloadSchemaType.KEYWORD)
        self._known.add(name)
        return name

    # Writes

    def upsert(self, store_id: str, points: list[IndexPoint]) -> None:
        if not points:
            return
        name = self._ensure(store_id)
        structs, multi = [], self.multivector(store_id)
        for p in points:
            dense = [list(map(float, v)) for v in p.dense] if multi else list(map(float, p.dense))
            vector = {DENSE: dense}
            if p.sparse is not None and p.sparse.indices:
                vector[SPARSE] = models.SparseVector(indices=p.sparse.indices, values=p.sparse.values)
            structs.append(models.PointStruct(id=p.id, vector=vector, payload=p.payload))
        with self._lock:
            self.client.upsert(name, structs, wait=True)
        self._frequencies.forget(store_id)

    def delete_file(self, store_id: str, file_id: str) -> None:
        if self.has_store(store_id):
            with self._lock:
                self.client.delete(
                    self._name(store_id), models.FilterSelector(filter=_file_filter(file_id)), wait=True
                )
            self._frequencies.forget(store_id)

    def set_attributes(self, store_id: str, file_id: str, attributes: dict) -> None:
        if self.has_store(store_id):
            with self._lock:
                self.client.set_payload(
                    self._name(store_id), payload_fields(attributes), points=_file_filter(file_id), wait=True
                )

    def delete_store(self, store_id: str) -> None:
        name = self._name(store_id)
        with self._lock:
            self._known.discard(name)
            self._multi.pop(store_id, None)
            if self.client.collection_exists(name):
                self.client.delete_collection(name)
        self._frequencies.forget(store_id)

    def flush(self, store_id: str) -> None:
        pass  # the server persists on its own; local mode writes through

    def close(self) -> None:
        with self._lock:
            self.client.close()

    # Reads

    def search(
        self, store_id: str, limit: int, filter=None, *, dense=None, sparse: Sparse | None = None
    ) -> tuple[list[IndexHit], list[IndexHit]]:
        vectors = asked(dense, sparse, self.multivector(store_id)) if self.has_store(store_id) else {}
        if not vectors:
            return [], []
        where = to_qdrant(filter, MODELS) if filter is not None else None
        results = self._query(store_id, [(using, vector, limit, where) for using, vector in vectors.items()])
        return batch_hits(store_id, vectors, results)

    def score(
        self, store_id: str, *, dense: Given | None = None, sparse: Given | None = None
    ) -> tuple[list[IndexHit], list[IndexHit]]:
        asks = [
            (name, vector, len(ids), models.Filter(must=[models.HasIdCondition(has_id=ids)]))
            for name, vector, ids in scoring(dense, sparse, self.multivector(store_id))
        ]
        results = self._query(store_id, asks) if asks and self.has_store(store_id) else [[]] * len(asks)
        return batch_hits(store_id, [a[0] for a in asks], results)

    def frequencies(self, store_id: str, terms: list[int]) -> tuple[int, list[int]]:
        if not self.has_store(store_id):
            return 0, [0] * len(terms)
        with self._lock:
            points = self.client.count(self._name(store_id), exact=False).count
        return points, self._frequencies.get(store_id, points, terms) if points else [0] * len(terms)

    def _probe(self, store_id: str, terms: list[int]) -> list[tuple[float, float] | None]:
        requests = [
            models.QueryRequest(
                query=models.SparseVector(indices=[t], values=[1.0]),
                using=SPARSE,
                limit=1,
                with_payload=False,
                with_vector=[SPARSE],
            )
            for t in terms
        ]
        with self._lock:
            results = self.client.query_batch_points(self._name(store_id), requests=requests)
        return [probed(r.points[0], t) if r.points else None for t, r in zip(terms, results, strict=True)]

    def _query(self, store_id: str, asks: list[tuple]) -> list[list]:
        """One batch of nearest-neighbour queries, one per (vector name, vector, limit, filter)."""
        requests = [
            models.QueryRequest(
                query=models.SparseVector(indices=vector.indices, values=vector.values)
                if name == SPARSE
                else vector,
                using=name,
                limit=limit,
                filter=where,
                with_payload=False,
            )
            for name, vector, limit, where in asks
        ]
        with self._lock:
            results = self.client.query_batch_points(self._name(store_id), requests=requests)
        return [result.points for result in results]

    def payloads(self, store_id: str, ids: list[str]) -> dict[str, dict]:
        if not ids or not self.has_store(store_id):
            return {}
        with self._lock:
            records = self.client.retrieve(
                self._name(store_id), list(ids), with_payload=True, with_vectors=False
            )
        return {str(r.id): r.payload or {} for r in records}

    def file_points(self, store_id: str, file_id: str) -> list[dict]:
        if not self.has_store(store_id):
            return []
        out, offset = [], None
        while True:
            with self._lock:
                records, offset = self.client.scroll(
                    self._name(store_id),
                    scroll_filter=_file_filter(file_id),
                    limit=256,
                    offset=offset,
                    with_payload=True,
                )
            out.extend(r.payload or {} for r in records)
            if offset is None:
                return out

    def count(self, store_id: str) -> int:
        if not self.has_store(store_id):
            return 0
        with self._lock:
            return self.client.count(self._name(store_id), exact=True).count


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
