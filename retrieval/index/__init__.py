"""The vector index: one narrow interface, two Qdrant backends, and `open_index` to choose one.

- `EdgeIndex` (`edge.py`): embedded Qdrant Edge shards under a data directory (the default), which
  `SharedIndex` (`shared.py`) opens in one process and serves to the others on that directory.
- `ServerIndex` (`server.py`): qdrant-client against a Qdrant server (or qdrant-client's local mode).

Each vector store is its own shard/collection, so a search is scoped to a store without a filter and
deleting a store drops its index. A point is one chunk: a dense vector `dense` (or a multivector of
windows), a BM25 sparse vector `bm25` with Qdrant's IDF modifier, and the payload
`{file_id, filename, chunk_index, page, text, attributes}`.
"""

from pathlib import Path

from retrieval.index.base import Index, IndexHit, IndexPoint

__all__ = ["Index", "IndexHit", "IndexPoint", "open_index"]


def open_index(qdrant_url: str | None, data_dir: Path, dimension: int, windows: int = 1) -> Index:
    """Qdrant Edge under `data_dir/edge`, shared by the processes on `data_dir`, unless `qdrant_url`
    names a server (or `:memory:`/`file://`)."""
    if not qdrant_url:
        from retrieval.index.edge import EdgeIndex
        from retrieval.index.shared import SharedIndex

        return SharedIndex(data_dir, lambda: EdgeIndex(Path(data_dir) / "edge", dimension, windows))
    from retrieval.index.server import ServerIndex

    return ServerIndex.from_url(qdrant_url, dimension, windows)
