"""Several `assistd serve` processes on one PostgreSQL database and one data directory, through the
official SDK: a run created and streamed on an API-only replica is driven by a worker process; a
cancel sent to another replica stops it; a replica started mid-run leaves the run alone; a worker
killed with SIGKILL has its run settled within the lease, its model call not made again; SIGTERM
lets the runs in hand finish; `--workers 2` serves one port; new threads go to the least loaded
worker with room; a container keeps one kernel whichever process is asked; 200 runs at once over
the replicas all complete; vector stores are served by every process from one embedded index,
which outlives the process that holds it; and SQLite refuses a second process."""

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.scripted_model import last_user_text
from tests.support.server import Server, database_env
from tests.support.waiting import wait_for

LEASE = 3.0
TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}


@pytest.fixture(scope="module")
def env(model):
    return {
        "ASSISTD_MODEL_BASE_URL": model.base_url,
        "ASSISTD_LEASE_SECONDS": str(LEASE),
        **database_env("postgresql"),
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tmp_path_factory.mktemp("scale") / "data"


@pytest.fixture(scope="module")
def api(env, data):
    """A replica that serves the API only: every run it creates is driven by another process."""
    with Server(data, env=env, args=["--no-worker"]) as srv:
        yield srv


@pytest.fixture(scope="module")
def workers(env, data, api):
    with Server(data, env=env) as one, Server(data, env=env) as two:
        yield one, two


@pytest.fixture(scope="module")
def assistant(api):
    return api.client().beta.assistants.create(model="scripted-model")


@contextlib.contextmanager
def lone_worker(env, data, workers):
    """The module's workers stopped, one new worker in their place (the one that drives the runs)."""
    for worker in workers:
        worker.stop()
    try:
        with Server(data, env=env) as lone:
            yield lone
    finally:
        for worker in workers:
            worker.start()


def calls_for(model, marker: str) -> int:
    return sum(last_user_text(r) == marker for r in model.requests)


def start_run(client, assistant, content: str):
    return client.beta.threads.create_and_run(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": content}]}
    )


def status_of(client, run) -> str:
    return client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id).status


def test_a_run_streams_from_an_api_replica_while_a_worker_drives_it(api, workers, assistant):
    client, found = api.client(), []
    with client.beta.threads.create_and_run(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "hello replicas"}]},
        stream=True,
    ) as stream:
        events = []
        for event in stream:
            events.append(event)
            # What an event announces is stored already, whichever process serves the stream.
            if event.event == "thread.run.step.created":
                step = event.data
                found.append(
                    client.beta.threads.runs.steps.retrieve(
                        step.id, thread_id=step.thread_id, run_id=step.run_id
                    )
                )
            elif event.event == "thread.message.created":
                found.append(
                    client.beta.threads.messages.retrieve(event.data.id, thread_id=event.data.thread_id)
                )
    assert [item.object for item in found] == ["thread.run.step", "thread.message"]
    names = [event.event for event in events]
    assert names[:3] == ["thread.created", "thread.run.created", "thread.run.queued"]
    assert names[-1] == "thread.run.completed" and "thread.message.delta" in names
    run = events[-1].data
    other = workers[1].client()
    assert status_of(other, run) == "completed"
    [message, _] = other.beta.threads.messages.list(run.thread_id).data
    assert message.content[0].text.value == "You said: hello replicas"


def test_a_cancel_sent_to_another_replica_stops_the_run(api, workers, assistant):
    client, seen, names = api.client(), threading.Event(), []

    def follow():
        with client.beta.threads.create_and_run(
            assistant_id=assistant.id,
            thread={"messages": [{"role": "user", "content": "slow 30"}]},
            stream=True,
        ) as stream:
            for event in stream:
                names.append((event.event, event.data))
                if event.event == "thread.message.delta":
                    seen.set()

    follower = threading.Thread(target=follow)
    follower.start()
    assert seen.wait(30), "the run never started answering"
    run = next(data for name, data in names if name == "thread.run.created")
    asked = time.monotonic()
    cancelled = workers[0].client().beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
    assert cancelled.status in ("cancelling", "cancelled")
    wait_for(lambda: status_of(client, run) == "cancelled", 10, "the run was not cancelled")
    took = time.monotonic() - asked
    follower.join(10)
    assert not follower.is_alive() and names[-1][0] == "thread.run.cancelled"
    assert took < 3, f"cancelling took {took:.2f} s"


