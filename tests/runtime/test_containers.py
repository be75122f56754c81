"""Containers and the Responses API's code interpreter through the official SDK, on real Docker
kernels, driven by the scripted model: containers and their files (uploaded, copied in, written by
the code), code that reads an upload and writes a chart that is downloaded and cited, the stream
helper's code interpreter events, `auto` containers reused along a chain and a conversation,
memory limits, isolation between containers, idle expiry, and OpenAI's errors."""

import time

import httpx
import openai
import pytest

from tests.support.probes import MEMORY_CODE
from tests.support.scripted_model import text, tool_call
from tests.support.server import Server

MINUTE = 2  # seconds in a container "minute" here: the default expiry (20 minutes) is 40 s
MiB = 1024**2
CHART_CODE = """
import pandas as pd, matplotlib.pyplot as plt
df = pd.read_csv('/mnt/data/sales.csv')
print('total', df['amount'].sum())
df.plot(x='month', y='amount')
plt.savefig('/mnt/data/chart.png')
plt.show()
"""
SALES = b"month,amount\n1,10\n2,20\n3,12\n"


@pytest.fixture(scope="module")
def server(model, tmp_path_factory, docker_client):
    env = {
        "ASSISTD_MODEL_BASE_URL": model.base_url,
        "ASSISTD_CONTAINER_MINUTE_SECONDS": str(MINUTE),
        "ASSISTD_CONTAINER_MAX_MEMORY_BYTES": str(2 * 1024 * MiB),
        "ASSISTD_SANDBOX_MEMORY_BYTES": str(512 * MiB),
    }
    with Server(tmp_path_factory.mktemp("containers") / "data", env=env) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return server.client(timeout=300)


def run_code(client, container, code: str, **options):
    """A response whose model runs `code` in `container` (an id or an `auto` object)."""
    return client.responses.create(
        model="scripted-model",
        input=f"run: {code}",
        tools=[{"type": "code_interpreter", "container": container}],
        include=["code_interpreter_call.outputs"],
        **options,
    )


def logs_of(response) -> str:
    [call] = [item for item in response.output if item.type == "code_interpreter_call"]
    return "".join(out.logs for out in call.outputs if out.type == "logs")


def test_container_lifecycle_with_files_copied_in(client):
    sales = client.files.create(file=("sales.csv", SALES), purpose="user_data")
    container = client.containers.create(
        name="lifecycle", file_ids=[sales.id], expires_after={"anchor": "last_active_at", "minutes": 10}
    )
    assert container.id.startswith("cntr_") and container.object == "container"
    assert container.name == "lifecycle" and container.status == "running"
    assert container.expires_after.anchor == "last_active_at" and container.expires_after.minutes == 10
    assert container.memory_limit == "1g" and container.last_active_at >= container.created_at
    [copied] = client.containers.files.list(container.id).data
    assert copied.object == "container.file" and copied.id.startswith("cfile_")
    assert (copied.path, copied.bytes, copied.source) == ("/mnt/data/sales.csv", len(SALES), "user")
    assert copied.container_id == container.id
    content = client.containers.files.content.retrieve(copied.id, container_id=container.id)
    assert content.read() == SALES

    other = client.containers.create(name="lifecycle-other")
    named = client.containers.list(name="lifecycle").data
    assert [c.id for c in named] == [container.id]
    first = client.containers.list(limit=1)
    assert first.has_more and first.data[0].id == other.id  # newest first
    second = client.containers.list(limit=1, after=first.data[0].id)
    assert second.data[0].id == container.id
    assert client.containers.retrieve(container.id).name == "lifecycle"

    client.containers.delete(container.id)
    with pytest.raises(openai.NotFoundError):
        client.containers.retrieve(container.id)
    client.containers.delete(other.id)


def test_container_files_upload_add_download_delete(client):
    container = client.containers.create(name="files")
    uploaded = client.containers.files.create(container.id, file=("notes.txt", b"first note\n"))
    assert (uploaded.path, uploaded.bytes, uploaded.source) == ("/mnt/data/notes.txt", 11, "user")
    stored = client.files.create(file=("notes.txt", b"second\n"), purpose="user_data")
    added = client.containers.files.create(container.id, file_id=stored.id)
    assert added.path == "/mnt/data/notes (1).txt" and added.bytes == 7  # a taken name is not overwritten
    listed = client.containers.files.list(container.id, order="asc").data
    assert [f.id for f in listed] == [uploaded.id, added.id]
    assert client.containers.files.retrieve(added.id, container_id=container.id).path == added.path
    assert client.containers.files.content.retrieve(uploaded.id, container_id=container.id).read() == (
        b"first note\n"
    )

    client.containers.files.delete(uploaded.id, container_id=container.id)
    assert [f.id for f in client.containers.files.list(container.id).data] == [added.id]
    with pytest.raises(openai.NotFoundError):
        client.containers.files.retrieve(uploaded.id, container_id=container.id)
    done = run_code(client, container.id, "import os; print(sorted(os.listdir('/mnt/data')))")
    assert "['notes (1).txt']" in logs_of(done)  # the deleted file is gone from the kernel too


