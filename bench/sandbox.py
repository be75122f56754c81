"""Sandbox benchmark: cold session start, first execution with the warm pool, warm round trip
against a bare local kernel, and round trips with 20 sessions executing at once.

    python bench/sandbox.py [--runtime runc|runsc] [--round-trips 200]
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sandbox  # noqa: E402
from bench.stats import ms, p50_p95  # noqa: E402
from sandbox.docker_provider import KERNEL_OPTIONS  # noqa: E402

CACHE = Path.home() / ".cache" / "assistd"
CONCURRENT_CODE = "sum(range(1000))"
SESSIONS, ROUNDS = 20, 20  # sessions executing at once, executions each


async def bare_kernels(count: int) -> list:
    """Plain local ipykernels with the sandbox's options and transport but no container, started and
    ready: `(manager, client)`."""
    pairs = []
    for _ in range(count):
        km = AsyncKernelManager(kernel_name="python3", transport="ipc")
        await km.start_kernel(extra_arguments=KERNEL_OPTIONS)
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=60)
        pairs.append((km, kc))
    return pairs


async def bare_execute(kc, code: str) -> float:
    """One execute round trip on a bare kernel: request to idle status and shell reply."""
    started = time.perf_counter()
    msg_id = kc.execute(code, stop_on_error=False)
    while True:
        msg = await kc.get_iopub_msg(timeout=10)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["header"]["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            break
    while (await kc.get_shell_msg(timeout=10))["parent_header"].get("msg_id") != msg_id:
        pass
    return time.perf_counter() - started


async def stop_bare(pairs: list) -> None:
    for km, kc in pairs:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)


async def bare_round_trips(n: int) -> list[float]:
    """The warm round trip on one bare kernel."""
    pairs = await bare_kernels(1)
    try:
        times = [await bare_execute(pairs[0][1], "1 + 1") for _ in range(n + 10)]
    finally:
        await stop_bare(pairs)
    return times[10:]


async def bare_concurrent(sessions: int, rounds: int) -> list[float]:
    """The concurrent round trips on `sessions` bare kernels executing at once."""
    pairs = await bare_kernels(sessions)
    try:
        for _, kc in pairs:
            await bare_execute(kc, "1")

        async def loop(kc) -> list[float]:
            return [await bare_execute(kc, CONCURRENT_CODE) for _ in range(rounds)]

        lists = await asyncio.gather(*(loop(kc) for _, kc in pairs))
    finally:
        await stop_bare(pairs)
    return [t for times in lists for t in times]


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
            print(f"bare local kernel round trip (ipc)    {p50_p95(bare)}")
            print(f"sandbox overhead                       p50 {ms(overhead)}")

            for i in range(SESSIONS):
                await pool.execute(f"c{i}", "1")

            async def session_loop(key: str) -> list[float]:
                times = []
                for _ in range(ROUNDS):
                    started = time.perf_counter()
                    await pool.execute(key, CONCURRENT_CODE)
                    times.append(time.perf_counter() - started)
                return times

            lists = await asyncio.gather(*(session_loop(f"c{i}") for i in range(SESSIONS)))
            concurrent = [t for times in lists for t in times]
            print(f"{SESSIONS} sessions executing at once        {p50_p95(concurrent)}  ({len(concurrent)})")
        finally:
            await pool.close()
        bare = await bare_concurrent(SESSIONS, ROUNDS)
        print(f"{SESSIONS} bare local kernels at once      {p50_p95(bare)}  (no containers, no turns)")

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
