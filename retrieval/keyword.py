"""Keyword side of hybrid search: BM25 sparse vectors over a chunk's whole text.

Documents get term-frequency weights with BM25's (k, b, avg_len) saturation; queries get weight 1 per
unique term. The IDF factor is applied by Qdrant (sparse vector with the IDF modifier), so it is
computed per store (one collection per store) and stays current as files come and go. Tokenising,
English stop words and Snowball stemming come from Qdrant's own BM25 (`qdrant_edge.Bm25`), so both
backends index exactly the same vectors.

`exact` picks out a query's names and codes: words with a digit or a capital letter that are not stop
words, such as `HX-440`, `Lisbon`, `SPECTRA-2` (or a capitalised first word). A chunk holding them
literally is what a query for an exact fact asks for (`retrieval.search` ranks it first).
`rewrite` is the deterministic `rewrite_query`: the query's words without stop words or punctuation.
"""

import re
from dataclasses import dataclass

AVG_LEN = 450.0  # words in an 800-token chunk after stop words, roughly
WORD = re.compile(r"\w(?:[\w.'/-]*\w)?")


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

    def exact(self, text: str) -> list[Sparse]:
        """One sparse vector (its terms, weight 1) per name or code in the query."""
        named = [w for w in WORD.findall(text) if any(c.isdigit() or c.isupper() for c in w)]
        return [terms for terms in map(self.query, named) if terms.indices]  # a stop word has none

    def rewrite(self, text: str) -> str:
        """The query as keywords: its words that are not stop words, in order, each once."""
        words = [w for w in WORD.findall(text) if self.query(w).indices]
        return " ".join(dict.fromkeys(words)) or text.strip()