def test_a_background_response_runs_on_a_worker_streams_anywhere_and_cancels_from_anywhere(api, workers):
    created = api.client().responses.create(model="scripted-model", input="hello background", background=True)
    assert created.status == "queued"
    with workers[0].client().responses.stream(response_id=created.id, starting_after=-1) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created" and final.output_text == "You said: hello background"

    slow = api.client().responses.create(model="scripted-model", input="slow 30", background=True)
    wait_for(lambda: api.client().responses.retrieve(slow.id).status == "in_progress", 30, "not started")
    workers[1].client().responses.cancel(slow.id)
    wait_for(lambda: api.client().responses.retrieve(slow.id).status == "cancelled", 5, "not cancelled")


def test_a_replica_started_mid_run_leaves_it_alone(env, data, api, workers, assistant, model):
    client = api.client()
    run = start_run(client, assistant, "slow 3 untouched")
    wait_for(lambda: status_of(client, run) == "in_progress", 30, "the run did not start")
    with Server(data, env=env):
        wait_for(lambda: status_of(client, run) in TERMINAL, 30, "the run did not end")
    assert status_of(client, run) == "completed" and calls_for(model, "slow 3 untouched") == 1


def test_a_killed_worker_has_its_run_settled_within_the_lease_and_not_run_again(
    env, data, api, workers, assistant, model
):
    client = api.client()
    with lone_worker(env, data, workers) as lone:
        run = start_run(client, assistant, "slow 30 killed")
        wait_for(lambda: calls_for(model, "slow 30 killed") == 1, 30, "the model was not called")
        lone.kill()
        killed = time.monotonic()
        wait_for(lambda: status_of(client, run) in TERMINAL, 3 * LEASE, "the run was not settled")
        took = time.monotonic() - killed
    settled = client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
    assert settled.status == "failed" and "stopped" in settled.last_error.message
    assert took <= LEASE + 1, f"settled after {took:.2f} s"
    time.sleep(LEASE)  # the restarted workers could have taken it again: they did not
    assert calls_for(model, "slow 30 killed") == 1 and status_of(client, run) == "failed"


def test_each_process_is_judged_by_its_own_lease(env, data, api, workers, assistant, model):
    client = api.client()
    with lone_worker({**env, "ASSISTD_LEASE_SECONDS": str(10 * LEASE)}, data, workers) as patient:
        run = start_run(client, assistant, "slow 30 long lease")
        wait_for(lambda: calls_for(model, "slow 30 long lease") == 1, 30, "the model was not called")
        patient.kill()
        time.sleep(3 * LEASE)  # past the others' lease, within its own: not yet settled
        assert status_of(client, run) == "in_progress"
        wait_for(lambda: status_of(client, run) == "failed", 10 * LEASE + 5, "the run was not settled")


def test_sigterm_lets_the_runs_in_hand_finish(env, data, api, workers, assistant):
    client = api.client()
    with lone_worker(env, data, workers) as lone:
        run = start_run(client, assistant, "slow 2 drained")
        wait_for(lambda: status_of(client, run) == "in_progress", 30, "the run did not start")
        lone.stop()
    assert status_of(client, run) == "completed"


def test_two_processes_serve_one_port(env, data, assistant):
    with Server(data, env={**env, "ASSISTD_WORKER": "1"}, args=["--workers", "2"]) as pair:
        client = pair.client()
        runs = [
            client.beta.threads.create_and_run_poll(
                assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": f"pair {n}"}]}
            )
            for n in range(4)
        ]
    assert [r.status for r in runs] == ["completed"] * 4


def test_200_runs_at_once_over_the_replicas(api, workers, assistant):
    clients = [api.client(), workers[0].client(), workers[1].client()]

    def one(n: int) -> str:
        client = clients[n % 3]
        run = start_run(client, assistant, f"many {n}")
        wait_for(lambda: status_of(client, run) in TERMINAL, 120, f"run {n} did not end")
        return status_of(client, run)

    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(one, range(200)))
    assert statuses == ["completed"] * 200


def kernels(docker_client) -> set[str]:
    """The kernel containers now (one listing call: a container removed meanwhile is not looked up)."""
    return {c["Id"] for c in docker_client.api.containers(all=True, filters={"label": "assistd.sandbox"})}


