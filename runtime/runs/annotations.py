"""Annotations of an assistant's answer: source markers become `file_citation`s, links to
`sandbox:/mnt/data/NAME` become `file_path`s.

The answer streams, so annotations are found span by span: `settled` says how much of the text so
far is final (a marker or a link still arriving at its end is held back), and the finders look only
at matches inside a span, so each annotation goes out with the text it covers."""

import re
from collections.abc import Callable

CITATION = re.compile(r"【(\d+):(\d+)†([^】]*)】")
SANDBOX_PATH = re.compile(r"sandbox:(/mnt/data/[^\s)\]\"'<>`]+)")
SANDBOX_PREFIX = "sandbox:/mnt/data/"
# An unfinished marker at the end of the text, as long as it could still become one.
OPEN_CITATION = re.compile(r"【(\d+(:(\d+(†[^】]{0,500})?)?)?)?$")


def source_marker(call_index: int, result_index: int, filename: str) -> str:
    return f"【{call_index}:{result_index}†{filename}】"


def settled(text: str) -> int:
    """How much of `text` can be shown now: all but a tail that may yet become a marker or a link."""
    end = len(text)
    opened = OPEN_CITATION.search(text, max(0, end - 520))
    if opened:
        end = opened.start()
    for match in SANDBOX_PATH.finditer(text, max(0, end - 4096)):
        if match.end() == len(text):
            end = min(end, match.start())
    for size in range(min(len(SANDBOX_PREFIX), len(text)), 0, -1):
        if SANDBOX_PREFIX.startswith(text[-size:]):
            end = min(end, len(text) - size)
            break
    return end


def citations(text: str, sources: list[list[dict]], start: int = 0, end: int | None = None) -> list[dict]:
    """`file_citation` annotations for markers in `text[start:end]` that name a known search result."""
    out = []
    for match in CITATION.finditer(text, start, len(text) if end is None else end):
        call, result = int(match.group(1)), int(match.group(2))
        if call < len(sources) and result < len(sources[call]):
            out.append(
                {
                    "type": "file_citation",
                    "text": match.group(0),
                    "start_index": match.start(),
                    "end_index": match.end(),
                    "file_citation": {"file_id": sources[call][result]["file_id"]},
                }
            )
    return out


def sandbox_paths(text: str, start: int = 0, end: int | None = None) -> list[tuple[str, int, int]]:
    """(path, start, end) of every `sandbox:/mnt/data/...` link in `text[start:end]`."""
    out = []
    for m in SANDBOX_PATH.finditer(text, start, len(text) if end is None else end):
        path = m.group(1).rstrip(".,;:!?")
        out.append((path, m.start(), m.start() + len("sandbox:") + len(path)))
    return out


def file_paths(
    text: str, file_for: Callable[[str], str | None], start: int = 0, end: int | None = None
) -> list[dict]:
    """`file_path` annotations for links in `text[start:end]`; `file_for(path)` turns a sandbox path
    into a stored file id (or None)."""
    out = []
    for path, first, last in sandbox_paths(text, start, end):
        file_id = file_for(path)
        if file_id:
            out.append(
                {
                    "type": "file_path",
                    "text": text[first:last],
                    "start_index": first,
                    "end_index": last,
                    "file_path": {"file_id": file_id},
                }
            )
    return out
