"""The literal ranking of a query's names: which words are names, the share of the query stated
around one, and the order and scores they give (`retrieval.literal`)."""

import pytest

from retrieval.index import IndexHit
from retrieval.keyword import KeywordEncoder, words
from retrieval.literal import Query, names, rank, share
from retrieval.search import Ranked

KEYWORDS = KeywordEncoder()


def term(word):
    return KEYWORDS.term(word)


def test_names_are_unreadable_words_few_chunks_hold():
    text = "What is the guest wifi password at the Lumtor office, per HX-440?"
    found = words(text)
    whole = [w not in ("Lumtor", "wifi", "HX") for w in found]  # what the embedding model splits
    df = {term(w): 3 for w in found if term(w) is not None} | {term("wifi"): 40}
    assert names(KEYWORDS, text, whole, df, depth=30) == {term("Lumtor"): "lumtor", term("HX"): "hx"}
    # a word no chunk holds is no evidence; a word most chunks hold names nothing in particular
    assert names(KEYWORDS, text, whole, {**df, term("Lumtor"): 0, term("HX"): 30}, depth=30) == {}


def test_share_is_the_query_stated_around_a_name():
    idf = {term("guest"): 1.0, term("wifi"): 1.0, term("password"): 1.0, term("Lumtor"): 3.0}
    query, lumtor = Query(idf, {term("Lumtor"): "lumtor"}), {term("Lumtor")}
    answer = "Filler words. The guest wifi password at the Lumtor office is tulip-9921. More."
    assert share(KEYWORDS, answer, query, lumtor) == pytest.approx(1.0)
    in_passing = (
        "The Lumtor office closes at six. " + "Unrelated words about the cafeteria menu. " * 5 + "Guest wifi."
    )
    assert share(KEYWORDS, in_passing, query, lumtor) == pytest.approx(3 / 6)
    assert share(KEYWORDS, "guest wifi password", query, lumtor) == 0.0
    assert share(KEYWORDS, "The Lumtorian guest", query, lumtor) == 0.0  # another word
    # spelled otherwise than in the query (another inflection of the same term): read whole
    plural = Query({term("pump"): 1.0, term("impellers"): 1.0}, {term("impellers"): "impellers"})
    assert share(KEYWORDS, "The pump impeller is new.", plural, {term("impellers")}) == 1.0


def test_names_held_then_share_then_fused_order_and_score():
    order = (("overview", 0.9), ("miss", 0.8), ("a", 0.7), ("b", 0.6))
    fused = [Ranked(IndexHit(i, 0.0), s) for i, s in order]
    query = Query(
        {}, {7: "lumtor"}, held={"a": {7}, "b": {7}, "miss": {7}}, shares={"a": 0.5, "b": 0.5, "miss": 0.2}
    )
    ranked = rank(fused, [query])
    assert [r.hit.id for r in ranked] == ["a", "b", "miss", "overview"]
    assert [r.score for r in ranked] == pytest.approx([0.75, 0.75, 0.6, 0.45])
    assert rank([Ranked(IndexHit("x", 0.0), 0.4)], [Query({}, {})])[0].score == 0.4  # no names held