def test_code_reads_an_upload_writes_a_chart_that_is_cited_and_downloaded(client, model):
    container = client.containers.create(name="chart")
    client.containers.files.create(container.id, file=("sales.csv", SALES))
    before = client.containers.retrieve(container.id).last_active_at
    time.sleep(1.1)
    model.push(
        tool_call("python", {"code": CHART_CODE}),
        text("Here is the chart: [chart](sandbox:/mnt/data/chart.png)"),
    )
    response = client.responses.create(
        model="scripted-model",
        input="Chart my sales.",
        tools=[{"type": "code_interpreter", "container": container.id}],
    )
    assert response.status == "completed"
    assert response.tools[0].type == "code_interpreter" and response.tools[0].container == container.id
    assert "/mnt/data/sales.csv" in model.requests[-2]["messages"][0]["content"]  # the model is told
    call, message = response.output
    assert call.type == "code_interpreter_call" and call.id.startswith("ci_")
    assert call.status == "completed" and call.container_id == container.id and call.code == CHART_CODE
    assert call.outputs is None  # outputs only when include asks for them
    [note] = message.content[0].annotations
    text_out = message.content[0].text
    assert text_out == "Here is the chart: [chart](sandbox:/mnt/data/chart.png)"
    assert note.type == "container_file_citation" and note.container_id == container.id
    assert note.filename == "chart.png"
    assert text_out[note.start_index : note.end_index] == "sandbox:/mnt/data/chart.png"

    chart = client.containers.files.retrieve(note.file_id, container_id=container.id)
    assert chart.source == "assistant" and chart.path == "/mnt/data/chart.png" and chart.bytes > 1000
    png = client.containers.files.content.retrieve(note.file_id, container_id=container.id).read()
    assert png.startswith(b"\x89PNG") and len(png) == chart.bytes
    assert client.containers.retrieve(container.id).last_active_at > before

    again = client.responses.retrieve(response.id, include=["code_interpreter_call.outputs"])
    logs, image = again.output[0].outputs
    assert logs.type == "logs" and "total 42" in logs.logs
    assert image.type == "image"
    shown = httpx.get(image.url, headers={"Authorization": "Bearer unused"})
    assert shown.status_code == 200 and shown.content.startswith(b"\x89PNG")


