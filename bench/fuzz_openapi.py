"""Fuzz the Assistants-API surface from OpenAI's published OpenAPI spec, and print what it found.

    python -m bench.fuzz_openapi PATH/TO/openapi.yaml [--max-examples 100] [--seed N] [--workers 2]

Starts the scripted model and a real `assistd serve` (with an API key, so auth is checked too),
seeds real objects, then runs `schemathesis run` on the spec's assistants, threads, messages, runs,
run steps, files and vector stores operations with this module as its hooks, and prints a summary:
cases, response statuses by operation, failed checks. A failure where the server follows OpenAI's
behaviour, a documented rule or a storage limit rather than the letter of the spec is counted under its reason
(`EXPLAINED`); any other is listed in full. The spec itself is not part of the repo.

Before each request the hooks put live objects where the spec has ids, so the fuzz gets past
"not found" to the validation behind it: a shared seeded object for reads and updates, a fresh one
for a call that deletes its object or changes its state (a run is created on a new thread, cancelled
or given tool outputs on a new run waiting for them). Ids inside the body (`assistant_id`,
`file_id(s)`, `vector_store_ids`) are swapped the same way; the lengths of lists are kept, so limits
are still tested.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import schemathesis

SEEDS_ENV = "ASSISTD_FUZZ_SEEDS"  # JSON handed from the driver to the hooks in schemathesis's process
PATHS = r"^/(assistants|threads|files|vector_stores)"
API_KEY = "fuzz-key"
WAIT_TOOL = "fuzz_wait"  # a function the scripted model calls when the message says `call: fuzz_wait`
DOCUMENT = b"The Zephyr launch code is 7-ALPHA-9. Meetings are planned on Tuesdays.\n" * 20

# Where the server follows OpenAI's behaviour, a documented rule or a storage limit, not the spec's letter:
# (failure code, pattern of "OPERATION: reason", why). Every other failure is listed as unexplained.
EXPLAINED = [
    ("ST108", r"null is not .*(first_id|last_id)", "OpenAI gives an empty list null first_id and last_id"),
    ("ST108", r"null is not .*(expires_at|status_details)", "OpenAI's file objects carry these as null"),
    (
        "ST108",
        r"null is not .*VectorStoreExpirationAfter",
        "OpenAI returns expires_after: null without a policy",
    ),
    (
        "ST108",
        r'"evals" is not one of',
        "the spec takes purpose evals on upload but omits it from the file object",
    ),
    ("ST105", r"application/octet-stream", "file content is the file's bytes, as at OpenAI"),
    ("ST105", r"text/event-stream", "stream: true answers with server-sent events, as at OpenAI"),
    (
        "ST202",
        r"an unknown field inside",
        "OpenAI rejects unknown fields at any depth (the spec only at the top)",
    ),
    ("ST202", r"param=limit:", "the list limits OpenAI documents in words (1-100; files 1-10,000)"),
    ("ST202", r"param=(after|before):", "a cursor must name an object in the list"),
    ("ST202", r"names must be 1-64 characters", "the name rule OpenAI documents in words"),
    ("ST202", r"chunk_overlap_tokens", "documented in words: the overlap is at most half the chunk size"),
    ("ST202", r"Provide exactly one of", "a batch takes file_ids or files, not both"),
    ("ST202", r"param=tool_outputs", "tool outputs must answer the run's pending tool calls"),
    ("ST202", r"param=query:", "a search needs a query (a non-empty string, or 1 to 10 of them)"),
    (
        "ST202",
        r"attachments\[\d+\]\.file_id: Missing",
        "an attachment names its file (the spec's rule sits on the array)",
    ),
    (
        "ST205",
        r"OPTIONS /v1/threads/runs\)",
        "GET and DELETE /threads/runs reach /threads/{thread_id} (id 'runs')",
    ),
    ("ST201", r": in body - [\w.> -]+: Incorrect type$", "null for an optional field counts as not sent"),
    ("ST201", r"Array with invalid items: output: Incorrect type", "a null tool output counts as empty"),
    ("ST201", r"^POST /threads: in body - incorrect type$", "a null body to POST /threads counts as no body"),
    ("ST201", r"file_search -> Missing required property", "an empty file_search counts as no vector stores"),
    (
        "ST201",
        r"^POST /files: .*object with unexpected properties",
        "an upload ignores form fields it does not know",
    ),
    ("ST202", r"param=filters[.\w\[\]]*: .*empty array", "a compound filter needs at least one filter"),
    ("ST202", r"a NUL character", "PostgreSQL cannot store a NUL character, so no database takes one"),
]


# Seeding (used by the driver and, for fresh objects, by the hooks)


class Seeder:
    """Creates real objects through the API and waits for the background work they start."""

    def __init__(self, base_url: str):
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60
        )

    def post(self, path: str, body: dict | None = None) -> dict:
        response = self.http.post(path, json=body or {})
        response.raise_for_status()
        return response.json()

    def get(self, path: str) -> dict:
        response = self.http.get(path)
        response.raise_for_status()
        return response.json()

    def file(self) -> str:
        files = {"file": ("zephyr.txt", DOCUMENT, "text/plain")}
        response = self.http.post("/files", files=files, data={"purpose": "assistants"})
        response.raise_for_status()
        return response.json()["id"]

    def assistant(self) -> str:
        tool = {"type": "function", "function": {"name": WAIT_TOOL, "parameters": {"type": "object"}}}
        return self.post("/assistants", {"model": "scripted-model", "tools": [tool]})["id"]

    def thread(self) -> str:
        return self.post("/threads", {"messages": [{"role": "user", "content": "hello"}]})["id"]

    def message(self, thread_id: str) -> str:
        return self.post(f"/threads/{thread_id}/messages", {"role": "user", "content": "hi"})["id"]

    def run(self, assistant_id: str, waiting: bool) -> tuple[str, str]:
        """(thread id, run id) of a new run, waiting for tool outputs or finished."""
        thread_id = self.thread()
        self.message(thread_id)
        if waiting:
            self.post(f"/threads/{thread_id}/messages", {"role": "user", "content": f"call: {WAIT_TOOL}"})
        run = self.post(f"/threads/{thread_id}/runs", {"assistant_id": assistant_id})
        wanted = "requires_action" if waiting else "completed"
        return thread_id, self.poll(f"/threads/{thread_id}/runs/{run['id']}", wanted)["id"]

    def tool_call_id(self, thread_id: str, run_id: str) -> str:
        run = self.get(f"/threads/{thread_id}/runs/{run_id}")
        return run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]

    def vector_store(self, file_ids: list[str], wait: bool = False) -> str:
        store = self.post("/vector_stores", {"name": "fuzz", "file_ids": file_ids})
        if wait:
            self.poll(f"/vector_stores/{store['id']}", "completed")
        return store["id"]

    def attach(self, store_id: str, file_id: str) -> None:
        self.post(f"/vector_stores/{store_id}/files", {"file_id": file_id, "attributes": {"team": "a"}})

    def batch(self, store_id: str, file_id: str) -> str:
        return self.post(f"/vector_stores/{store_id}/file_batches", {"file_ids": [file_id]})["id"]

    def poll(self, path: str, status: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            found = self.get(path)
            if found["status"] == status:
                return found
            if found["status"] in ("failed", "cancelled", "expired", "incomplete", "completed"):
                raise RuntimeError(f"{path} ended {found['status']!r}, not {status!r}: {found}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path} is {found['status']!r} after {timeout} s, not {status!r}")
            time.sleep(0.1)


def seed(seeder: Seeder) -> dict:
    """The shared objects every case may read or change (but not delete)."""
    file_id = seeder.file()
    waiter_id = seeder.assistant()  # runs waiting for tool outputs: not handed to the fuzz to change
    thread_id = seeder.thread()
    run_thread, run_id = seeder.run(waiter_id, waiting=True)
    seeder.post(
        f"/threads/{run_thread}/runs/{run_id}/submit_tool_outputs",
        {"tool_outputs": [{"tool_call_id": seeder.tool_call_id(run_thread, run_id), "output": "42"}]},
    )
    seeder.poll(f"/threads/{run_thread}/runs/{run_id}", "completed")
    steps = seeder.get(f"/threads/{run_thread}/runs/{run_id}/steps")["data"]
    store_id = seeder.vector_store([file_id], wait=True)
    batch_id = seeder.batch(store_id, file_id)
    return {
        "file_id": file_id,
        "assistant_id": seeder.assistant(),
        "waiter_id": waiter_id,
        "thread_id": thread_id,
        "message_id": seeder.message(thread_id),
        "run_thread_id": run_thread,
        "run_id": run_id,
        "step_id": steps[0]["id"],
        "vector_store_id": store_id,
        "batch_id": batch_id,
        "scratch_store_id": seeder.vector_store([]),
    }


# Hooks (run inside schemathesis's process, which loads this module through SCHEMATHESIS_HOOKS)

_hooks: dict = {}
_lock = threading.Lock()


def _state() -> tuple[Seeder, dict]:
    with _lock:
        if not _hooks:
            config = json.loads(os.environ[SEEDS_ENV])
            _hooks.update(seeder=Seeder(config["base_url"]), seeds=config["seeds"], log=config["log"])
        return _hooks["seeder"], _hooks["seeds"]


def _path_ids(method: str, path: str, seeder: Seeder, seeds: dict) -> dict:
    """Live ids for an operation's path parameters."""
    ids = dict(seeds)
    if path.startswith("/threads/{thread_id}/runs/{run_id}"):
        ids["thread_id"] = seeds["run_thread_id"]
        if path.endswith(("/cancel", "/submit_tool_outputs")):
            ids["thread_id"], ids["run_id"] = seeder.run(seeds["waiter_id"], waiting=True)
    elif path == "/threads/{thread_id}/runs" and method == "POST":
        ids["thread_id"] = seeder.thread()
    elif path.startswith("/vector_stores/{vector_store_id}/file_batches/{batch_id}") and method == "POST":
        ids["vector_store_id"] = seeds["scratch_store_id"]
        ids["batch_id"] = seeder.batch(seeds["scratch_store_id"], seeder.file())
    elif method == "DELETE" and "{" in path:
        last = re.findall(r"\{(\w+)\}", path)[-1]
        if last == "assistant_id":
            ids[last] = seeder.assistant()
        elif last == "thread_id":
            ids[last] = seeder.thread()
        elif last == "message_id":
            ids[last] = seeder.message(seeds["thread_id"])
        elif last == "vector_store_id":
            ids[last] = seeder.vector_store([])
        elif path.startswith("/vector_stores/"):
            ids["vector_store_id"], ids["file_id"] = seeds["scratch_store_id"], seeder.file()
            seeder.attach(ids["vector_store_id"], ids["file_id"])
        else:
            ids["file_id"] = seeder.file()
    return ids


