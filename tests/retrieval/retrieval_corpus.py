"""Test corpus: files in several formats, each holding one fact among distractors, and a PDF
written by hand in raw PDF syntax (no PDF library needed to make it)."""

import io
import json
from pathlib import Path

FILLER = (
    "Quarterly planning meetings cover staffing, office supplies, travel budgets and the cafeteria "
    "menu. The facilities team repainted the lobby and replaced the carpets on the third floor. "
)


def pdf_bytes(pages: list[str]) -> bytes:
    """A minimal valid PDF with one text line per page (Helvetica), with a correct xref table."""
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        None,
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for text in pages:
        safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({safe}) Tj ET"
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
        content = len(objects)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content} 0 R >>"
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{n} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def docx_bytes(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# (filename, content, query, words that must be in the top hit)
FACTS = [
    ("manual.pdf", None, "Which gasket material does the Zephyr pump use?", "fluorosilicone"),
    (
        "notes.txt",
        FILLER * 3 + "The secret launch code for project Bluebird is 7741-ALPHA. " + FILLER * 3,
        "What is the launch code for project Bluebird?",
        "7741-ALPHA",
    ),
    (
        "guide.md",
        "# Onboarding\n\n" + FILLER * 2 + "\n\n## Parking\n\nEmployees park in garage C on level 4, "
        "reserved spots are marked green.\n\n" + FILLER,
        "Where do employees park their cars?",
        "garage C",
    ),
    (
        "page.html",
        "<html><head><title>Kitchen</title><style>.x{color:red}</style>"
        "<script>var s = 'the espresso machine is descaled on Mondays';</script></head><body><p>"
        + FILLER
        + "</p><p>The espresso machine is descaled every Friday afternoon by the barista team.</p>"
        "</body></html>",
        "When is the espresso machine descaled?",
        "Friday",
    ),
    (
        "config.json",
        json.dumps(
            {
                "service": "billing",
                "retry_policy": {"max_attempts": 9, "backoff": "exponential"},
                "notes": FILLER,
            }
        ),
        "billing service retry max_attempts backoff",
        "max_attempts",
    ),
    (
        "inventory.csv",
        "item,warehouse,count\nbolts,Reno,1200\nwashers,Reno,800\ntitanium sprockets,Tallinn,37\n"
        "nuts,Reno,5000\n",
        "How many titanium sprockets are in Tallinn?",
        "Tallinn,37",
    ),
    (
        "geometry.py",
        '"""Geometry helpers."""\n\n\ndef hexagon_area(side):\n    """Area of a regular '
        'hexagon with the given side length."""\n    return 3 * 3 ** 0.5 / 2 * side ** 2\n',
        "function computing the area of a regular hexagon",
        "hexagon_area",
    ),
    ("policy.docx", None, "How many vacation days do new employees get?", "twenty-three"),
]
DISTRACTORS = [
    (
        "distractor1.txt",
        FILLER * 4 + "The Zephyr fan uses a rubber belt. Project Redbird has no launch code.",
    ),
    (
        "distractor2.md",
        "# Misc\n" + FILLER * 3 + "Visitors park on the street. The tea kettle is cleaned daily.",
    ),
    ("distractor3.html", "<p>" + FILLER + "Sprockets made of steel are stored in Reno.</p>"),
]
PDF_PAGES = [
    "Zephyr pump service manual. Chapter one covers installation and wiring of the motor.",
    "Chapter two: seals. The Zephyr pump uses a fluorosilicone gasket rated for 200 degrees.",
]
DOCX_PARAGRAPHS = [
    "Human resources policy.",
    FILLER,
    "New employees get twenty-three vacation days per year.",
    FILLER,
]


def write_corpus(root: Path) -> dict[str, Path]:
    """Write every fact file and distractor under `root`; returns filename -> path."""
    root.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, content, *_ in FACTS + DISTRACTORS:
        if name.endswith(".pdf"):
            data = pdf_bytes(PDF_PAGES)
        elif name.endswith(".docx"):
            data = docx_bytes(DOCX_PARAGRAPHS)
        else:
            data = content.encode()
        path = root / name
        path.write_bytes(data)
        paths[name] = path
    return paths
