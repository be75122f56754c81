"""Parsers: every supported format yields its text; bad files raise ParseError alone."""

import pytest
from retrieval_corpus import DOCX_PARAGRAPHS, PDF_PAGES, docx_bytes, pdf_bytes, write_corpus

from retrieval import ParseError
from retrieval.parse import parse_bytes, parse_file


def test_pdf_keeps_pages():
    segments = parse_bytes(pdf_bytes(PDF_PAGES), "m.pdf")
    assert [s.page for s in segments] == [1, 2]
    assert "fluorosilicone" in segments[1].text and "fluorosilicone" not in segments[0].text


def test_docx():
    (segment,) = parse_bytes(docx_bytes(DOCX_PARAGRAPHS), "p.docx")
    assert "twenty-three vacation days" in segment.text and segment.page is None


def test_html_visible_text_only():
    html = (
        b"<html><head><title>T</title><script>var hidden='scripted';</script><style>p{}</style></head>"
        b"<body><p>Shown text</p><noscript>nojs</noscript></body></html>"
    )
    (segment,) = parse_bytes(html, "x.html")
    assert "Shown text" in segment.text
    assert "scripted" not in segment.text and "nojs" not in segment.text and "p{}" not in segment.text


@pytest.mark.parametrize(
    "name",
    [
        "a.txt",
        "a.md",
        "a.py",
        "a.js",
        "a.ts",
        "a.java",
        "a.c",
        "a.cpp",
        "a.go",
        "a.rb",
        "a.sh",
        "a.php",
        "a.cs",
        "a.csv",
        "README",
    ],
)
def test_text_formats(name):
    (segment,) = parse_bytes("print('hello wörld')\n".encode(), name)
    assert "hello wörld" in segment.text


def test_corpus_files_parse(tmp_path):
    for name, path in write_corpus(tmp_path).items():
        assert parse_file(path, name), name


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"%PDF-1.4\n this is not really a pdf \x00\x01", "broken.pdf", "could not be parsed"),
        (pdf_bytes([""]), "scanned.pdf", "no text layer"),
        (b"PK\x03\x04 garbage", "broken.docx", "could not be parsed"),
        (b"{not json", "bad.json", "not valid JSON"),
        (b"", "empty.txt", "empty"),
        (b"   \n\t ", "blank.md", "empty"),
        (b"\x00\x01\x02binary", "blob.txt", "binary"),
        (b"whatever", "picture.png", "Unsupported file type"),
        (b"<html><script>x=1</script></html>", "nothing.html", "no text"),
    ],
)
def test_unparseable(data, name, words):
    with pytest.raises(ParseError, match=words):
        parse_bytes(data, name)


def test_missing_file(tmp_path):
    with pytest.raises(ParseError, match="Could not read"):
        parse_file(tmp_path / "nope.txt")
