"""The `Index` interface the backends implement, its value types, and the helpers they share."""

import math
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from retrieval.keyword import Sparse

DENSE, SPARSE = "dense", "bm25"
_NAMESPACE = uuid.UUID("6f1c2a9e-4b7d-4c1e-9a55-0d3b8e2f7a10")


def point_id(file_id: str, chunk_index: int) -> str:
    """Deterministic point id: the same chunk of the same file always lands on the same point."""
    return str(uuid.uuid5(_NAMESPACE, f"{file_id}:{chunk_index}"))


def store_key(store_id: str) -> str:
    """A store id made safe for a directory or collection name."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", store_id)


@dataclass
class IndexPoint:
    id: str
    dense: list  # one vector, or a list of window vectors when the index is multivector
    sparse: Sparse | None
    payload: dict


Given = tuple[list[str], object]  # (point ids, the vector to score them on), for `Index.score`


@dataclass
class IndexHit:
    id: str
    score: float
    store_id: str = ""


def asked(dense, sparse: Sparse | None, multivector: bool) -> dict:
    """The vectors a search asks about, by name: the dense one as floats (as a one-vector multivector
    in a `multivector` store), the sparse one if it has terms."""
    vectors = {}
    if dense is not None:
        vectors[DENSE] = [list(map(float, dense))] if multivector else list(map(float, dense))
    if sparse is not None and sparse.indices:
        vectors[SPARSE] = sparse
    return vectors


def index_hits(store_id: str, points) -> list[IndexHit]:
    """A backend's scored points as `IndexHit`s."""
    return [IndexHit(str(p.id), float(p.score), store_id) for p in points]


def batch_hits(store_id: str, usings, results) -> tuple[list[IndexHit], list[IndexHit]]:
    """(dense hits, keyword hits) from a batch's lists of scored points, asked in `usings` order."""
    hits = {using: index_hits(store_id, points) for using, points in zip(usings, results, strict=True)}
    return hits.get(DENSE, []), hits.get(SPARSE, [])


def scoring(dense, sparse, multivector: bool) -> list[tuple[str, object, list[str]]]:
    """(vector name, vector, point ids) for each vector a `score` call gives points to score on."""
    vectors = asked(dense[1] if dense else None, sparse[1] if sparse else None, multivector)
    ids = {DENSE: dense[0] if dense else [], SPARSE: sparse[0] if sparse else []}
    return [(name, vector, list(ids[name])) for name, vector in vectors.items() if ids[name]]


class Frequencies:
    """Document frequencies of terms, found by probing the keyword index and kept per store until
    its point count changes (or `forget`, on a write).

    `probe(store_id, terms)` returns, for each term, None when no point holds it, else (score,
    weight) of the point that scores highest on that term alone: the IDF-weighted score and the
    term's stored BM25 weight there, so IDF = score / weight, from which the frequency follows.
    """

    LIMIT = 100_000  # terms kept per store

    def __init__(self, probe: Callable[[str, list[int]], list[tuple[float, float] | None]]):
        self._probe = probe
        self._stores: dict[str, tuple[int, dict[int, int]]] = {}
        self._lock = threading.Lock()

    def get(self, store_id: str, points: int, terms: list[int]) -> list[int]:
        with self._lock:
            known_points, known = self._stores.get(store_id, (points, {}))
            if known_points != points or len(known) > self.LIMIT:
                known = {}
            self._stores[store_id] = (points, known)
            missing = [t for t in dict.fromkeys(terms) if t not in known]
        if missing:
            found = dict(zip(missing, self._probe(store_id, missing), strict=True))
            with self._lock:
                known.update({t: _frequency(points, hit) for t, hit in found.items()})
        return [known[t] for t in terms]

    def forget(self, store_id: str) -> None:
        with self._lock:
            self._stores.pop(store_id, None)


def probed(point, term: int) -> tuple[float, float]:
    """A probe's answer from the point scoring highest on `term` alone (returned with its sparse
    vector): (its score, the term's stored weight in it)."""
    vector = point.vector[SPARSE]
    return float(point.score), vector.values[vector.indices.index(term)]


def _frequency(points: int, hit: tuple[float, float] | None) -> int:
    """Invert the IDF that Qdrant applies, ln(1 + (N - n + 0.5) / (n + 0.5)), for n."""
    if hit is None or hit[1] <= 0:
        return 0
    idf = hit[0] / hit[1]
    return min(points, max(1, round((points + 1) * math.exp(-idf) - 0.5)))


class Index(Protocol):
    """Per-store point storage and the two nearest-neighbour queries hybrid search needs."""

    def multivector(self, store_id: str) -> bool:
        """Whether the store keeps several dense vectors per point (fixed when it is created)."""
        ...

    def upsert(self, store_id: str, points: list[IndexPoint]) -> None: ...

    def search(
        self, store_id: str, limit: int, filter=None, *, dense=None, sparse: Sparse | None = None
    ) -> tuple[list[IndexHit], list[IndexHit]]:
        """The `limit` points nearest to the dense vector and to the sparse (keyword) one, asked
        together in one batch; a list is empty when its vector is not given."""
        ...

    def score(
        self, store_id: str, *, dense: Given | None = None, sparse: Given | None = None
    ) -> tuple[list[IndexHit], list[IndexHit]]:
        """Given points scored without a search: `dense` (point ids, dense vector) by cosine and
        `sparse` (point ids, `Sparse`) by BM25, asked together in one batch: (dense hits, keyword
        hits). A point sharing no term with the sparse vector is left out (its score is 0)."""
        ...

    def frequencies(self, store_id: str, terms: list[int]) -> tuple[int, list[int]]:
        """(points in the store, how many of them hold each term): the statistics of the keyword
        side's IDF, as its BM25 scores weigh them."""
        ...

    def payloads(self, store_id: str, ids: list[str]) -> dict[str, dict]: ...

    def file_points(self, store_id: str, file_id: str) -> list[dict]: ...

    def set_attributes(self, store_id: str, file_id: str, attributes: dict) -> None: ...

    def delete_file(self, store_id: str, file_id: str) -> None: ...

    def delete_store(self, store_id: str) -> None: ...

    def has_store(self, store_id: str) -> bool: ...

    def count(self, store_id: str) -> int: ...

    def flush(self, store_id: str) -> None: ...

    def close(self) -> None: ...
