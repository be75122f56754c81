"""Exact-fact evaluation: top-1 accuracy on `bench/data/make_exact_facts.build(seed)`, per ranking.

    python -m bench.retrieval_facts        # alone (~5 min); bench/retrieval.py [4] prints it too

For each of the two builds (the development seed and the held-out one), the documents are written
out in their formats (PDF and DOCX through the test corpus's writers), ingested once with the
default chunking, then every query is searched under each ranking of `bench.retrieval.RANKINGS`. A
query counts when the first hit is a chunk of the fact's document that holds the answer string.
"""

import csv
import html
import io
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.data.make_exact_facts import DEVELOPMENT_SEED, HELD_OUT_SEED, build  # noqa: E402
from retrieval import RetrievalConfig, Retriever  # noqa: E402
from tests.retrieval.retrieval_corpus import docx_bytes, pdf_bytes  # noqa: E402


def render(doc: dict) -> bytes:
    """The document as a file of the format its name ends with."""
    title, paragraphs, fmt = doc["title"], doc["paragraphs"], doc["name"].rsplit(".", 1)[1]
    if fmt == "pdf":
        return pdf_bytes([title, *paragraphs])
    if fmt == "docx":
        return docx_bytes([title, *paragraphs])
    if fmt == "md":
        text = f"# {title}\n\n" + "\n\n".join(
            f"## Part {n // 5 + 1}\n\n{p}" if n % 5 == 0 else p for n, p in enumerate(paragraphs)
        )
    elif fmt == "html":
        body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        head = f"<head><title>{html.escape(title)}</title></head>"
        text = f"<html>{head}<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    elif fmt == "json":
        sections = [{"n": n, "text": p} for n, p in enumerate(paragraphs)]
        text = json.dumps({"title": title, "sections": sections})
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["section", "text"])
        writer.writerows(enumerate(paragraphs))
        text = out.getvalue()
    elif fmt == "py":
        comments = "\n\n".join("\n".join(f"# {line}" for line in _wrap(p)) for p in paragraphs)
        text = f'"""{title}."""\n\n{comments}\n\nRECORD = {title.split()[-1]!r}\n'
    else:
        text = f"{title}\n\n" + "\n\n".join(paragraphs)
    return text.encode()


def _wrap(paragraph: str, width: int = 96) -> list[str]:
    lines, line = [], ""
    for word in paragraph.split():
        if line and len(line) + len(word) >= width:
            lines.append(line)
            line = ""
        line = f"{line} {word}".strip()
    return [*lines, line]


def ingest(retriever: Retriever, root: Path, data: dict, store: str = "vs_facts") -> None:
    for n, doc in enumerate(data["documents"]):
        path = root / doc["name"]
        path.write_bytes(render(doc))
        retriever.ingest_file(store, f"fact{n}", path, doc["name"])


def top1(retriever: Retriever, data: dict, mode: str, rescore: bool, store: str = "vs_facts") -> dict:
    """Share of queries whose first hit holds the answer in the right document, overall and by kind."""
    kinds: dict[str, list[bool]] = {}
    for q in data["queries"]:
        hits = retriever.search([store], q["query"], max_num_results=1, mode=mode, rescore=rescore)
        right = bool(hits) and hits[0].filename == q["document"] and q["answer"] in hits[0].text
        kinds.setdefault(q["kind"], []).append(right)
    every = [r for rights in kinds.values() for r in rights]
    return {
        "top1": sum(every) / len(every),
        "misses": len(every) - sum(every),
        **{kind: sum(r) / len(r) for kind, r in kinds.items()},
    }


def exact_facts(embedder, root: Path, rankings, seed: int) -> dict:
    """{label: top1(...)} for each (label, mode, fusion, rescore) ranking; one ingestion for all."""
    data = build(seed)
    retriever = Retriever(RetrievalConfig(data_dir=tempfile.mkdtemp(dir=root)), embedder=embedder)
    try:
        ingest(retriever, Path(tempfile.mkdtemp(dir=root)), data)
        out = {"queries": len(data["queries"]), "documents": len(data["documents"])}
        for label, mode, fusion, rescore in rankings:
            retriever.config.fusion = fusion
            out[label] = top1(retriever, data, mode, rescore)
        return out
    finally:
        retriever.close()


def report(embedder, root: Path, rankings) -> dict:
    seeds = {"development": DEVELOPMENT_SEED, "held-out": HELD_OUT_SEED}
    results = {name: exact_facts(embedder, root, rankings, seed) for name, seed in seeds.items()}
    sizes = results["held-out"]
    print(
        f"    exact facts (make_exact_facts.build(seed): {sizes['documents']} documents in 8 formats, "
        f"{sizes['queries']} queries each), top-1 accuracy on the development seed "
        f"({DEVELOPMENT_SEED}, the rankings were studied on it) and on the held-out seed "
        f"({HELD_OUT_SEED}: the result), and held-out by kind:"
    )
    for label, *_ in rankings:
        dev, held = results["development"][label], results["held-out"][label]
        kinds = "  ".join(f"{k} {v:.2f}" for k, v in held.items() if k not in ("top1", "misses"))
        print(
            f"      {label:<16} development {dev['top1']:.3f} ({dev['misses']} missed)  "
            f"held-out {held['top1']:.3f} ({held['misses']} missed) | {kinds}"
        )
    return results


def main() -> None:
    from bench.retrieval import RANKINGS
    from retrieval.embed import Embedder, resolve_dtype

    with tempfile.TemporaryDirectory(prefix="assistd-bench-facts-") as root:
        report(Embedder(dtype=resolve_dtype("auto")), Path(root), RANKINGS)


if __name__ == "__main__":
    main()
