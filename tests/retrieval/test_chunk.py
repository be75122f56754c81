"""Chunking: OpenAI's strategy rules and cl100k token windows."""

import pytest

from retrieval import ChunkingError, count_tokens, validate_chunking
from retrieval.chunk import chunk_segments, encoding
from retrieval.parse import Segment


def test_count_tokens():
    assert count_tokens("hello world") == 2
    assert count_tokens("") == 0
    assert count_tokens("<|endoftext|>") > 1  # special tokens are plain text here


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (None, (800, 400)),
        ({"type": "auto"}, (800, 400)),
        ({"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}, (100, 0)),
        (
            {"type": "static", "static": {"max_chunk_size_tokens": 4096, "chunk_overlap_tokens": 2048}},
            (4096, 2048),
        ),
    ],
)
def test_valid_strategies(strategy, expected):
    assert validate_chunking(strategy) == expected


@pytest.mark.parametrize(
    ("strategy", "param"),
    [
        ({"type": "fancy"}, "chunking_strategy.type"),
        ({"type": "static"}, "chunking_strategy.static"),
        (
            {"type": "static", "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0}},
            "chunking_strategy.static.max_chunk_size_tokens",
        ),
        (
            {"type": "static", "static": {"max_chunk_size_tokens": 4097, "chunk_overlap_tokens": 0}},
            "chunking_strategy.static.max_chunk_size_tokens",
        ),
        (
            {"type": "static", "static": {"max_chunk_size_tokens": "800", "chunk_overlap_tokens": 0}},
            "chunking_strategy.static.max_chunk_size_tokens",
        ),
        (
            {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 401}},
            "chunking_strategy.static.chunk_overlap_tokens",
        ),
        (
            {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": -1}},
            "chunking_strategy.static.chunk_overlap_tokens",
        ),
        (
            {"type": "static", "static": {"max_chunk_size_tokens": 800}},
            "chunking_strategy.static.chunk_overlap_tokens",
        ),
        ("auto", "chunking_strategy"),
    ],
)
def test_invalid_strategies(strategy, param):
    with pytest.raises(ChunkingError) as info:
        validate_chunking(strategy)
    assert info.value.param == param
    assert param.rsplit(".", 1)[-1] in str(info.value) or param == "chunking_strategy"


def test_windows_and_overlap():
    text = " ".join(f"w{i}" for i in range(3000))
    total = count_tokens(text)
    chunks = chunk_segments([Segment(text)], 800, 400)
    assert all(len(c.tokens) <= 800 for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert chunks[1].tokens[:400] == chunks[0].tokens[400:]
    assert chunks[-1].tokens[-1] == encoding().encode(text)[-1]
    assert len(chunks) == -(-(total - 800) // 400) + 1


def test_short_text_is_one_chunk():
    (chunk,) = chunk_segments([Segment("just a few words")], 800, 400)
    assert chunk.text == "just a few words"


def test_pages_follow_the_first_token():
    pages = [Segment(" ".join(["alpha"] * 300), 1), Segment(" ".join(["beta"] * 300), 2)]
    chunks = chunk_segments(pages, 200, 0)
    assert chunks[0].page == 1 and "alpha" in chunks[0].text
    assert chunks[-1].page == 2 and "beta" in chunks[-1].text
    assert {c.page for c in chunks} == {1, 2}
