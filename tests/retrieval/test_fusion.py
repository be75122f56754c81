"""How hybrid search fuses its dense and keyword lists: relative score fusion (the default) and RRF."""

import pytest

import retrieval
from retrieval.index import IndexHit
from retrieval.search import hybrid


def hits(*pairs):
    return [IndexHit(i, s) for i, s in pairs]


# A rare identifier: BM25 puts chunk "code" far ahead; the dense side runs flat and prefers others.
DENSE = hits(("a", 0.62), ("b", 0.61), ("c", 0.60), ("code", 0.59))
KEYWORD = hits(("code", 12.0), ("a", 2.0), ("b", 1.9), ("c", 1.8))


def ranking(fusion):
    return [(r.hit.id, round(r.score, 3)) for r in hybrid([DENSE], [KEYWORD], "hybrid", fusion)]


def test_relative_fusion_keeps_the_score_margins():
    ranked = ranking("relative")
    assert ranked[0] == ("code", round((0.59 / 0.62 + 1) / 2, 3))
    assert [i for i, _ in ranked] == ["code", "a", "b", "c"]
    # reciprocal ranks see "a" second and first, "code" fourth and first: "a" wins
    assert ranking("rrf")[0][0] == "a"


def test_fused_scores_are_shares_of_first_everywhere():
    both = hits(("x", 0.8), ("y", 0.4))
    only_dense = hits(("x", 5.0))  # "y" shares no word with the query
    for fusion in ("relative", "rrf"):
        ranked = hybrid([both], [only_dense], "hybrid", fusion)
        assert ranked[0].hit.id == "x" and ranked[0].score == pytest.approx(1.0)
        assert 0 < ranked[1].score < 0.5
    # first in one list, absent from the other: half
    (first, _second) = hybrid([hits(("x", 0.9))], [hits(("z", 3.0))], "hybrid", "relative")
    assert first.score == pytest.approx(0.5)
    # negative cosines count as 0, never below
    ranked = hybrid([hits(("x", 0.2), ("n", -0.1))], [[]], "hybrid", "relative")
    assert [r.score for r in ranked] == pytest.approx([0.5, 0.0])


def test_several_query_strings_are_averaged():
    ranked = hybrid([DENSE, DENSE], [KEYWORD, hits(("b", 4.0))], "hybrid", "relative")
    scores = {r.hit.id: r.score for r in ranked}
    assert scores["b"] == pytest.approx((0.61 / 0.62 * 2 + 1.9 / 12 + 1) / 4)
    assert max(scores.values()) <= 1.0


def test_fusion_setting(monkeypatch, tmp_path):
    assert retrieval.RetrievalConfig(data_dir=tmp_path).fusion == "relative"
    monkeypatch.setenv("ASSISTD_FUSION", "rrf")
    assert retrieval.RetrievalConfig(data_dir=tmp_path).fusion == "rrf"
    with pytest.raises(ValueError, match="fusion must be 'relative' or 'rrf', not 'linear'"):
        retrieval.RetrievalConfig(data_dir=tmp_path, fusion="linear")


def test_weights_are_each_sides_share_of_the_score():
    for fusion in ("relative", "rrf"):
        only_keyword = hybrid([DENSE], [KEYWORD], "hybrid", fusion, weights=(0.0, 1.0))
        assert [r.hit.id for r in only_keyword] == ["code", "a", "b", "c"]
        only_dense = hybrid([DENSE], [KEYWORD], "hybrid", fusion, weights=(1.0, 0.0))
        assert [r.hit.id for r in only_dense] == ["a", "b", "c", "code"]
        assert only_dense[0].score == pytest.approx(1.0)
    tilted = {r.hit.id: r.score for r in hybrid([DENSE], [KEYWORD], "hybrid", weights=(3.0, 1.0))}
    assert tilted["code"] == pytest.approx((3 * 0.59 / 0.62 + 1) / 4)


def test_rescored_keyword_scores_are_kept_as_shares_of_the_querys_own():
    # after rescoring, a keyword score is BM25 / the query's own BM25 score: kept, not divided by the
    # list's best, so a list that matched little of the query weighs little
    weak = hits(("code", 0.3), ("a", 0.1))
    ranked = {r.hit.id: r.score for r in hybrid([DENSE], [weak], "hybrid", shares=True)}
    assert ranked["code"] == pytest.approx((0.59 / 0.62 + 0.3) / 2)
    assert ranked["a"] == pytest.approx((1 + 0.1) / 2)
    over = {r.hit.id: r.score for r in hybrid([DENSE], [hits(("a", 1.7))], "hybrid", shares=True)}
    assert over["a"] == pytest.approx(1.0)  # a share above 1 (repeated terms) counts 1