def test_kernels_belong_to_their_process(env, data, api, workers, docker_client, tmp_path, model):
    coder = api.client().beta.assistants.create(model="scripted-model", tools=[{"type": "code_interpreter"}])
    run = api.client().beta.threads.create_and_run_poll(
        assistant_id=coder.id, thread={"messages": [{"role": "user", "content": "run: print(1)"}]}
    )
    assert run.status == "completed"
    live = kernels(docker_client)
    assert live
    with Server(data, env={**env, "ASSISTD_SANDBOX_PREWARM": "1"}):  # its pool starts, and reaps, now
        wait_for(
            lambda: len(kernels(docker_client) - live) >= 2, 60, "the new replica's warm pool did not start"
        )
        assert kernels(docker_client) >= live  # the other processes' kernels are left alone

    alone = Server(tmp_path / "alone", env={"ASSISTD_MODEL_BASE_URL": model.base_url}).start()
    client = alone.client()
    alone_run = client.beta.threads.create_and_run_poll(
        assistant_id=client.beta.assistants.create(
            model="scripted-model", tools=[{"type": "code_interpreter"}]
        ).id,
        thread={"messages": [{"role": "user", "content": "run: print(2)"}]},
    )
    assert alone_run.status == "completed"
    left = kernels(docker_client) - live
    assert left
    alone.kill()
    with alone:  # restarted after SIGKILL: the stopped process's kernels are removed
        wait_for(lambda: not (kernels(docker_client) & left), 30, "the killed process's kernels were left")


def test_a_threads_runs_go_to_the_process_holding_its_kernel(env, data, api, workers, docker_client):
    client = api.client()
    coder = client.beta.assistants.create(model="scripted-model", tools=[{"type": "code_interpreter"}])

    def run_code(thread_id: str, code: str) -> str:
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread_id,
            assistant_id=coder.id,
            additional_messages=[{"role": "user", "content": f"run: {code}"}],
        )
        assert run.status == "completed"
        return client.beta.threads.messages.list(thread_id, limit=1).data[0].content[0].text.value

    thread = client.beta.threads.create()
    run_code(thread.id, "x = 41")
    for _ in range(4):  # two workers: each run goes to the one that holds the thread's kernel
        assert run_code(thread.id, "print(x + 1)") == "Tool said: 42"

    with lone_worker(env, data, workers) as first:
        run_code(thread.id, "y = 1")  # the thread's kernel is now in this process
        with Server(data, env=env):
            first.kill()
            said = run_code(thread.id, "print(y)")
    assert said.startswith("Tool said: [The code session was reset") and "NameError" in said


def owner_of(docker_client, hostname: str) -> str:
    """The process whose kernel has this hostname (the container's short id), by its owner label."""
    found = docker_client.api.containers(all=True, filters={"label": "assistd.sandbox"})
    return next(c["Labels"]["assistd.sandbox.owner"] for c in found if c["Id"].startswith(hostname))


def test_new_threads_go_to_the_least_loaded_worker_with_room(env, data, api, workers, docker_client):
    """Two workers that may hold three code sessions each. While the first holds two, the next two
    new threads go to the second; then each takes one more, and all six threads run their code."""
    client = api.client()
    coder = client.beta.assistants.create(model="scripted-model", tools=[{"type": "code_interpreter"}])

    def new_thread_runs_code() -> str:
        """The process whose kernel ran a new thread's first code."""
        run = client.beta.threads.create_and_run_poll(
            assistant_id=coder.id,
            thread={
                "messages": [{"role": "user", "content": "run: import socket; print(socket.gethostname())"}]
            },
        )
        assert run.status == "completed", run.last_error
        said = client.beta.threads.messages.list(run.thread_id, limit=1).data[0].content[0].text.value
        assert said.startswith("Tool said: "), said
        return owner_of(docker_client, said.removeprefix("Tool said: ").strip())

    capped = {**env, "ASSISTD_SANDBOX_MAX_SESSIONS": "3"}
    with lone_worker(capped, data, workers):
        owners = [new_thread_runs_code(), new_thread_runs_code()]
        with Server(data, env=capped):
            owners += [new_thread_runs_code() for _ in range(4)]
    first, second = owners[0], owners[2]
    assert owners[:4] == [first, first, second, second] and first != second
    assert sorted(owners[4:]) == sorted([first, second])


