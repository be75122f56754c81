"""assistd driven by OpenAI's official Node SDK (`openai` on npm, pinned in package-lock.json):
each `*.test.mjs` here runs under Node's test runner against a real server and the scripted model
(its default script: `run:`, `search:` and `call:` messages), and asserts the AssistantStream
helper events, their order and their content (and the ResponseStream helper for responses).
They run again on two processes sharing PostgreSQL: an API-only replica, whose runs
and responses a worker process drives, serves the SDK, and `replicas.test.mjs` cancels through the
worker a run streamed from the replica.

scripts/test installs Node and the package (`npm ci`); without them the tests skip, or fail when
CI is set. The code run needs Docker (fails instead of skipping when REQUIRE_DOCKER=1).
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.scripted_model import ScriptedModel, slow_or_default
from tests.support.server import Server, database_env

HERE = Path(__file__).resolve().parent


def _need_node() -> str:
    node = shutil.which("node")
    missing = [] if node else ["node"]
    if not (HERE / "node_modules" / "openai" / "package.json").exists():
        missing.append("tests/node/node_modules (npm ci)")
    if missing:
        reason = f"the Node SDK tests need {', '.join(missing)}; scripts/test installs them"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)
    return node


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ScriptedModel() as model:
        env = {"ASSISTD_MODEL_BASE_URL": model.base_url}
        with Server(tmp_path_factory.mktemp("node") / "data", env=env) as srv:
            yield srv


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    """An API-only replica and the worker process that drives its runs, on one PostgreSQL database."""
    database = database_env("postgresql")
    with ScriptedModel(script=slow_or_default) as model:
        env = {"ASSISTD_MODEL_BASE_URL": model.base_url, **database}
        data = tmp_path_factory.mktemp("node-replicas") / "data"
        with Server(data, env=env, args=["--no-worker"]) as api, Server(data, env=env) as worker:
            yield api, worker


def run_node(server: Server, script: str, other: Server | None = None) -> None:
    node = _need_node()
    env = {**os.environ, "ASSISTD_BASE_URL": server.base_url}
    if other is not None:
        env["ASSISTD_OTHER_BASE_URL"] = other.base_url
    done = subprocess.run(
        [node, "--test", "--test-reporter=spec", script],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}\n{server.log()}"


def test_plain_run(server):
    run_node(server, "plain.test.mjs")


def test_function_call(server):
    run_node(server, "function_call.test.mjs")


def test_file_search_with_citations(server):
    run_node(server, "file_search.test.mjs")


def test_code_run_with_image(server, docker_client):
    run_node(server, "code.test.mjs")


def test_responses(server):
    run_node(server, "responses.test.mjs")


def test_containers_and_code_interpreter(server, docker_client):
    run_node(server, "containers.test.mjs")


@pytest.mark.parametrize(
    "script",
    [
        "plain.test.mjs",
        "function_call.test.mjs",
        "file_search.test.mjs",
        "responses.test.mjs",
        "replicas.test.mjs",
    ],
)
def test_across_replicas(replicas, script):
    api, worker = replicas
    run_node(api, script, other=worker)


@pytest.mark.parametrize("script", ["code.test.mjs", "containers.test.mjs"])
def test_code_across_replicas(replicas, script, docker_client):
    api, worker = replicas
    run_node(api, script, other=worker)
