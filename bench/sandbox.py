"""Sandbox benchmark: cold session start, first execution with the warm pool, warm round trip
against a bare local kernel, and round trips with 20 sessions executing at once.

    python bench/sandbox.py [--runtime runc|runsc] [--round-trips 200]
"""

import argparse
import asyncio
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sandbox  # noqa: E402

CACHE = Path.home() / ".cache" / "assistd"


def ms(seconds: float) -> str:
    return f"{1000 * seconds:7.1f} ms"


def p50_p95(values: list[float]) -> str:
    return f"p50 {ms(statistics.median(values))}  p95 {ms(pct(values, 0.95))}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bare_round_trips(n: int) -> list[float]:
    """The same execute round trip on a plain local ipykernel: no container, tcp transport."""
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    times = []
    try:
        for _ in range(n + 10):
            started = time.perf_counter()
            msg_id = kc.execute("1 + 1", stop_on_error=False)
            while True:
                try:
                    msg = await kc.get_iopub_msg(timeout=10)
                except queue.Empty:
                    break
                if (
                    msg["parent_header"].get("msg_id") == msg_id
                    and msg["header"]["msg_type"] == "status"
                    and msg["content"]["execution_state"] == "idle"
                ):
                    break
            times.append(time.perf_counter() - started)
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
    return times[10:]


async def main(runtime: str, n: int) -> None:
    image = sandbox.ensure_image(CACHE, lambda line: None)
    with tempfile.TemporaryDirectory() as tmp:
        config = sandbox.SandboxConfig.from_env(
            Path(tmp), image, runtime=runtime, warm_pool=0, max_sessions=64
        )
        pool = sandbox.SessionPool(config)
        await pool.start()
        try:
            colds = []
            for i in range(5):
                started = time.perf_counter()
                await pool.execute(f"cold-{i}", "1")
                colds.append(time.perf_counter() - started)
                await pool.close_session(f"cold-{i}")
            print(f"runtime {runtime}, image {image}")
            print(f"cold session start + first execution   p50 {ms(statistics.median(colds))}  (5 sessions)")

            await pool.execute("warm", "1")
            warm = []
            for _ in range(n):
                started = time.perf_counter()
                await pool.execute("warm", "1 + 1")
                warm.append(time.perf_counter() - started)
            bare = await bare_round_trips(n)
            overhead = statistics.median(warm) - statistics.median(bare)
            print(f"warm round trip (container, ipc)      {p50_p95(warm)}")
            print(f"bare local kernel round trip (tcp)    {p50_p95(bare)}")
            print(f"sandbox overhead                       p50 {ms(overhead)}")

            for i in range(20):
                await pool.execute(f"c{i}", "1")

            async def session_loop(key: str, times: list[float]) -> None:
                for _ in range(20):
                    started = time.perf_counter()
                    await pool.execute(key, "sum(range(1000))")
                    times.append(time.perf_counter() - started)

            concurrent: list[float] = []
            await asyncio.gather(*(session_loop(f"c{i}", concurrent) for i in range(20)))
            print(
                f"20 sessions executing at once         p50 {ms(statistics.median(concurrent))}  "
                f"p95 {ms(pct(concurrent, 0.95))}  ({len(concurrent)} executions)"
            )
        finally:
            await pool.close()

        config = sandbox.SandboxConfig.from_env(Path(tmp) / "w", image, runtime=runtime, warm_pool=2)
        pool = sandbox.SessionPool(config)
        await pool.start()
        try:
            firsts = []
            for i in range(5):
                await asyncio.sleep(3)  # let the pool refill and its kernels become ready
                started = time.perf_counter()
                await pool.execute(f"new-{i}", "1")
                firsts.append(time.perf_counter() - started)
            print(
                f"first execution in a new session, warm pool  p50 {ms(statistics.median(firsts))}  "
                f"max {ms(max(firsts))}"
            )
        finally:
            await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", default="runc")
    parser.add_argument("--round-trips", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.runtime, args.round_trips))
