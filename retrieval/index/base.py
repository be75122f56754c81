"""The `Index` interface both backends implement, its value types, and `open_index`."""

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
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


def batch_hits(store_id: str, usings, results) -> tuple[list[IndexHit], list[IndexHit]]:
    """(dense hits, keyword hits) from a batch's lists of scored points, asked in `usings` order."""
    hits = {
        using: [IndexHit(str(p.id), float(p.score), store_id) for p in points]
        for using, points in zip(usings, results, strict=True)
    }
    return hits.get(DENSE, []), hits.get(SPARSE, [])


def scored(dense, sparse: list[Sparse], multivector: bool) -> list[tuple[str, object]]:
    """(vector name, vector) for each vector a `score` call asks about: the dense one if given,
    then every sparse one, with or without terms (a list is kept for each)."""
    asks = [(DENSE, asked(dense, None, multivector)[DENSE])] if dense is not None else []
    return asks + [(SPARSE, s) for s in sparse]


def score_hits(store_id: str, has_dense: bool, results) -> tuple[list[IndexHit], list[list[IndexHit]]]:
    """(dense hits, sparse hit lists) from a `score` batch's lists of scored points."""
    lists = [[IndexHit(str(p.id), float(p.score), store_id) for p in points] for points in results]
    return (lists[0], lists[1:]) if has_dense else ([], lists)


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
        self, store_id: str, ids: list[str], *, dense=None, sparse: list[Sparse] = ()
    ) -> tuple[list[IndexHit], list[list[IndexHit]]]:
        """The points `ids` scored against the dense vector and against each sparse vector, asked
        together in one batch: (dense hits, one list per sparse vector). A point sharing no term
        with a sparse vector is left out of its list (its score is 0)."""
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


def open_index(qdrant_url: str | None, data_dir: Path, dimension: int, windows: int = 1) -> Index:
    """Qdrant Edge under `data_dir/edge` unless `qdrant_url` names a server (or `:memory:`/`file://`)."""
    if not qdrant_url:
        from retrieval.index.edge import EdgeIndex

        return EdgeIndex(Path(data_dir) / "edge", dimension, windows)
    from retrieval.index.server import ServerIndex

    return ServerIndex.from_url(qdrant_url, dimension, windows)