def _swap_body_ids(value, ids: dict, key: str = ""):
    """The body with its id strings replaced by live ids (list lengths and other values kept)."""
    singles = {
        "assistant_id": ids["assistant_id"],
        "file_id": ids["file_id"],
        "tool_call_id": ids.get("call"),
    }
    lists = {"file_ids": ids["file_id"], "vector_store_ids": ids["vector_store_id"]}
    if isinstance(value, dict):
        return {k: _swap_body_ids(v, ids, k) for k, v in value.items()}
    if isinstance(value, list):
        if key in lists:
            return [lists[key] if isinstance(v, str) else v for v in value]
        return [_swap_body_ids(v, ids) for v in value]
    if isinstance(value, str) and singles.get(key):
        return singles[key]
    return value


@schemathesis.hook
def before_call(context, case, kwargs):
    seeder, seeds = _state()
    path, method = case.operation.path, case.method.upper()
    ids = _path_ids(method, path, seeder, seeds)
    if path.endswith("/submit_tool_outputs"):
        ids["call"] = seeder.tool_call_id(ids["thread_id"], ids["run_id"])
    # Only a real change is assigned: schemathesis re-checks a case whose parts were set.
    if case.path_parameters:
        live = {name: ids.get(name, value) for name, value in case.path_parameters.items()}
        if live != case.path_parameters:
            case.path_parameters = live
    if isinstance(case.body, dict | list):
        body = _swap_body_ids(case.body, ids)
        if body != case.body:
            case.body = body


