"""Parse a file into text segments (one per PDF page, else one), or raise `ParseError`.

Supported: PDF (pypdf, page numbers kept), DOCX (python-docx), HTML (visible text only), JSON, CSV,
Markdown, plain text and source code. Anything else, corrupt files, empty files and PDFs without a
text layer (scanned) raise `ParseError` with a message saying which.
"""

import io
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import ParseError

TEXT_EXTENSIONS = {
    ".txt",
    ".md",
    ".markdown",
    ".rst",
    ".tex",
    ".log",
    ".csv",
    ".tsv",
    ".json",
    ".jsonl",
    ".xml",
    ".yaml",
    ".yml",
    ".toml",
    ".ini",
    ".cfg",
    # source code
    ".py",
    ".js",
    ".mjs",
    ".cjs",
    ".jsx",
    ".ts",
    ".tsx",
    ".java",
    ".c",
    ".h",
    ".cpp",
    ".cc",
    ".cxx",
    ".hpp",
    ".hh",
    ".cs",
    ".go",
    ".rb",
    ".sh",
    ".bash",
    ".zsh",
    ".php",
    ".rs",
    ".kt",
    ".swift",
    ".scala",
    ".sql",
    ".r",
    ".pl",
    ".lua",
    ".css",
    ".scss",
    ".vue",
}
HTML_EXTENSIONS = {".html", ".htm", ".xhtml"}
DOCX_EXTENSIONS = {".docx"}
PDF_EXTENSIONS = {".pdf"}
INVISIBLE_TAGS = ("script", "style", "noscript", "template", "head", "svg", "iframe", "object")


@dataclass
class Segment:
    """A run of text and the 1-based PDF page it came from (None for other formats)."""

    text: str
    page: int | None = None


def parse_file(path: Path | str, filename: str | None = None) -> list[Segment]:
    """Read `path` (typed by `filename`'s extension) into non-empty segments."""
    path = Path(path)
    name = filename or path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"Could not read '{name}': {exc.strerror or exc}") from exc
    return parse_bytes(data, name)


def parse_bytes(data: bytes, filename: str) -> list[Segment]:
    ext = Path(filename).suffix.lower()
    if not data.strip():
        raise ParseError(f"The file '{filename}' is empty.")
    if not ext:
        ext = ".pdf" if data.startswith(b"%PDF") else ".docx" if data.startswith(b"PK") else ".txt"
    if ext in PDF_EXTENSIONS:
        segments = _pdf(data, filename)
    elif ext in DOCX_EXTENSIONS:
        segments = [Segment(_docx(data, filename))]
    elif ext in HTML_EXTENSIONS:
        segments = [Segment(_html(_decode(data, filename)))]
    elif ext in (".json",):
        text = _decode(data, filename)
        try:
            json.loads(text)
        except ValueError as exc:
            raise ParseError(f"The file '{filename}' is not valid JSON: {exc}") from exc
        segments = [Segment(text)]
    elif ext in TEXT_EXTENSIONS:
        segments = [Segment(_decode(data, filename))]
    else:
        raise ParseError(f"Unsupported file type '{ext}' for '{filename}'.")
    segments = [s for s in segments if s.text.strip()]
    if not segments:
        raise ParseError(f"The file '{filename}' contains no text.")
    return segments


def _decode(data: bytes, filename: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    if b"\x00" in data:
        raise ParseError(f"The file '{filename}' is binary, not text.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ParseError(f"The file '{filename}' is not valid UTF-8 text.") from exc


def _pdf(data: bytes, filename: str) -> list[Segment]:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                try:
                    reader.decrypt("")
                except Exception as exc:
                    raise ParseError(f"The PDF '{filename}' is encrypted.") from exc
            pages = [Segment(page.extract_text() or "", n) for n, page in enumerate(reader.pages, 1)]
    except ParseError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise ParseError(f"The PDF '{filename}' could not be parsed: {exc}") from exc
    if not pages:
        raise ParseError(f"The PDF '{filename}' has no pages.")
    if not any(p.text.strip() for p in pages):
        raise ParseError(f"The PDF '{filename}' has no text layer (a scanned PDF needs OCR first).")
    return pages


def _docx(data: bytes, filename: str) -> str:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise ParseError(f"The DOCX '{filename}' could not be parsed: {exc}") from exc
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def _html(text: str) -> str:
    from bs4 import BeautifulSoup

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        soup = BeautifulSoup(text, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(INVISIBLE_TAGS):
        tag.decompose()
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    body = "\n".join(line for line in lines if line)
    return f"{title}\n{body}" if title and not body.startswith(title) else body
