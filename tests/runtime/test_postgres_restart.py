"""PostgreSQL restarted while a run streams across processes: the stream read from an API-only replica
goes on to the run's end while a worker drives the run, nothing stored before is lost, and both
processes serve new runs afterwards without being restarted. Down for longer than the worker's
lease, no live process is taken for dead: the run still completes. An answer that ends while the
database is down ends its run as failed, saying why, once the database is back: the stream ends
with it; one that begins while it is down fails the same way, and no stream showed a message that
was not stored. Requests meanwhile get an error with a body at once. The tests run their own
PostgreSQL cluster (the suite's shared one is never restarted)."""

import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import openai
import pytest

from tests.support.scripted_model import last_user_text, text
from tests.support.server import Server, database_env, free_port
from tests.support.waiting import wait_for

# The worker beats every two seconds; the API replica looks for dead processes three times a second,
# so after an outage it looks before the worker has beaten again.
WORKER_LEASE, API_LEASE = 6.0, 1.0
TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}
FINAL = {f"thread.run.{status}" for status in TERMINAL} | {"error"}


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL cluster of this module's own: `restart()` restarts it, `stop()` and `start()`."""
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

        @staticmethod
        def stop() -> None:
            pg(*ctl, "-m", "fast", "stop")

        @staticmethod
        def start() -> None:
            pg(*ctl, "start")

    yield Cluster
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *ctl, "-m", "immediate", "stop"], capture_output=True, timeout=120
    )
    shutil.rmtree(root, ignore_errors=True)


def test_a_stream_outlives_a_postgres_restart_and_the_processes_recover(postgres, model, tmp_path):
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


@pytest.fixture(scope="module")
def env(model, postgres):
    return {
        "ASSISTD_MODEL_BASE_URL": model.base_url,
        "ASSISTD_LEASE_SECONDS": str(WORKER_LEASE),
        "ASSISTD_DATABASE_URL": postgres.url,
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tmp_path_factory.mktemp("pg-restart") / "data"


@pytest.fixture(scope="module")
def api(env, data):
    """A replica that serves the API only: the runs it creates are driven by the worker."""
    with Server(data, env={**env, "ASSISTD_LEASE_SECONDS": str(API_LEASE)}, args=["--no-worker"]) as srv:
        yield srv


@pytest.fixture(scope="module")
def worker(env, data, api):
    with Server(data, env=env) as srv:
        yield srv


def status_of(client, run) -> str | None:
    """The run's status, or None while the server cannot answer (the database is still coming back)."""
    try:
        return client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id).status
    except (openai.APIConnectionError, openai.InternalServerError):
        return None


class Follower(threading.Thread):
    """Streams a new run through the SDK in a thread, writing down every event it gets and how the
    stream ended (an exception the SDK raised, if any)."""

    def __init__(self, client, assistant_id: str, content: str):
        super().__init__(daemon=True)
        self.client, self.assistant_id, self.content = client, assistant_id, content
        self.events: list = []
        self.answering = threading.Event()
        self.raised: BaseException | None = None

    def run(self) -> None:
        try:
            with self.client.beta.threads.create_and_run(
                assistant_id=self.assistant_id,
                thread={"messages": [{"role": "user", "content": self.content}]},
                stream=True,
            ) as stream:
                for event in stream:
                    self.events.append(event)
                    if event.event == "thread.message.delta":
                        self.answering.set()
        except BaseException as exc:
            self.raised = exc

    @property
    def names(self) -> list[str]:
        return [event.event for event in self.events]

    def run_object(self):
        return next(e.data for e in self.events if e.event == "thread.run.created")


def streamed_text(follower: Follower) -> str:
    return "".join(
        part.text.value
        for event in follower.events
        if event.event == "thread.message.delta"
        for part in event.data.delta.content
    )


def assert_ends_as_a_user_can_see(follower: Follower, client):
    """The stream ended (never hung) with a final event, or an error a user can read, and the run has
    a terminal status."""
    follower.join(90)
    assert not follower.is_alive(), f"the stream hung after the restart: {follower.names[-3:]}"
    assert follower.raised is None, f"the stream broke off: {follower.raised!r} after {follower.names[-3:]}"
    assert follower.names[-1] in FINAL, follower.names[-3:]
    if follower.names[-1] == "error":
        assert follower.events[-1].data.message
    run = follower.run_object()
    wait_for(lambda: status_of(client, run) in TERMINAL, 30, "the run never ended")
    return client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)