def _reason(failure, response) -> str:
    """One line saying what a failed check saw: the schema rule broken, or the error returned (with
    the values that vary from case to case left out, so that one rule is one line)."""
    lines = [line.strip() for line in failure.message.splitlines() if line.strip()]
    where = next((line for line in lines if line.startswith("Schema at ")), "")
    if where:
        return f"{lines[0]} ({where.removeprefix('Schema at ').rstrip(':')})"
    invalid = [i for i, line in enumerate(lines) if line.startswith("Invalid component")]
    if invalid:  # what made the accepted request invalid
        rest = [line for line in lines[invalid[0] + 1 :] if line.startswith("- ")]
        return " ".join([lines[invalid[0]].removeprefix("Invalid component: "), *rest])
    if response.status_code < 400:
        return lines[0] if lines else failure.title
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.text[:120]}"
    param, message = error.get("param") or "", error.get("message", "")
    if message.startswith("Unrecognized request argument"):
        return f"{response.status_code} an unknown field inside '{param.rpartition('.')[0]}'"
    message = re.sub(r"\[[^\]]*\]", "[…]", re.sub(r"'[^']*'", "'…'", message))
    return f"{response.status_code} param={param}: {message}"


def _log(entry: dict) -> None:
    _state()
    with _lock, open(_hooks["log"], "a") as log:
        log.write(json.dumps(entry) + "\n")


