"""Errors raised by the retrieval package; `runtime/` translates them at its edge.

RetrievalError          base: anything retrieval could not do
├── ParseError          a file could not be read as text (corrupt, unsupported, empty, scanned PDF)
├── ChunkingError       a chunking strategy is outside OpenAI's rules (names the offending param)
└── FilterError         an attribute filter is malformed (names the offending part)
"""


class RetrievalError(Exception):
    """Base of every error the retrieval package raises on purpose."""


class ParseError(RetrievalError):
    """The file could not be turned into text; other files are unaffected."""


class ChunkingError(RetrievalError):
    """The chunking strategy is invalid; `param` names the offending field."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


class FilterError(RetrievalError):
    """The attribute filter is invalid."""
