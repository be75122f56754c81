"""Hybrid search: dense and keyword candidate lists fused with reciprocal rank fusion (RRF).

For every query string and every store the index returns the top `candidates` points by cosine
similarity (dense) and by BM25 (sparse, IDF from the store). Lists are merged across stores by their
raw scores, then fused: `rrf(p) = sum over lists of w / (k + rank)`. The reported score is that sum
divided by its maximum (first in every list), so it lies in 0..1, 1.0 meaning "ranked first by both"
and 0.5 "first in one list, absent from the other"; `score_threshold` applies to it. Modes `dense` and
`keyword` (for the benchmark) rank by one list alone: cosine clipped to 0..1, or BM25 divided by the
best BM25 score. Candidate lists carry ids and scores only; the facade fetches the payloads of the
final hits.
"""

from collections.abc import Callable
from dataclasses import dataclass

from retrieval.index import IndexHit

MODES = ("hybrid", "dense", "keyword")


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


def rrf(lists: list[list[IndexHit]], k: int = 60, weights: list[float] | None = None) -> list[Ranked]:
    """Reciprocal rank fusion of ranked lists; scores normalised to 0..1."""
    weights = weights or [1.0] * len(lists)
    scores: dict[str, float] = {}
    hits: dict[str, IndexHit] = {}
    for weight, ranked in zip(weights, lists, strict=True):
        for rank, hit in enumerate(ranked, 1):  # `merge` left one hit per id in each list
            scores[hit.id] = scores.get(hit.id, 0.0) + weight / (k + rank)
            hits.setdefault(hit.id, hit)
    top = sum(weights) / (k + 1)
    out = [Ranked(hits[i], s / top) for i, s in scores.items()]
    out.sort(key=lambda r: -r.score)
    return out


def hybrid(
    dense: list[list[IndexHit]], keyword: list[list[IndexHit]], mode: str = "hybrid", k: int = 60
) -> list[Ranked]:
    """Fuse per-query dense and keyword lists (each already merged across stores)."""
    if mode == "dense":
        return _single(dense, lambda h, top: max(0.0, min(1.0, h.score)), k)
    if mode == "keyword":
        return _single(keyword, lambda h, top: h.score / top if top > 0 else 0.0, k)
    return rrf([*dense, *keyword], k)


def _single(lists: list[list[IndexHit]], score: Callable, k: int) -> list[Ranked]:
    if len(lists) == 1:
        hits = lists[0]
        top = hits[0].score if hits else 0.0
        return [Ranked(h, score(h, top)) for h in hits]
    return rrf(lists, k)  # several query strings: fuse them by rank
