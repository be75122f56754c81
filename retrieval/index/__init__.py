"""The vector index: one narrow interface, two Qdrant backends.

- `EdgeIndex` (`edge.py`): embedded Qdrant Edge shards under a data directory (the default), which
  `SharedIndex` (`shared.py`) opens in one process and serves to the others on that directory.
- `ServerIndex` (`server.py`): qdrant-client against a Qdrant server (or qdrant-client's local mode).

Each vector store is its own shard/collection, so a search is scoped to a store without a filter and
deleting a store drops its index. A point is one chunk: a dense vector `dense` (or a multivector of
windows), a BM25 sparse vector `bm25` with Qdrant's IDF modifier, and the payload
`{file_id, filename, chunk_index, page, text, attributes}`.
"""

from retrieval.index.base import Index, IndexHit, IndexPoint, open_index

__all__ = ["Index", "IndexHit", "IndexPoint", "open_index"]
