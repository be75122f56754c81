"""PostgreSQL restarted while a run streams across processes: the stream read from an API-only replica
goes on to the run's end while a worker drives the run, nothing stored before is lost, and both
processes serve new runs afterwards without being restarted. The test runs its own PostgreSQL
cluster (the suite's shared one is never restarted)."""

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.scripted_model import ScriptedModel, slow_or_default
from tests.support.server import Server, database_env, free_port


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL cluster of this module's own: `restart()` restarts it."""
    database_env("postgresql")  # skips (fails in CI) where the suite runs without PostgreSQL
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.fail("PostgreSQL's binaries are missing (scripts/test installs them)")
    root = tempfile.mkdtemp(prefix="assistd-pg-restart.")  # pytest's own tmp dirs are root's alone
    shutil.chown(root, "postgres")
    port = free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"

    def pg(*args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120
        )

    pg(str(bin_dir / "initdb"), "-D", f"{root}/data", "-A", "trust", "-U", "postgres")
    ctl = [str(bin_dir / "pg_ctl"), "-D", f"{root}/data", "-l", f"{root}/log", "-o", options, "-w"]
    pg(*ctl, "start")

    class Cluster:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

        @staticmethod
        def restart() -> None:
            pg(*ctl, "-m", "fast", "restart")

    yield Cluster
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *ctl, "-m", "immediate", "stop"], capture_output=True, timeout=120
    )
    shutil.rmtree(root, ignore_errors=True)


def test_a_stream_outlives_a_postgres_restart_and_the_processes_recover(postgres, tmp_path):
    with ScriptedModel(script=slow_or_default) as model:
        env = {
            "ASSISTD_MODEL_BASE_URL": model.base_url,
            "ASSISTD_DATABASE_URL": postgres.url,
            "ASSISTD_LEASE_SECONDS": "5",
        }
        data = tmp_path / "data"
        with Server(data, env=env, args=["--no-worker"]) as api, Server(data, env=env) as worker:
            client = api.client(timeout=60)
            assistant = client.beta.assistants.create(model="scripted-model", name="before the restart")
            thread = client.beta.threads.create(messages=[{"role": "user", "content": "slow 4 restart"}])
            deltas, events, restarted = 0, [], False
            started = time.monotonic()
            with client.beta.threads.runs.create(thread.id, assistant_id=assistant.id, stream=True) as stream:
                for event in stream:
                    events.append(event.event)
                    deltas += event.event == "thread.message.delta"
                    if deltas == 10 and not restarted:
                        postgres.restart()
                        restarted = True
                    assert time.monotonic() - started < 60, "the stream hung"
            assert restarted
            assert events[-1] in ("thread.run.completed", "thread.run.failed", "error"), events[-5:]
            run = client.beta.threads.runs.list(thread.id).data[0]
            assert run.status in ("completed", "failed")
            if events[-1] == "thread.run.completed":  # the stream went on: it missed no piece
                text = client.beta.threads.messages.list(thread.id, limit=1).data[0].content[0].text.value
                assert text == "word " * 80

            # Nothing stored before the restart is lost.
            assert client.beta.assistants.retrieve(assistant.id).name == "before the restart"
            first = client.beta.threads.messages.list(thread.id, order="asc").data[0]
            assert first.content[0].text.value == "slow 4 restart"

            # Both processes serve new runs, created and streamed on either.
            for server in (api, worker):
                after = server.client(timeout=60).beta.threads.create_and_run_poll(
                    assistant_id=assistant.id,
                    thread={"messages": [{"role": "user", "content": "after the restart"}]},
                )
                assert after.status == "completed", after.last_error
            with worker.client(timeout=60).beta.threads.create_and_run(
                assistant_id=assistant.id,
                thread={"messages": [{"role": "user", "content": "streamed after"}]},
                stream=True,
            ) as stream:
                assert [e.event for e in stream][-1] == "thread.run.completed"
