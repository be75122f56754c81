"""Hybrid search: dense and keyword candidate lists fused into one ranking.

For every query string and every store the index returns the top `candidates` points by cosine
similarity (dense) and by BM25 (sparse, IDF from the store). Then every candidate is scored on both
sides (`Index.score`: a keyword-only candidate gets its real cosine, a dense-only one its real BM25),
so that a passage only one side found is not scored 0 by the other. Lists are merged across stores
by their raw scores, then fused by one of two methods (`FUSIONS`):

- `relative` (default), relative score fusion: each list's scores are divided by that list's best
  score (cosine clipped at 0 first), and a point's score is the (weighted) mean over all lists. So
  1.0 means "first in every list". Unlike ranks, the scores keep the margins: a rare identifier puts
  its chunk far ahead in BM25 while a dense list runs flat.
- `rrf`, reciprocal rank fusion: `sum over lists of weight / (k + rank)`, divided by its maximum
  (first in every list) to lie in 0..1 as well.

Then the query's names and codes (`KeywordEncoder.exact`: words with a digit or a capital letter)
decide first: a candidate's score becomes `(names it holds + fused score) / (names + 1)`, counting
the names some candidate holds. A chunk that holds the name a query asks about literally ranks above
one that only shares the question's wording, which both sides can prefer (a short overview of the
subject); the score stays in 0..1 and 1.0 still means "holds every name, first in every list".
`bench/retrieval.py` prints both evaluations (the labelled set and the exact facts) for each fusion.

Without the scoring on both sides (ranker `none`), a candidate absent from a list counts 0 there and
names are not looked at. `score_threshold` applies to the final score. Modes `dense` and `keyword`
(for the benchmark) rank by one side alone: cosine clipped to 0..1, or BM25 divided by the best BM25
score; several query strings are fused as above. Candidate lists carry ids and scores only; the
facade fetches the payloads of the final hits.
"""

from dataclasses import dataclass

from retrieval.index import IndexHit

MODES = ("hybrid", "dense", "keyword")
FUSIONS = ("relative", "rrf")


@dataclass
class Ranked:
    hit: IndexHit
    score: float


def merge(lists: list[list[IndexHit]]) -> list[IndexHit]:
    """One list from several (stores), best raw score first, each point id once."""
    best: dict[str, IndexHit] = {}
    for hits in lists:
        for hit in hits:
            if hit.id not in best or hit.score > best[hit.id].score:
                best[hit.id] = hit
    return sorted(best.values(), key=lambda h: -h.score)


def relative(lists: list[list[IndexHit]], weights: list[float] | None = None) -> list[Ranked]:
    """Relative score fusion: the (weighted) mean over lists of each score divided by its list's best."""
    weights = weights or [1.0] * len(lists)
    total = sum(weights)
    scores: dict[str, float] = {}
    hits: dict[str, IndexHit] = {}
    for ranked, weight in zip(lists, weights, strict=True):
        top = max((h.score for h in ranked), default=0.0)
        scale = weight / (top * total) if top > 0 else 0.0
        for hit in ranked:  # `merge` left one hit per id in each list
            scores[hit.id] = scores.get(hit.id, 0.0) + max(hit.score, 0.0) * scale
            hits.setdefault(hit.id, hit)
    return _ranked(hits, scores)


def rrf(lists: list[list[IndexHit]], k: int = 60, weights: list[float] | None = None) -> list[Ranked]:
    """(Weighted) reciprocal rank fusion of ranked lists; scores normalised to 0..1."""
    weights = weights or [1.0] * len(lists)
    scores: dict[str, float] = {}
    hits: dict[str, IndexHit] = {}
    for ranked, weight in zip(lists, weights, strict=True):
        for rank, hit in enumerate(ranked, 1):
            scores[hit.id] = scores.get(hit.id, 0.0) + weight / (k + rank)
            hits.setdefault(hit.id, hit)
    top = sum(weights) / (k + 1)
    return _ranked(hits, {i: s / top for i, s in scores.items()})


def hybrid(
    dense: list[list[IndexHit]],
    keyword: list[list[IndexHit]],
    mode: str = "hybrid",
    fusion: str = "relative",
    k: int = 60,
    weights: tuple[float, float] = (1.0, 1.0),
    exact: list[set[str]] = (),
) -> list[Ranked]:
    """Fuse per-query dense and keyword lists (each already merged across stores); `weights` are
    the (dense, keyword) sides' shares of a hybrid score; `exact` holds, for each name or code of
    the queries found in some candidate, the ids of the candidates holding it."""
    if mode == "dense" and len(dense) == 1:
        return [Ranked(h, max(0.0, min(1.0, h.score))) for h in dense[0]]
    if mode == "keyword" and len(keyword) == 1:
        return relative(keyword)
    if mode != "hybrid":
        lists, each = dense if mode == "dense" else keyword, None
    else:
        lists, each = [*dense, *keyword], [weights[0]] * len(dense) + [weights[1]] * len(keyword)
    ranked = rrf(lists, k, each) if fusion == "rrf" else relative(lists, each)
    if not exact:
        return ranked
    for r in ranked:  # (names and codes held + fused score) / (names and codes + 1)
        r.score = (sum(r.hit.id in ids for ids in exact) + r.score) / (len(exact) + 1)
    ranked.sort(key=lambda r: -r.score)
    return ranked


def _ranked(hits: dict[str, IndexHit], scores: dict[str, float]) -> list[Ranked]:
    out = [Ranked(hits[i], s) for i, s in scores.items()]
    out.sort(key=lambda r: -r.score)
    return out