def assert_both_processes_serve_new_runs(api, worker, assistant_id: str, label: str):
    """Neither process was restarted: both create, stream and complete new runs."""
    for n, replica in enumerate((api, worker)):
        client = replica.client(timeout=30)
        with client.beta.threads.create_and_run(
            assistant_id=assistant_id,
            thread={"messages": [{"role": "user", "content": f"{label} streamed {n}"}]},
            stream=True,
        ) as stream:
            names = [event.event for event in stream]
        assert names[-1] == "thread.run.completed", names
        polled = client.beta.threads.create_and_run_poll(
            assistant_id=assistant_id,
            thread={"messages": [{"role": "user", "content": f"{label} polled {n}"}]},
        )
        assert polled.status == "completed"
        [said, _] = client.beta.threads.messages.list(polled.thread_id).data
        assert said.content[0].text.value == f"You said: {label} polled {n}"


def outage(postgres, client, assistant_id: str, seconds: float) -> None:
    """PostgreSQL stopped for `seconds`, then started again."""
    postgres.stop()
    try:
        # Meanwhile a request gets an error with a body at once: no hang, no bare 500.
        with pytest.raises(openai.InternalServerError) as refused:
            client.beta.assistants.retrieve(assistant_id)
        assert refused.value.status_code == 500 and refused.value.body["message"]
        time.sleep(seconds)
    finally:
        postgres.start()


def test_no_live_process_is_taken_for_dead_after_an_outage_longer_than_the_lease(postgres, api, worker):
    client = api.client(timeout=30)
    assistant = client.beta.assistants.create(model="scripted-model", name="before the outage")
    follower = Follower(client, assistant.id, "slow 14 through a long outage")
    follower.start()
    assert follower.answering.wait(30), f"the run never started answering: {follower.names}"
    outage(postgres, client, assistant.id, WORKER_LEASE + 1.5)  # no process can write its heartbeat

    # The worker still streams the answer when the database is back: its run is not settled as the
    # run of a stopped process, it completes with all its text.
    run = assert_ends_as_a_user_can_see(follower, client)
    assert run.status == "completed", run.last_error
    [answer, _] = client.beta.threads.messages.list(run.thread_id).data
    assert answer.content[0].text.value.split() == ["word"] * 280
    assert streamed_text(follower) == answer.content[0].text.value
    assert client.beta.assistants.retrieve(assistant.id).name == "before the outage"

    assert_both_processes_serve_new_runs(api, worker, assistant.id, "after a long outage")


def test_a_run_whose_answer_ends_while_postgres_is_down_fails_saying_why(postgres, api, worker):
    client = api.client(timeout=30)
    assistant = client.beta.assistants.create(model="scripted-model")
    follower = Follower(client, assistant.id, "slow 1 ends in the outage")
    follower.start()
    assert follower.answering.wait(30), f"the run never started answering: {follower.names}"
    outage(postgres, client, assistant.id, 3.0)  # the answer ends (in a second) with nowhere to go

    # Its end is written once the database is back: the stream ends with it, the run says why.
    run = assert_ends_as_a_user_can_see(follower, client)
    assert follower.names[-1] == "thread.run.failed" and run.status == "failed"
    assert "database was unreachable" in run.last_error.message
    [*_, question] = client.beta.threads.messages.list(run.thread_id).data
    assert question.content[0].text.value == "slow 1 ends in the outage"

    assert_both_processes_serve_new_runs(api, worker, assistant.id, "after a failed run")


def test_a_run_whose_answer_begins_while_postgres_is_down_fails_and_shows_no_message(
    postgres, api, worker, model
):
    client = api.client(timeout=30)
    assistant = client.beta.assistants.create(model="scripted-model")
    content = "answered in the outage"
    model.push(text("too late", hang=2.0))  # the model thinks for two seconds
    follower = Follower(client, assistant.id, content)
    follower.start()
    wait_for(lambda: any(last_user_text(r) == content for r in model.requests), 30, "never asked")
    outage(postgres, client, assistant.id, 3.0)  # the answer begins with nowhere to be stored

    run = assert_ends_as_a_user_can_see(follower, client)
    assert follower.names[-1] == "thread.run.failed" and run.status == "failed"
    assert "database was unreachable" in run.last_error.message
    # The answer's step and message were never stored, so no stream announced them.
    assert not {"thread.run.step.created", "thread.message.created"} & set(follower.names)
    assert client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id).data == []
    [question] = client.beta.threads.messages.list(run.thread_id).data
    assert question.content[0].text.value == content
