"""Literal evidence for the names in a query: the words the embedding model cannot read.

A query may name something by a word outside the embedding model's vocabulary: an invented name, a
code, a rare term (`Barvenlis`, `E-4821`). The dense side then reads it as a few word pieces that
carry no meaning, and prefers any text on the query's subject (a page about guest wifi in general
over the one chunk that gives the wifi password at the Barvenlis office). The keyword side matches
the word, but BM25 ranks a short text that repeats the query's other words above a long chunk that
holds all of them once. Only the literal presence of that word tells the chunks about that thing
from the others, so a query's *names* decide first: its words the embedding model does not hold
whole (`Embedder.whole_words`) that fewer chunks of the store hold than a search's candidate depth
(a word most chunks hold names nothing in particular). Words the model knows (`rate`, `Earth`) are
left to the similarity of both sides, however rare in the store.

The chunks holding a name join the candidates, and the ranking is, in order:

1. how many of the query's names a chunk holds;
2. how much of the query the chunk states around a name: the IDF-weighted share of the query's
   terms found within `NEAR` words of an occurrence of one (a sentence's reach). The sentence that
   answers the question holds the name with the question's words; a chunk that mentions the name in
   passing, or holds the question's words elsewhere, states less. The dense side cannot tell them
   apart when the sentence lies past the 256 word pieces it reads of a chunk;
3. the fused similarity of both sides (`retrieval.search`).

A chunk's score is then `(names held + share) / (names + 1)` (`names`: those some candidate holds),
and a chunk holding none scores `fused / (names + 1)`: still in 0..1, ordered as above (chunks equal
on 1 and 2 share a score and are ordered by 3), and 1.0 means "holds every name, with the whole
query around one".
"""

from dataclasses import dataclass, field

from retrieval.keyword import TOKEN, KeywordEncoder, words
from retrieval.search import Ranked

NEAR = 10  # words on either side of a name that count as stated with it


@dataclass
class Query:
    """What the literal ranking needs of one query string in one store: its terms' IDF, its names,
    and for each candidate holding one, the names held and the share of the query stated there."""

    idf: dict[int, float]
    names: dict[int, str]  # term -> the word the query spells it with, lower case
    held: dict[str, set[int]] = field(default_factory=dict)
    shares: dict[str, float] = field(default_factory=dict)


def names(
    keywords: KeywordEncoder, text: str, whole: list[bool], df: dict[int, int], depth: int
) -> dict[int, str]:
    """`text`'s names, {term: word}: its words not held whole by the embedding model (`whole`, one
    per word of `words(text)`) that some but fewer than `depth` points of the store hold (`df`)."""
    found = {}
    for word, known in zip(words(text), whole, strict=True):
        term = keywords.term(word)
        if not known and term is not None and 0 < df.get(term, 0) < depth:
            found.setdefault(term, word.lower())
    return found


def share(keywords: KeywordEncoder, text: str, query: Query, held: set[int]) -> float:
    """The largest IDF-weighted share of the query's terms found within `NEAR` words of one of the
    names `held` in `text` (0 when none occurs). Occurrences spelled as in the query are found by
    a plain text search and only the words around them are read; a chunk holding a name only in
    another spelling of the same term (another inflection) is read whole."""
    total = sum(query.idf.values())
    if total <= 0:
        return 0.0
    low = text.lower()
    spelled = [_near(low, at, len(query.names[t])) for t in held for at in _spelled(low, query.names[t])]
    if spelled:
        around = [{keywords.term(w) for w in near} for near in spelled]
    else:  # the name only in another spelling of its term: read the whole text
        terms = [keywords.term(w) for w in words(low)]
        around = [set(terms[max(0, at - NEAR) : at + NEAR + 1]) for at, t in enumerate(terms) if t in held]
    return max((sum(w for t, w in query.idf.items() if t in a) for a in around), default=0.0) / total


def _spelled(text: str, word: str):
    """Where `word` starts a word of `text`."""
    at = text.find(word)
    while at >= 0:
        end = at + len(word)
        if (at == 0 or not text[at - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
            yield at
        at = text.find(word, at + 1)


def _near(text: str, at: int, length: int) -> list[str]:
    """The word at `at` (`length` characters) and the `NEAR` words on either side."""
    reach = 40 * NEAR  # characters that hold NEAR words, however long
    return (
        TOKEN.findall(text, max(0, at - reach), at)[-NEAR:]
        + TOKEN.findall(text, at, at + length + reach)[: NEAR + 1]
    )


def rank(ranked: list[Ranked], queries: list[Query]) -> list[Ranked]:
    """`ranked` (fused, best first) ordered by names held, then share, then fused score, and scored
    as the module says; unchanged when no candidate holds a name."""
    held: dict[str, set[int]] = {}
    shares: dict[str, float] = {}
    for query in queries:
        for point, terms in query.held.items():
            held.setdefault(point, set()).update(terms)
            shares[point] = max(shares.get(point, 0.0), query.shares.get(point, 0.0))
    count = len(set().union(*held.values())) if held else 0
    if not count:
        return ranked
    order = {r.hit.id: n for n, r in enumerate(ranked)}
    for r in ranked:
        points = held.get(r.hit.id)
        r.score = (len(points) + shares[r.hit.id] if points else r.score) / (count + 1)
    ranked.sort(key=lambda r: (-r.score, order[r.hit.id]))
    return ranked
