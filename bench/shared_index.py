"""Shared embedded index benchmark: what reaching the index through its owner's socket costs another
process on the data directory, against the owner itself.

Two retrievers on one data directory, in this process (the lock file is per open file, so the second
is a non-owner as another process would be): one file of `--paragraphs` paragraphs is ingested
through each, then the same `--queries` searches run through each, alternating, `--rounds` times.

    python bench/shared_index.py [--paragraphs 2000] [--queries 60] [--rounds 3]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from retrieval import RetrievalConfig, Retriever  # noqa: E402
from retrieval.embed import Embedder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--paragraphs", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    embedder = Embedder()
    embedder.encode(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "vectors"
        owner = Retriever(RetrievalConfig(data_dir=data), embedder=embedder)
        other = Retriever(RetrievalConfig(data_dir=data), embedder=embedder)
        if not owner.index.owner or other.index.owner:
            raise RuntimeError("the first retriever should own the index, the second reach it")
        source = Path(tmp) / "doc.txt"
        source.write_text(
            "\n\n".join(
                f"Paragraph {i}: the warehouse in district {i} stores {i * 7} crates of item-{i}."
                for i in range(args.paragraphs)
            )
        )
        for name, retriever in (("through the socket", other), ("in the owner", owner)):
            started = time.perf_counter()
            retriever.ingest_file("vs_bench", f"file-{name}", source)
            print(f"ingest {name:20} {time.perf_counter() - started:6.2f} s")
        queries = [f"How many crates are in district {i}?" for i in range(args.queries)]
        for _ in range(args.rounds):
            for name, retriever in (("in the owner", owner), ("through the socket", other)):
                took = []
                for query in queries:
                    started = time.perf_counter()
                    retriever.search(["vs_bench"], query, max_num_results=10)
                    took.append(1000 * (time.perf_counter() - started))
                print(f"search {name:20} p50 {statistics.median(took):6.2f} ms")
        other.close()
        owner.close()
        embedder.close()


if __name__ == "__main__":
    main()