def test_a_container_is_one_kernel_whichever_process_is_asked(api, workers):
    """A container made through one replica keeps one kernel: a file uploaded through a second is
    read by code run through a third, whose output file the first lists and downloads."""
    made, uploading, running = api.client(), workers[0].client(), workers[1].client()
    container = made.containers.create(name="shared")
    uploading.containers.files.create(container.id, file=("notes.txt", b"one kernel"))
    code = "print(open('/mnt/data/notes.txt').read()); _ = open('/mnt/data/out.txt', 'w').write('from code')"
    response = running.responses.create(
        model="scripted-model",
        input=f"run: {code}",
        tools=[{"type": "code_interpreter", "container": container.id}],
    )
    assert response.output_text.startswith("Tool said: one kernel\n"), response.output_text
    listed = {f.path: f for f in made.containers.files.list(container.id).data}
    assert set(listed) == {"/mnt/data/notes.txt", "/mnt/data/out.txt"}
    out = listed["/mnt/data/out.txt"]
    assert out.source == "assistant"
    assert (
        uploading.containers.files.content.retrieve(out.id, container_id=container.id).read() == b"from code"
    )
    running.containers.files.delete(listed["/mnt/data/notes.txt"].id, container_id=container.id)
    again = running.responses.create(
        model="scripted-model",
        input="run: import os; print(sorted(os.listdir('/mnt/data')))",
        tools=[{"type": "code_interpreter", "container": container.id}],
    )
    assert again.output_text == "Tool said: ['out.txt']", again.output_text


def test_files_added_through_an_api_replica_are_ingested_by_a_worker_once(api, workers):
    client = api.client()
    uploads = [
        client.files.create(
            file=(f"note{n}.txt", f"Note {n}: the code word is zebra-{n}.".encode()), purpose="assistants"
        )
        for n in range(4)
    ]
    store = client.vector_stores.create(name="shared", file_ids=[u.id for u in uploads])
    wait_for(lambda: client.vector_stores.retrieve(store.id).file_counts.completed == 4, 120, "not ingested")
    found = workers[0].client().vector_stores.search(store.id, query="code word zebra-2")
    assert found.data[0].filename == "note2.txt"
    assert all(f.status == "completed" for f in client.vector_stores.files.list(store.id).data)


def test_every_process_sees_one_embedded_index_and_it_outlives_its_owner(api, workers):
    """Whichever process owns the index is killed at some point: the others go on reading and
    writing it, the files already there included, and the killed process comes back to it."""
    store = api.client().vector_stores.create(name="one index")
    servers = [api, *workers]
    animals, words = ["okapi", "quokka", "tapir", "narwhal", "axolotl"], []

    def add_and_find(via, survivors) -> None:
        words.append(animals[len(words)])
        upload = via.client().files.create(
            file=(f"{words[-1]}.txt", f"The {words[-1]} enclosure is behind gate {len(words)}.".encode()),
            purpose="assistants",
        )
        added = via.client().vector_stores.files.create_and_poll(file_id=upload.id, vector_store_id=store.id)
        assert added.status == "completed"
        for server in survivors:
            for word in words:  # what was there before a death too
                hits = server.client().vector_stores.search(store.id, query=f"Where is the {word}?").data
                assert hits and hits[0].filename == f"{word}.txt", (server.port, word)

    add_and_find(api, servers)
    for victim in servers:
        victim.kill()
        survivors = [s for s in servers if s is not victim]
        add_and_find(survivors[-1], survivors)
        victim.start()
    add_and_find(workers[0], servers)


def test_another_machine_with_the_embedded_index_is_refused(env, tmp_path, api):
    elsewhere = Server(tmp_path / "elsewhere", env={**env, "ASSISTD_NODE_NAME": "another-machine"})
    with pytest.raises(RuntimeError) as err:
        elsewhere.start()
    assert "ASSISTD_QDRANT_URL" in str(err.value) and socket.gethostname() in str(err.value)


def test_sqlite_serves_one_process(tmp_path, model):
    env = {"ASSISTD_MODEL_BASE_URL": model.base_url}
    with Server(tmp_path / "data", env=env):
        with pytest.raises(RuntimeError) as err:
            Server(tmp_path / "data", env=env).start()
        assert "ASSISTD_DATABASE_URL" in str(err.value)
    refused = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "serve", "--workers", "2"],
        env={**os.environ, "ASSISTD_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0 and "ASSISTD_DATABASE_URL" in refused.stderr
