"""Run-engine benchmark: server overhead per step of a run and of a response, and runs/s with 50
threads running at once.

A real `assistd serve` process and the scripted chat-completions model (real HTTP, instant answers)
run on this machine. Overhead per step = wall time of a streamed run (request to `thread.run.completed`)
or streamed response (request to `response.completed`) minus the time of the same model call made
directly, divided by the steps (one here). Runs and responses alternate, so both see the same load.

    python bench/runs.py [--runs 200] [--threads 50] [--seconds 20]
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import p50_p95  # noqa: E402
from tests.support.scripted_model import ScriptedModel, text, tool_call  # noqa: E402
from tests.support.server import Server  # noqa: E402

LOOKUP_TOOL = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
}


def stream_run(http: httpx.Client, assistant_id: str, content: str) -> tuple[float, list[str]]:
    """Create a thread and run it, streamed; return the wall time and the event names."""
    started = time.perf_counter()
    events = []
    body = {
        "assistant_id": assistant_id,
        "stream": True,
        "thread": {"messages": [{"role": "user", "content": content}]},
    }
    with http.stream("POST", "/threads/runs", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("event: "):
                events.append(line[7:])
    return time.perf_counter() - started, events


def stream_response(http: httpx.Client, content: str) -> tuple[float, list[str]]:
    """Create a response, streamed; return the wall time and the event names."""
    started = time.perf_counter()
    events = []
    body = {"model": "scripted-model", "stream": True, "input": content}
    with http.stream("POST", "/responses", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("event: "):
                events.append(line[7:])
    return time.perf_counter() - started, events


def direct_model_call(http: httpx.Client, model_url: str, content: str) -> float:
    body = {
        "model": "scripted-model",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": content}],
    }
    started = time.perf_counter()
    with http.stream("POST", model_url + "/chat/completions", json=body) as response:
        for _ in response.iter_lines():
            pass
    return time.perf_counter() - started


def overhead(server: Server, model: ScriptedModel, runs: int) -> None:
    with httpx.Client(base_url=server.base_url, timeout=60) as http, httpx.Client(timeout=60) as raw:
        assistant = http.post("/assistants", json={"model": "scripted-model"}).json()["id"]
        for _ in range(10):  # warm up
            stream_run(http, assistant, "warm up")
            stream_response(http, "warm up")
        walls, answers, models = [], [], []
        for i in range(runs):
            wall, events = stream_run(http, assistant, f"question {i}")
            assert events[-2] == "thread.run.completed", events
            walls.append(wall)
            wall, events = stream_response(http, f"question {i}")
            assert events[-2] == "response.completed", events
            answers.append(wall)
            models.append(direct_model_call(raw, model.base_url, f"question {i}"))
        print(f"plain answers: {runs} runs and {runs} responses, 1 model call and 1 step each")
        print(f"  run wall time      {p50_p95(walls)}")
        print(f"  response wall time {p50_p95(answers)}")
        print(f"  model call alone   {p50_p95(models)}")
        for name, times in (("run", walls), ("response", answers)):
            per_step = [w - m for w, m in zip(times, models, strict=True)]  # a plain answer is one step
            print(f"  {name + ' overhead':<18} {p50_p95(per_step)} per step")

        tool_assistant = http.post(
            "/assistants", json={"model": "scripted-model", "tools": [LOOKUP_TOOL]}
        ).json()["id"]
        walls = []
        for i in range(max(20, runs // 4)):
            model.push(tool_call("lookup", {}))
            wall, events = stream_run(http, tool_assistant, f"tool {i}")
            assert "thread.run.requires_action" in events, events
            walls.append(wall)
        print(f"  tool-call step (to requires_action) p50 {1000 * statistics.median(walls):6.1f} ms")


def load(server: Server, threads: int, seconds: float) -> None:
    stop = time.monotonic() + seconds
    done, errors, latencies = [0], [], []
    lock = threading.Lock()
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        assistant = http.post("/assistants", json={"model": "scripted-model"}).json()["id"]

    def worker(n: int) -> None:
        with httpx.Client(base_url=server.base_url, timeout=120) as http:
            i = 0
            while time.monotonic() < stop:
                try:
                    wall, events = stream_run(http, assistant, f"worker {n} run {i}")
                    ok = events[-2:] == ["thread.run.completed", "done"]
                except (httpx.HTTPError, json.JSONDecodeError) as exc:
                    ok, events = False, [repr(exc)]
                with lock:
                    if ok:
                        done[0] += 1
                        latencies.append(wall)
                    else:
                        errors.append(events[-3:])
                i += 1

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - started
    print(f"{threads} threads running runs at once for {elapsed:.1f} s:")
    print(f"  {done[0]} runs completed, {done[0] / elapsed:.1f} runs/s, errors: {len(errors)}")
    if latencies:
        print(f"  run latency {p50_p95(latencies)}")
    for sample in errors[:3]:
        print("  error sample:", sample)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedModel(script=lambda r: text("A short answer.")) as model,
    ):
        with Server(Path(tmp) / "data", env={"ASSISTD_MODEL_BASE_URL": model.base_url}) as server:
            overhead(server, model, args.runs)
            load(server, args.threads, args.seconds)


if __name__ == "__main__":
    main()
