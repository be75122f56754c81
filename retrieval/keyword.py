"""Keyword side of hybrid search: BM25 sparse vectors over a chunk's whole text.

Documents get term-frequency weights with BM25's (k, b, avg_len) saturation; queries get weight 1 per
unique term. The IDF factor is applied by Qdrant (sparse vector with the IDF modifier), so it is
computed per store (one collection per store) and stays current as files come and go. Tokenising,
English stop words and Snowball stemming come from Qdrant's own BM25 (`qdrant_edge.Bm25`), so both
backends index exactly the same vectors.
"""

from dataclasses import dataclass

AVG_LEN = 450.0  # words in an 800-token chunk after stop words, roughly


@dataclass
class Sparse:
    indices: list[int]
    values: list[float]


class KeywordEncoder:
    def __init__(self, avg_len: float = AVG_LEN):
        import qdrant_edge

        self._bm25 = qdrant_edge.Bm25(qdrant_edge.Bm25Config(language="english", avg_len=avg_len))

    def document(self, text: str) -> Sparse:
        vector = self._bm25.embed_document(text)
        return Sparse(list(vector.indices), list(vector.values))

    def query(self, text: str) -> Sparse:
        vector = self._bm25.embed_query(text)
        return Sparse(list(vector.indices), list(vector.values))
