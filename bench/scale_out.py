"""Scale-out benchmark: several `assistd serve` processes on one PostgreSQL database and one data
directory, the scripted model answering at once.

Printed:
- runs/s with 1, 2 and 4 worker processes behind one API-only replica (`--no-worker`): `--runs`
  runs created at once through that replica by 16 threads, from the first request to the last run
  completed;
- event latency: from the moment the model sends the first piece of its answer (20 ms after the
  call, as a model thinks first) to the client's first `thread.message.delta`, for a run streamed
  from the process that drives it and for one streamed from an API-only replica while another
  process drives it (the cross-replica path: event table, NOTIFY, read back), p50 and p95 over
  `--streams` runs each; the first delta is also where the answer's step and message are created;
- settle time: a worker killed (SIGKILL) while a run's answer streams, to the run `failed`, with the
  lease given (`--lease`).

    python bench/scale_out.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
        [--runs 200] [--streams 40] [--lease 2] [--rounds 1]
"""

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import p50_p95  # noqa: E402
from tests.support.scripted_model import ScriptedModel, default_reply, last_user_text, text  # noqa: E402
from tests.support.server import Server  # noqa: E402

TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}
ASKED: dict[str, float] = {}  # marker -> when the model was asked
SENT: dict[str, float] = {}  # marker -> when the model sent the first piece of its answer


def script(request: dict):
    said = last_user_text(request)
    ASKED.setdefault(said, time.perf_counter())
    if said.startswith("slow"):
        return text("word " * 400, piece=5, delay=0.05)
    if said.startswith("latency"):
        return text("Hello there.", piece=20, delay=0.02)
    return default_reply(request)


def sent(request: dict, payload: str) -> None:
    if '"content": "' in payload and '"content": ""' not in payload:
        SENT.setdefault(last_user_text(request), time.perf_counter())


def create(http: httpx.Client, assistant_id: str, content: str, stream: bool = False):
    body = {"assistant_id": assistant_id, "thread": {"messages": [{"role": "user", "content": content}]}}
    if stream:
        return http.stream("POST", "/threads/runs", json={**body, "stream": True})
    response = http.post("/threads/runs", json=body)
    response.raise_for_status()
    return response.json()


def wait_terminal(http: httpx.Client, run: dict, seconds: float = 120) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = http.get(f"/threads/{run['thread_id']}/runs/{run['id']}").json()["status"]
        if status in TERMINAL:
            return status
        time.sleep(0.02)
    raise RuntimeError(f"run {run['id']} did not end")


def runs_per_second(api: Server, assistant_id: str, runs: int) -> float:
    with httpx.Client(base_url=api.base_url, timeout=120) as http:
        started = time.perf_counter()

        def one(n: int) -> str:
            return wait_terminal(http, create(http, assistant_id, f"throughput {time.time()} {n}"))

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(one, range(runs)))
        elapsed = time.perf_counter() - started
    if statuses != ["completed"] * runs:
        raise RuntimeError(f"not all runs completed: {sorted(set(statuses))}")
    return runs / elapsed


def first_delta_latency(server: Server, assistant_id: str, streams: int) -> list[float]:
    latencies = []
    with httpx.Client(base_url=server.base_url, timeout=120) as http:
        for n in range(streams + 3):
            marker = f"latency {time.time()} {n}"
            got = None
            with create(http, assistant_id, marker, stream=True) as response:
                for line in response.iter_lines():
                    if got is None and line == "event: thread.message.delta":
                        got = time.perf_counter()
            if n >= 3:  # three to warm up
                latencies.append(got - SENT[marker])
    return latencies


def settle_time(api: Server, worker: Server, assistant_id: str) -> float:
    with httpx.Client(base_url=api.base_url, timeout=120) as http:
        marker = f"slow {time.time()}"
        run = create(http, assistant_id, marker)
        while marker not in ASKED:
            time.sleep(0.01)
        time.sleep(0.2)
        worker.kill()
        killed = time.perf_counter()
        status = wait_terminal(http, run)
        if status != "failed":
            raise RuntimeError(f"the killed worker's run ended {status}")
        return time.perf_counter() - killed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", required=True, help="a PostgreSQL database to use (its tables are shared)"
    )
    parser.add_argument("--runs", type=int, default=200, help="0: latency and settle time only")
    parser.add_argument("--streams", type=int, default=40)
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=1, help="latency measured this many times over")
    args = parser.parse_args()

    with ScriptedModel(script=script, sent=sent) as model, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = {
            "ASSISTD_MODEL_BASE_URL": model.base_url,
            "ASSISTD_DATABASE_URL": args.database_url,
            "ASSISTD_LEASE_SECONDS": str(args.lease),
        }
        with Server(data, env=env, args=["--no-worker"]) as api:
            assistant_id = httpx.post(f"{api.base_url}/assistants", json={"model": "scripted-model"}).json()[
                "id"
            ]
            workers: list[Server] = []
            try:
                for count in (1, 2, 4) if args.runs else (1,):
                    while len(workers) < count:
                        workers.append(Server(data, env=env).start())
                    if not args.runs:
                        break
                    rate = runs_per_second(api, assistant_id, args.runs)
                    print(f"{count} worker process(es): {rate:6.1f} runs/s ({args.runs} runs, 16 at a time)")
                for extra in workers[1:]:
                    extra.stop()
                del workers[1:]
                for _ in range(args.rounds):
                    local = first_delta_latency(workers[0], assistant_id, args.streams)
                    cross = first_delta_latency(api, assistant_id, args.streams)
                    print(f"first delta, same process      {p50_p95(local)}")
                    print(f"first delta, cross replica     {p50_p95(cross)}   (target: p50 <= 5 ms)")
                    gap = 1000 * (statistics.median(cross) - statistics.median(local))
                    print(f"cross minus same (medians)     {gap:7.1f} ms")
                took = settle_time(api, workers[0], assistant_id)
                print(f"killed worker's run settled    {took:7.2f} s   (lease {args.lease:g} s)")
            finally:
                for worker in workers:
                    worker.stop()


if __name__ == "__main__":
    main()