@schemathesis.hook
def after_call(context, case, response):
    _log({"operation": f"{case.method.upper()} {case.operation.path}", "status": response.status_code})


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Logs each failed check (all of them, not only the first per operation) and keeps it."""
    operation = f"{case.method.upper()} {case.operation.path}"
    _log(
        {
            "operation": operation,
            "check": f"{failure.code} {failure.title}",
            "reason": _reason(failure, response),
        }
    )
    return True


# Driver


def run_schemathesis(spec: Path, base_url: str, seeds: dict, out: Path, args) -> dict:
    log = out / "calls.jsonl"
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "SCHEMATHESIS_HOOKS": "bench.fuzz_openapi",
        SEEDS_ENV: json.dumps({"base_url": base_url, "seeds": seeds, "log": str(log)}),
    }
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        str(spec.resolve()),
        "--url",
        base_url,
        "--header",
        f"Authorization: Bearer {API_KEY}",
        "--include-path-regex",
        PATHS,
        "--checks",
        "all",
        # The spec documents only 200 (and 429) responses: every 400, 401 and 404 would count.
        "--exclude-checks",
        "status_code_conformance",
        "--max-examples",
        str(args.max_examples),
        "--workers",
        str(args.workers),
        "--request-timeout",
        "60",
        "--report",
        "json",
        "--report-json-path",
        str(out / "report.json"),
        "--output-truncate",
        "false",
        "--output-sanitize",
        "false",
        "--no-color",
    ]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    with open(out / "schemathesis.log", "w") as output:
        subprocess.run(command, cwd=out, env=env, stdout=output, stderr=subprocess.STDOUT, check=False)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    report = json.loads((out / "report.json").read_text())
    return {"calls": calls, "report": report}


def _explained(check: str, operation: str, reason: str) -> str | None:
    code, seen = check.split()[0], f"{operation}: {reason}"
    return next((why for c, pattern, why in EXPLAINED if c == code and re.search(pattern, seen)), None)


def summary(result: dict, out: Path) -> str:
    calls, report = result["calls"], result["report"]
    by_operation: dict[str, Counter] = defaultdict(Counter)
    failures: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for entry in calls:
        if "status" in entry:
            by_operation[entry["operation"]][entry["status"]] += 1
        else:
            failures[entry["check"]][entry["operation"]][entry["reason"]] += 1
    statuses = sum(by_operation.values(), Counter())
    lines = [
        f"cases: {report['test_cases']['generated']} generated, {statuses.total()} requests sent,"
        f" {report['operations']['tested']} operations tested",
        "statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())),
        "server errors (5xx): " + str(sum(n for s, n in statuses.items() if s >= 500)),
        "",
        "by operation:",
    ]
    probes = [o for o, counts in by_operation.items() if set(counts) == {405}]
    for operation in sorted(by_operation.keys() - set(probes), key=lambda o: (o.split(" ", 1)[1], o)):
        counts = by_operation[operation]
        lines.append(f"  {operation:<70} " + " ".join(f"{s}:{n}" for s, n in sorted(counts.items())))
    lines.append(f"  and {len(probes)} probes of methods the spec does not have at a path, each a 405")
    explained: Counter = Counter()
    lines += ["", "unexplained failures by check:"]
    for check, operations in sorted(failures.items()):
        shown = []
        for operation, reasons in sorted(operations.items()):
            for reason, count in reasons.most_common():
                why = _explained(check, operation, reason)
                if why:
                    explained[(check.split()[0], why)] += count
                else:
                    shown.append(f"      {count:4} x {operation}: {reason}")
        if shown:
            lines += [f"  {check}", *shown]
    if lines[-1] == "unexplained failures by check:":
        lines.append("  none")
    lines += [
        "",
        "explained (OpenAI's behaviour, a documented rule or a storage limit, not the spec's letter):",
    ]
    lines += [f"  {count:5} x {code} {why}" for (code, why), count in sorted(explained.items())]
    errors = report.get("errors") or []
    lines += [
        "",
        "schemathesis errors: " + (", ".join(f"{e['title']} x{e['count']}" for e in errors) or "none"),
    ]
    lines += [f"details: {out / 'schemathesis.log'}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("spec", type=Path, help="OpenAI's openapi.yaml (github.com/openai/openai-openapi)")
    parser.add_argument("--max-examples", type=int, default=100, help="fuzzed cases per operation")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="where the logs go (default: a temporary directory)")
    args = parser.parse_args()

    from tests.support.scripted_model import ScriptedModel
    from tests.support.server import Server

    out = args.out or Path(tempfile.mkdtemp(prefix="assistd-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    with ScriptedModel() as model:
        env = {"ASSISTD_MODEL_BASE_URL": model.base_url, "ASSISTD_API_KEY": API_KEY}
        with Server(out / "data", env=env) as server:
            seeds = seed(Seeder(server.base_url))
            started = time.monotonic()
            result = run_schemathesis(args.spec, server.base_url, seeds, out, args)
            elapsed = time.monotonic() - started
    print(summary(result, out))
    print(f"fuzzing took {elapsed:.0f} s")


if __name__ == "__main__":
    main()
