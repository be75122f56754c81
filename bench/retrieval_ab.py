"""API search latency of two checkouts of assistd side by side, on one store of SYNTHESISED chunks.

    python -m bench.retrieval_ab /path/to/other/checkout            # that checkout, then this one
    python -m bench.retrieval_ab OLD NEW --chunks 100000 --blocks 8

A shared machine's speed drifts from minute to minute, more than the difference being measured. So
rather than one server after the other, both run at once, each importing its own checkout's code
(PYTHONPATH), on copies of one store (`retrieval_api.synthetic_store`, built by this checkout: both
must read it), and each query goes to both servers in turn, in alternating order: both see the
machine's load at the same moments. After `--warm` queries, `--blocks` blocks of `--per-block`
queries each: per block, each server's p50 and the difference; then the median over the blocks.
"""

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.retrieval_api import WORDS, synthetic_store
from tests.support.server import Server

HERE = str(Path(__file__).resolve().parent.parent)


def compare(trees: list[str], *, chunks: int, blocks: int, per_block: int, warm: int) -> list[float]:
    """Each block's p50 difference, second checkout minus first, in ms."""
    store = synthetic_store(chunks)
    root = Path(tempfile.mkdtemp(prefix="assistd-bench-ab-"))
    os.chdir(root)  # `python -m` puts the working directory first on a server's path
    servers = []
    try:
        for n, tree in enumerate(trees):
            shutil.copytree(store["data_dir"], root / f"data{n}")
            servers.append(Server(root / f"data{n}", env={"PYTHONPATH": tree}).start(timeout=240))
        clients = [httpx.Client(base_url=s.base_url, timeout=60) for s in servers]
        path = f"/vector_stores/{store['store_id']}/search"
        rng = random.Random(1)

        def ask(client: httpx.Client, text: str) -> float:
            started = time.perf_counter()
            response = client.post(path, json={"query": text, "max_num_results": 10})
            seconds = time.perf_counter() - started
            assert response.raise_for_status().json()["data"], "search returned nothing"
            return seconds

        differences = []
        for block in range(-1, blocks):
            times: list[list[float]] = [[], []]
            for n in range(warm if block < 0 else per_block):
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))
                for i in (0, 1) if n % 2 == 0 else (1, 0):
                    times[i].append(ask(clients[i], text))
            if block >= 0:
                first, second = (statistics.median(t) * 1000 for t in times)
                differences.append(second - first)
                print(f"  block {block + 1}: p50 {first:.2f} and {second:.2f} ms: {second - first:+.2f} ms")
        return differences
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(store["data_dir"].parent, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", help="one checkout (compared with this one) or two")
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--per-block", type=int, default=200)
    parser.add_argument("--warm", type=int, default=300, help="queries to both before the blocks")
    args = parser.parse_args(argv)
    trees = [str(Path(t).resolve()) for t in args.trees] + ([HERE] if len(args.trees) == 1 else [])
    print(f"API search p50 at {args.chunks} SYNTHESISED chunks, request-interleaved:")
    print(f"  1: {trees[0]}\n  2: {trees[1]}")
    differences = compare(
        trees[:2], chunks=args.chunks, blocks=args.blocks, per_block=args.per_block, warm=args.warm
    )
    print(f"  2 - 1, median over {len(differences)} blocks: {statistics.median(differences):+.2f} ms")


if __name__ == "__main__":
    main()
