"""Containers benchmark: an explicit container's create plus its first code execution, with the
warm pool, through the API of a real `assistd serve` process.

Each round creates a container (`POST /v1/containers`: a warm kernel becomes its session) and at
once streams a response whose scripted model runs `print(1)` in it. Printed per part, p50 and p95:
`create` (the POST), `first execution` (the response's `code_interpreter_call.interpreting` event to
its `.completed`: the code's round trip through the kernel, as the server streams it),
`create + first execution` (the two together: the issue's target, 150 ms p50), and the whole
request to `response.completed` (adds the model calls, answered at once by the scripted model).
Containers are deleted after each round, so the warm pool refills between rounds as it would
between users (`--pause` seconds).

    python bench/containers.py [--rounds 30] [--pause 1.0]
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import p50_p95  # noqa: E402
from tests.support.scripted_model import ScriptedModel  # noqa: E402
from tests.support.server import Server  # noqa: E402


def first_execution(http: httpx.Client, container_id: str) -> tuple[float, float]:
    """Stream a response that runs code in the container: (interpreting -> completed, whole request)."""
    body = {
        "model": "scripted-model",
        "input": "run: print(1)",
        "stream": True,
        "tools": [{"type": "code_interpreter", "container": container_id}],
    }
    started = time.perf_counter()
    seen: dict[str, float] = {}
    with http.stream("POST", "/responses", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data: {"):
                seen.setdefault(json.loads(line[6:])["type"], time.perf_counter())
    if "response.completed" not in seen:
        raise RuntimeError(f"the response did not complete: {sorted(seen)}")
    execution = (
        seen["response.code_interpreter_call.completed"] - seen["response.code_interpreter_call.interpreting"]
    )
    return execution, seen["response.completed"] - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between rounds (the pool refills)")
    args = parser.parse_args()

    creates, executions, both, wholes = [], [], [], []
    with ScriptedModel() as model, tempfile.TemporaryDirectory() as tmp:
        env = {"ASSISTD_MODEL_BASE_URL": model.base_url, "ASSISTD_SANDBOX_PREWARM": "1"}
        with (
            Server(Path(tmp) / "data", env=env) as server,
            httpx.Client(base_url=server.base_url, timeout=120) as http,
        ):
            for round_ in range(args.rounds + 2):  # two rounds to warm up, not counted
                time.sleep(args.pause)
                started = time.perf_counter()
                created = http.post("/containers", json={"name": f"bench-{round_}"})
                created.raise_for_status()
                create = time.perf_counter() - started
                execution, whole = first_execution(http, created.json()["id"])
                http.delete(f"/containers/{created.json()['id']}").raise_for_status()
                if round_ >= 2:
                    creates.append(create)
                    executions.append(execution)
                    both.append(create + execution)
                    wholes.append(create + whole)
    print(f"rounds: {args.rounds}, warm pool on, a {args.pause:g} s pause between rounds")
    print(f"create                           {p50_p95(creates)}")
    print(f"first execution                  {p50_p95(executions)}")
    print(f"create + first execution         {p50_p95(both)}   (target: p50 <= 150 ms)")
    print(f"create + whole first response    {p50_p95(wholes)}   (with the scripted model's calls)")


if __name__ == "__main__":
    main()