def test_stream_helper_sees_the_code_interpreter_events(client):
    container = client.containers.create(name="stream")
    with client.responses.stream(
        model="scripted-model",
        input="run: print(6 * 7)",
        tools=[{"type": "code_interpreter", "container": container.id}],
        include=["code_interpreter_call.outputs"],
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    names = [e.type for e in events]
    call_events = [n for n in names if "code_interpreter" in n]
    deltas = [e.delta for e in events if e.type == "response.code_interpreter_call_code.delta"]
    assert call_events[0] == "response.code_interpreter_call.in_progress"
    assert call_events[-3:] == [
        "response.code_interpreter_call_code.done",
        "response.code_interpreter_call.interpreting",
        "response.code_interpreter_call.completed",
    ]
    assert "".join(deltas) == "print(6 * 7)" and len(deltas) >= 1
    added = names.index("response.output_item.added")
    assert names[added + 1] == "response.code_interpreter_call.in_progress"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    call = final.output[0]
    assert call.type == "code_interpreter_call" and call.code == "print(6 * 7)"
    assert call.outputs[0].logs.strip() == "42"
    assert final.output_text.startswith("Tool said: 42")


def test_auto_containers_hold_their_files_and_are_reused_along_a_chain_and_a_conversation(client):
    sales = client.files.create(file=("sales.csv", SALES), purpose="user_data")
    first = run_code(
        client, {"type": "auto", "file_ids": [sales.id]}, "x = open('/mnt/data/sales.csv').read()"
    )
    container_id = first.output[0].container_id
    assert container_id.startswith("cntr_")
    assert first.tools[0].container.type == "auto" and first.tools[0].container.file_ids == [sales.id]
    assert client.containers.retrieve(container_id).status == "running"
    second = run_code(client, {"type": "auto"}, "print(len(x))", previous_response_id=first.id)
    assert second.output[0].container_id == container_id and logs_of(second).strip() == str(len(SALES))
    fresh = run_code(client, {"type": "auto"}, "print('x' in globals())")
    assert fresh.output[0].container_id != container_id and logs_of(fresh).strip() == "False"

    conversation = client.conversations.create()
    one = run_code(client, {"type": "auto"}, "y = 5", conversation=conversation.id)
    two = run_code(client, {"type": "auto"}, "print(y * 2)", conversation=conversation.id)
    assert two.output[0].container_id == one.output[0].container_id and logs_of(two).strip() == "10"


def test_memory_limit_reaches_the_kernel(client):
    def memory_max(container) -> int:
        done = run_code(client, container, MEMORY_CODE)
        return int(logs_of(done).strip())

    sized = client.containers.create(name="sized", memory_limit="1g")
    assert sized.memory_limit == "1g" and memory_max(sized.id) == 1024 * MiB
    plain = client.containers.create(name="plain")
    assert memory_max(plain.id) == 512 * MiB  # the sandbox's configured default
    assert memory_max({"type": "auto", "memory_limit": "1g"}) == 1024 * MiB


def test_sandbox_limits_hold_in_a_container_of_its_own_size(client):
    sized = client.containers.create(name="limits", memory_limit="1g")
    inside = run_code(
        client,
        sized.id,
        "import os, socket; s = socket.socket(); s.settimeout(2); "
        "print(os.getuid(), s.connect_ex(('1.1.1.1', 80)) != 0)",
    )
    assert logs_of(inside).split() == ["1000", "True"]  # not root, no network
    hog = run_code(client, sized.id, "x = bytearray(1536 * 2**20); x[::4096] = b'1' * len(x[::4096])")
    assert "out of memory" in logs_of(hog)
    assert (
        logs_of(run_code(client, sized.id, "print('fresh')")).strip() == "fresh"
    )  # a fresh kernel, same size


def test_containers_do_not_see_each_other(client):
    a = client.containers.create(name="a")
    b = client.containers.create(name="b")
    run_code(
        client,
        a.id,
        "import subprocess; open('/mnt/data/secret.txt', 'w').write('a'); "
        "p = subprocess.Popen(['sleep', '613']); print(p.pid)",
    )
    seen = run_code(
        client,
        b.id,
        "import os; print(os.listdir('/mnt/data')); "
        "print([open(f'/proc/{p}/cmdline').read().split(chr(0))[:2] "
        "for p in os.listdir('/proc') if p.isdigit()])",
    )
    files, processes = logs_of(seen).splitlines()
    assert files == "[]" and processes == "[['python', '-c']]"  # its own kernel only: no sleep 613
    assert [f.path for f in client.containers.files.list(b.id).data] == []
    assert [f.path for f in client.containers.files.list(a.id).data] == ["/mnt/data/secret.txt"]


def test_an_idle_container_expires_for_good(client):
    container = client.containers.create(
        name="short", expires_after={"anchor": "last_active_at", "minutes": 1}
    )
    client.containers.files.create(container.id, file=("a.txt", b"a"))
    deadline = time.monotonic() + 30
    while client.containers.retrieve(container.id).status != "expired":
        assert time.monotonic() < deadline, "the container did not expire"
        time.sleep(0.5)
    for use in (
        lambda: client.containers.files.list(container.id),
        lambda: client.containers.files.create(container.id, file=("b.txt", b"b")),
        lambda: run_code(client, container.id, "print(1)"),
    ):
        with pytest.raises(openai.BadRequestError) as err:
            use()
        assert "expired" in err.value.message
    client.containers.delete(container.id)  # an expired container can still be deleted


def test_bad_requests_get_openai_errors(client):
    def error_of(call) -> tuple[int, str | None]:
        with pytest.raises(openai.APIStatusError) as err:
            call()
        return err.value.status_code, err.value.body.get("param")

    assert error_of(lambda: client.containers.retrieve("cntr_missing"))[0] == 404
    assert error_of(lambda: client.containers.files.list("cntr_missing"))[0] == 404
    assert error_of(lambda: client.containers.create(name="m", memory_limit="4g")) == (400, "memory_limit")
    assert error_of(lambda: client.containers.create(name="m", memory_limit="64g")) == (400, "memory_limit")
    allow = {"type": "allowlist", "allowed_domains": ["example.com"]}
    assert error_of(lambda: client.containers.create(name="n", network_policy=allow)) == (
        400,
        "network_policy",
    )
    expiry = {"anchor": "last_active_at", "minutes": 0}
    assert error_of(lambda: client.containers.create(name="e", expires_after=expiry))[0] == 400
    assert error_of(lambda: client.containers.create(name="f", file_ids=["file-missing"])) == (
        404,
        "file_ids[0]",
    )
    container = client.containers.create(name="errors")
    assert (
        error_of(lambda: client.containers.files.retrieve("cfile_missing", container_id=container.id))[0]
        == 404
    )
    assert error_of(lambda: run_code(client, "cntr_missing", "print(1)")) == (404, "tools[0].container")
    auto = {"type": "auto", "memory_limit": "16g"}
    assert error_of(lambda: run_code(client, auto, "print(1)")) == (400, "tools[0].container.memory_limit")
    assert client.containers.list(name="m").data == []  # nothing half-made was kept
