"""OpenAI attribute filters: validation and translation into a Qdrant filter.

Comparison `{"type": "eq|ne|gt|gte|lt|lte|in|nin", "key": str, "value": ...}` and compound
`{"type": "and|or", "filters": [...]}`. Attributes live in the point payload under `attributes`.
Numbers are matched with ranges (so 3 and 3.0 compare equal), strings and booleans exactly;
gt/gte/lt/lte need a number; in/nin need a non-empty array of strings/numbers/booleans. A point that
lacks the key never matches eq/in/gt..., and always matches ne/nin. Anything else -> `FilterError`.

A key is addressed in Qdrant's payload path syntax, quoted (`attributes."my key"`) unless it is a plain
name, so spaces, `$`, `/` and the like work; a key Qdrant cannot address at all (one holding `.`, `[`,
`]`, `"` or `\\`) is a `FilterError`, never an error from the index.

Booleans are matched against a mirror of the boolean attributes stored as 0/1 under `attribute_flags`
(`payload_fields`): Qdrant Edge's `MatchValue` turns `True` into `1`, which never matches a JSON
boolean, so both backends match booleans this way.

`to_qdrant(filter, models)` builds the filter from `models`, a namespace with Qdrant's `Filter`,
`FieldCondition`, `MatchValue` and a range class: qdrant-client's `models` or `qdrant_edge`.
"""

import re
from dataclasses import dataclass
from types import SimpleNamespace

from retrieval.errors import FilterError

COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")
COMPOUNDS = ("and", "or")
MAX_DEPTH = 8
UNADDRESSABLE = '.[]"\\'
PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Comparison:
    op: str
    key: str
    value: object


@dataclass(frozen=True)
class Compound:
    op: str
    filters: tuple


def parse_filter(value, path: str = "filters", depth: int = 0):
    """Validate an OpenAI filter (dict or pydantic model) into `Comparison`/`Compound` nodes."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    if not isinstance(value, dict):
        raise FilterError(f"{path} must be an object, not {type(value).__name__}.")
    if depth > MAX_DEPTH:
        raise FilterError(f"{path}: filters nest deeper than {MAX_DEPTH} levels.")
    kind = value.get("type")
    if kind in COMPOUNDS:
        items = value.get("filters")
        if not isinstance(items, list) or not items:
            raise FilterError(f"{path}.filters must be a non-empty array for type '{kind}'.")
        return Compound(
            kind, tuple(parse_filter(f, f"{path}.filters[{i}]", depth + 1) for i, f in enumerate(items))
        )
    if kind not in COMPARISONS:
        raise FilterError(f"{path}.type must be one of {', '.join(COMPARISONS + COMPOUNDS)}, not {kind!r}.")
    key = value.get("key")
    if not isinstance(key, str) or not key or any(c in key for c in UNADDRESSABLE):
        raise FilterError(
            f'{path}.key must be a non-empty attribute name without . [ ] " or \\, not {key!r}.'
        )
    if "value" not in value:
        raise FilterError(f"{path}.value is required.")
    item = value["value"]
    if kind in ("in", "nin"):
        if not isinstance(item, list) or not item:
            raise FilterError(f"{path}.value must be a non-empty array for '{kind}'.")
        for v in item:
            _scalar(v, path)
        item = tuple(item)
    elif kind in ("gt", "gte", "lt", "lte"):
        if not _is_number(item):
            raise FilterError(f"{path}.value must be a number for '{kind}', not {item!r}.")
    else:
        _scalar(item, path)
    return Comparison(kind, key, item)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _scalar(v, path: str) -> None:
    if not isinstance(v, (str, int, float, bool)):
        raise FilterError(f"{path}.value must be a string, number or boolean, not {v!r}.")


def matches(node, attributes: dict) -> bool:
    """Reference semantics in Python (used by tests to check the Qdrant translation)."""
    if isinstance(node, Compound):
        results = (matches(f, attributes) for f in node.filters)
        return all(results) if node.op == "and" else any(results)
    present, have = node.key in attributes, attributes.get(node.key)
    if node.op in ("ne", "nin"):
        values = (node.value,) if node.op == "ne" else node.value
        return not (present and any(_equal(have, v) for v in values))
    if not present:
        return False
    if node.op in ("eq", "in"):
        values = (node.value,) if node.op == "eq" else node.value
        return any(_equal(have, v) for v in values)
    if not _is_number(have):
        return False
    return {
        "gt": have > node.value,
        "gte": have >= node.value,
        "lt": have < node.value,
        "lte": have <= node.value,
    }[node.op]


def _equal(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def to_qdrant(node, models: SimpleNamespace):
    """Translate parsed nodes into a Qdrant `Filter` built from `models` (see module doc)."""
    if isinstance(node, Compound):
        parts = [to_qdrant(f, models) for f in node.filters]
        return models.Filter(must=parts) if node.op == "and" else models.Filter(should=parts)
    key = "attributes." + (node.key if PLAIN_KEY.fullmatch(node.key) else f'"{node.key}"')
    if node.op in ("eq", "in"):
        values = (node.value,) if node.op == "eq" else node.value
        conditions = [_equals(key, v, models) for v in values]
        return models.Filter(must=conditions) if len(conditions) == 1 else models.Filter(should=conditions)
    if node.op in ("ne", "nin"):
        values = (node.value,) if node.op == "ne" else node.value
        return models.Filter(must_not=[_equals(key, v, models) for v in values])
    bound = {node.op: float(node.value)}
    return models.Filter(must=[models.FieldCondition(key=key, range=models.Range(**bound))])


def payload_fields(attributes: dict) -> dict:
    """The payload fields holding a file's attributes (see the module doc for `attribute_flags`)."""
    flags = {k: int(v) for k, v in attributes.items() if isinstance(v, bool)}
    return {"attributes": dict(attributes), "attribute_flags": flags}


def _equals(key: str, value, models):
    if isinstance(value, bool):
        flag = "attribute_flags." + key.split(".", 1)[1]
        return models.FieldCondition(key=flag, match=models.MatchValue(value=int(value)))
    if _is_number(value):
        return models.FieldCondition(key=key, range=models.Range(gte=float(value), lte=float(value)))
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))
