"""Attribute filters: validation errors and reference semantics."""

import pytest

from retrieval import FilterError
from retrieval.filters import matches, parse_filter

ATTRS = {"author": "ann", "year": 2021, "score": 4.5, "draft": False}


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"type": "eq", "key": "author", "value": "ann"}, True),
        ({"type": "eq", "key": "year", "value": 2021.0}, True),
        ({"type": "ne", "key": "author", "value": "bob"}, True),
        ({"type": "ne", "key": "missing", "value": "x"}, True),
        ({"type": "eq", "key": "missing", "value": "x"}, False),
        ({"type": "gt", "key": "year", "value": 2020}, True),
        ({"type": "gte", "key": "score", "value": 4.5}, True),
        ({"type": "lt", "key": "score", "value": 4.5}, False),
        ({"type": "lte", "key": "year", "value": 2021}, True),
        ({"type": "in", "key": "author", "value": ["bob", "ann"]}, True),
        ({"type": "nin", "key": "author", "value": ["bob", "ann"]}, False),
        ({"type": "eq", "key": "draft", "value": False}, True),
        ({"type": "eq", "key": "draft", "value": 0}, False),
        (
            {
                "type": "and",
                "filters": [
                    {"type": "eq", "key": "author", "value": "ann"},
                    {"type": "gt", "key": "year", "value": 2022},
                ],
            },
            False,
        ),
        (
            {
                "type": "or",
                "filters": [
                    {"type": "eq", "key": "author", "value": "bob"},
                    {"type": "gt", "key": "year", "value": 2020},
                ],
            },
            True,
        ),
    ],
)
def test_semantics(flt, expected):
    assert matches(parse_filter(flt), ATTRS) is expected


@pytest.mark.parametrize(
    ("flt", "words"),
    [
        ("author", "must be an object"),
        ({"type": "like", "key": "a", "value": 1}, "type must be one of"),
        ({"type": "eq", "value": 1}, "key"),
        ({"type": "eq", "key": "a.b", "value": 1}, "key"),
        ({"type": "eq", "key": "a"}, "value is required"),
        ({"type": "eq", "key": "a", "value": {"x": 1}}, "string, number or boolean"),
        ({"type": "gt", "key": "a", "value": "2020"}, "must be a number"),
        ({"type": "in", "key": "a", "value": []}, "non-empty array"),
        ({"type": "in", "key": "a", "value": "ann"}, "non-empty array"),
        ({"type": "and", "filters": []}, "non-empty array"),
        ({"type": "or", "filters": [{"type": "eq", "key": "a"}]}, r"filters\.filters\[0\]\.value"),
    ],
)
def test_invalid(flt, words):
    with pytest.raises(FilterError, match=words):
        parse_filter(flt)


ODD_KEYS = ["team name", "$cost", "a/b", "ünï", "tab\tkey", "a:b", "x'y", "-"]


@pytest.mark.parametrize("backend", ["edge", "qdrant-client"])
def test_keys_any_characters_but_path_syntax_reach_the_index(make_retriever, backend, tmp_path):
    """A key with spaces, `$`, `/`, non-ASCII... is found on both backends; a key the index cannot
    address is a FilterError, not the index's own error."""
    retriever = make_retriever(backend)
    for n in range(2):
        path = tmp_path / f"doc{n}.txt"
        path.write_text(f"Document {n} talks about the harbour and its lighthouse.")
        attributes = {key: f"v{n}" for key in ODD_KEYS} | {"flag key": n == 1, "num key": n}
        retriever.ingest_file("vs_odd", f"file-{n}", path, path.name, attributes=attributes)

    def found(flt) -> set[str]:
        return {h.file_id for h in retriever.search(["vs_odd"], "harbour", filters=flt)}

    for key in ODD_KEYS:
        assert found({"type": "eq", "key": key, "value": "v1"}) == {"file-1"}, key
        assert found({"type": "nin", "key": key, "value": ["v1"]}) == {"file-0"}, key
    assert found({"type": "eq", "key": "flag key", "value": True}) == {"file-1"}
    assert found({"type": "lt", "key": "num key", "value": 1}) == {"file-0"}
    for key in ['a"b', "a\\b", "a.b", "a[0]"]:
        with pytest.raises(FilterError, match="key"):
            retriever.search(["vs_odd"], "harbour", filters={"type": "eq", "key": key, "value": "v1"})
