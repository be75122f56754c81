"""Hybrid search: dense and keyword candidate lists fused into one ranking.

For every query string and every store the index returns the top `candidates` points by cosine
similarity (dense) and by BM25 (sparse, IDF from the store). Then every candidate is scored on the
side that did not find it (`Index.score`: a keyword-only candidate gets its real cosine, a
dense-only one its real BM25), so that a passage only one side found is not scored 0 by the other,
and a candidate's BM25 becomes a share of the query's own BM25 score: the sum of its terms' IDF,
what a chunk holding each term once at the average length scores (clipped at 1). A list's best is
not a yardstick: a keyword list whose best chunk matched one common word of the query is worth
little, and the share says so. Lists are merged across stores, then fused by one of two methods
(`FUSIONS`):

- `relative` (default), relative score fusion: a point's score is the (weighted) mean over the lists
  of its cosine divided by the list's best cosine (clipped at 0) and of its keyword share. Unlike
  ranks, the scores keep the margins: a rare identifier puts its chunk far ahead in BM25 while a
  dense list runs flat. 1.0 means "the best cosine, and at least the query's own BM25 score".
- `rrf`, reciprocal rank fusion: `sum over lists of weight / (k + rank)`, divided by its maximum
  (first in every list) to lie in 0..1 as well.

Then the query's names (words the embedding model cannot read, few chunks hold) decide before the
fused score: `retrieval.literal`. `bench/retrieval.py` prints both evaluations (the labelled set and
the exact facts) for each ranking.

Ranker `none` skips all of that: the two lists are fused as they come, each divided by its best
(a candidate absent from a list counts 0 there). `score_threshold` applies to the final score.
Modes `dense` and `keyword` (for the benchmark) rank by one side alone: cosine clipped to 0..1, or
BM25 divided by the best BM25 score; several query strings are fused as above. Candidate lists
carry ids and scores only; the facade fetches the payloads of the final hits.
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


def relative(
    lists: list[list[IndexHit]], weights: list[float] | None = None, scales: list[float | None] | None = None
) -> list[Ranked]:
    """Relative score fusion: the (weighted) mean over lists of each score divided by its list's
    scale, clipped to 0..1; a list's scale is its best score unless `scales` gives one."""
    weights = weights or [1.0] * len(lists)
    scales = scales or [None] * len(lists)
    total = sum(weights)
    scores: dict[str, float] = {}
    hits: dict[str, IndexHit] = {}
    for ranked, weight, scale in zip(lists, weights, scales, strict=True):
        top = max((h.score for h in ranked), default=0.0) if scale is None else scale
        for hit in ranked:  # `merge` left one hit per id in each list
            share = min(max(hit.score, 0.0) / top, 1.0) if top > 0 else 0.0
            scores[hit.id] = scores.get(hit.id, 0.0) + share * weight / total
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
    shares: bool = False,
) -> list[Ranked]:
    """Fuse per-query dense and keyword lists (each already merged across stores); `weights` are
    the (dense, keyword) sides' shares of a hybrid score. `shares`: the keyword lists hold each
    candidate's BM25 as a share of its query's own score (`Retriever` rescoring), kept as they are
    (clipped at 1) instead of divided by the list's best."""
    if mode == "dense" and len(dense) == 1:
        return [Ranked(h, max(0.0, min(1.0, h.score))) for h in dense[0]]
    if mode == "keyword" and len(keyword) == 1:
        return relative(keyword)
    if mode != "hybrid":
        return relative(dense if mode == "dense" else keyword)
    lists, each = [*dense, *keyword], [weights[0]] * len(dense) + [weights[1]] * len(keyword)
    if fusion == "rrf":
        return rrf(lists, k, each)
    return relative(lists, each, [None] * len(dense) + [1.0 if shares else None] * len(keyword))


def _ranked(hits: dict[str, IndexHit], scores: dict[str, float]) -> list[Ranked]:
    out = [Ranked(hits[i], s) for i, s in scores.items()]
    out.sort(key=lambda r: -r.score)
    return out
