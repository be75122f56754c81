"""Annotations of an assistant's answer: source markers become `file_citation`s, links to
`sandbox:/mnt/data/NAME` become `file_path`s."""

import re
from collections.abc import Callable

CITATION = re.compile(r"【(\d+):(\d+)†([^】]*)】")
SANDBOX_PATH = re.compile(r"sandbox:(/mnt/data/[^\s)\]\"'<>`]+)")


def source_marker(call_index: int, result_index: int, filename: str) -> str:
    return f"【{call_index}:{result_index}†{filename}】"


def citations(text: str, sources: list[list[dict]]) -> list[dict]:
    """`file_citation` annotations for markers that name a known search result."""
    out = []
    for match in CITATION.finditer(text):
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


def sandbox_paths(text: str) -> list[tuple[str, int, int]]:
    """(path, start, end) of every `sandbox:/mnt/data/...` link in `text`."""
    return [
        (
            m.group(1).rstrip(".,;:!?"),
            m.start(),
            m.start() + len("sandbox:") + len(m.group(1).rstrip(".,;:!?")),
        )
        for m in SANDBOX_PATH.finditer(text)
    ]


def file_paths(text: str, file_for: Callable[[str], str | None]) -> list[dict]:
    """`file_path` annotations; `file_for(path)` turns a sandbox path into a stored file id (or None)."""
    out = []
    for path, start, end in sandbox_paths(text):
        file_id = file_for(path)
        if file_id:
            out.append(
                {
                    "type": "file_path",
                    "text": text[start:end],
                    "start_index": start,
                    "end_index": end,
                    "file_path": {"file_id": file_id},
                }
            )
    return out
