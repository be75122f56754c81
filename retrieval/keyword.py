"""Keyword side of hybrid search: BM25 sparse vectors over a chunk's whole text.

Documents get term-frequency weights with BM25's (k, b, avg_len) saturation; queries get weight 1 per
unique term. The IDF factor is applied by Qdrant (sparse vector with the IDF modifier), so it is
computed per store (one collection per store) and stays current as files come and go; `idf` is the
same formula, for the statistics `Index.frequencies` reports. Tokenising, English stop words and
Snowball stemming come from Qdrant's own BM25 (`qdrant_edge.Bm25`), so both backends index exactly
the same vectors. `words` splits text as that tokenizer does, so that `term` maps each word of a
text to the term its vector holds (for a word's position in a passage).

`rewrite` is the deterministic `rewrite_query`: the query's words without stop words or punctuation.
"""

import math
import re
from dataclasses import dataclass

AVG_LEN = 450.0  # words in an 800-token chunk after stop words, roughly
WORD = re.compile(r"\w(?:[\w.'/-]*\w)?")
TOKEN = re.compile(r"[^\W_]+")  # what the BM25 tokenizer makes a word of: runs of letters and digits
TERMS_KEPT = 200_000  # `term` answers kept


@dataclass
class Sparse:
    indices: list[int]
    values: list[float]


def idf(points: int, frequency: int) -> float:
    """BM25's inverse document frequency as Qdrant applies it: ln(1 + (N - n + 0.5) / (n + 0.5))."""
    return math.log(1 + (points - frequency + 0.5) / (frequency + 0.5))


def words(text: str) -> list[str]:
    """The text's words as the BM25 tokenizer splits them (stop words included)."""
    return TOKEN.findall(text)


class KeywordEncoder:
    def __init__(self, avg_len: float = AVG_LEN):
        import qdrant_edge

        self._bm25 = qdrant_edge.Bm25(qdrant_edge.Bm25Config(language="english", avg_len=avg_len))
        self._terms: dict[str, int | None] = {}

    def document(self, text: str) -> Sparse:
        vector = self._bm25.embed_document(text)
        return Sparse(list(vector.indices), list(vector.values))

    def query(self, text: str) -> Sparse:
        vector = self._bm25.embed_query(text)
        return Sparse(list(vector.indices), list(vector.values))

    def term(self, word: str) -> int | None:
        """The term one word of `words` becomes (its stem's index), None for a stop word."""
        word = word.lower()
        found = self._terms.get(word, -1)
        if found == -1:
            if len(self._terms) > TERMS_KEPT:
                self._terms = {}
            indices = self._bm25.embed_query(word).indices
            found = self._terms[word] = indices[0] if indices else None
        return found

    def rewrite(self, text: str) -> str:
        """The query as keywords: its words that are not stop words, in order, each once."""
        found = [w for w in WORD.findall(text) if self.query(w).indices]
        return " ".join(dict.fromkeys(found)) or text.strip()
