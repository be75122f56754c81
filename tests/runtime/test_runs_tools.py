"""Runs that use the built-in tools for real: code in a Docker sandbox (images, generated files,
uploaded inputs, cancel mid-execution) and file search over a vector store (citations)."""

import re
import time

import httpx
import openai
import pytest

from tests.support.scripted_model import Reply, text, tool_call
from tests.support.server import Server
from tests.support.stream_log import TEXT_ANSWER, CallbackLog

PLOT_CODE = """
import pandas as pd, matplotlib.pyplot as plt
df = pd.read_csv('/mnt/data/sales.csv')
print('total', df['amount'].sum())
df.plot(x='month', y='amount'); plt.show()
df.assign(double=df['amount'] * 2).to_csv('/mnt/data/doubled.csv', index=False)
"""


def tool_result(request: dict) -> str:
    return next(m["content"] for m in reversed(request["messages"]) if m["role"] == "tool")


@pytest.fixture(scope="module")
def server(model, tmp_path_factory, docker_client):
    env = {"ASSISTD_MODEL_BASE_URL": model.base_url}
    with Server(tmp_path_factory.mktemp("tools") / "data", env=env) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return server.client(timeout=300)


def test_code_interpreter_with_input_file_image_and_output_file(client, model):
    sales = client.files.create(file=("sales.csv", b"month,amount\n1,10\n2,20\n3,12\n"), purpose="assistants")
    assistant = client.beta.assistants.create(model="scripted-model", tools=[{"type": "code_interpreter"}])
    thread = client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "Plot my sales and double them.",
                "attachments": [{"file_id": sales.id, "tools": [{"type": "code_interpreter"}]}],
            }
        ]
    )
    model.push(
        tool_call("python", {"code": PLOT_CODE}),
        # one character a piece: the link is cut at every place it can be
        text(
            "Total is 42. Chart above; doubled values: [doubled.csv](sandbox:/mnt/data/doubled.csv).", piece=1
        ),
    )
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed", run.last_error

    assert "/mnt/data/sales.csv" in model.requests[-2]["messages"][0]["content"]  # the model was told
    assert "total 42" in tool_result(model.requests[-1])  # and saw the code's output

    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]
    call = steps[0].step_details.tool_calls[0]
    assert call.type == "code_interpreter" and "read_csv" in call.code_interpreter.input
    logs = [o for o in call.code_interpreter.outputs if o.type == "logs"]
    images = [o for o in call.code_interpreter.outputs if o.type == "image"]
    assert logs and "total 42" in logs[0].logs
    assert len(images) == 1
    png = client.files.content(images[0].image.file_id).read()
    assert png.startswith(b"\x89PNG")
    assert client.files.retrieve(images[0].image.file_id).purpose == "assistants_output"

    answer = client.beta.threads.messages.list(thread.id, run_id=run.id).data[0]
    assert [c.type for c in answer.content] == ["image_file", "text"]
    assert answer.content[0].image_file.file_id == images[0].image.file_id
    note = answer.content[1].text.annotations[0]
    assert note.type == "file_path" and note.text == "sandbox:/mnt/data/doubled.csv"
    assert answer.content[1].text.value[note.start_index : note.end_index] == note.text
    doubled = client.files.content(note.file_path.file_id).read().decode()
    assert doubled.splitlines() == ["month,amount,double", "1,10,20", "2,20,40", "3,12,24"]
    assert client.files.retrieve(note.file_path.file_id).filename == "doubled.csv"

    model.push(tool_call("python", {"code": "print(df['amount'].max())"}), text("max is 20"))
    client.beta.threads.messages.create(thread.id, role="user", content="max?")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed" and tool_result(model.requests[-1]).strip() == "20"  # kernel state kept


# Quotes, a newline, an accented letter and an emoji: the JSON arguments hold them as escapes
# (\", \n, \u00e9, a \ud83d\ude00 surrogate pair) that the 7-character pieces cut through.
DRAW_CODE = (
    'import matplotlib.pyplot as plt\nplt.plot([1, 3, 2]); plt.show()\nprint("drawn", "caf\u00e9 \U0001f600")'
)


def test_event_handler_sees_code_as_it_is_written_and_its_image(client, model):
    assistant = client.beta.assistants.create(model="scripted-model", tools=[{"type": "code_interpreter"}])
    model.push(tool_call("python", {"code": DRAW_CODE}), text("Here is the chart."))
    handler = CallbackLog()
    with client.beta.threads.create_and_run_stream(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "draw"}]},
        event_handler=handler,
    ) as stream:
        stream.until_done()
    assert stream.get_final_run().status == "completed"
    assert handler.names() == [
        "run_step_created",
        "tool_call_created",
        "tool_call_delta",
        "tool_call_done",
        "run_step_done",
        "run_step_created",
        "message_created",
        "text_created",
        "text_delta",
        "image_file_done",
        "text_delta",
        "text_done",
        "message_done",
        "tool_call_done",  # the SDK repeats its last tool call at every later step and run end
        "run_step_done",
        "tool_call_done",
        "end",
    ]
    [[created]] = handler.args("tool_call_created")
    assert created["type"] == "code_interpreter" and created["code_interpreter"] == {
        "input": "",
        "outputs": [],
    }
    deltas = [delta["code_interpreter"] for delta, _ in handler.args("tool_call_delta")]
    inputs = [d["input"] for d in deltas if "input" in d]
    assert len(inputs) >= 5 and "".join(inputs) == DRAW_CODE  # decoded piece by piece, escapes whole
    [outputs] = [d["outputs"] for d in deltas if "outputs" in d]
    assert [(o["index"], o["type"]) for o in outputs] == [(0, "logs"), (1, "image")]
    assert "drawn caf\u00e9 \U0001f600" in outputs[0]["logs"]
    image_id = outputs[1]["image"]["file_id"]
    done = handler.args("tool_call_done")[0][0]
    assert done["id"] == created["id"] and done["code_interpreter"]["input"] == DRAW_CODE
    assert [o["type"] for o in done["code_interpreter"]["outputs"]] == ["logs", "image"]

    tool_step = handler.args("run_step_done")[0][0]
    assert tool_step["step_details"]["tool_calls"][0]["code_interpreter"]["input"] == DRAW_CODE
    assert handler.args("image_file_done") == [[{"file_id": image_id, "detail": "auto"}]]
    assert handler.args("text_created") == [[{"value": "Here i", "annotations": []}]]
    assert "".join(delta["value"] for delta, _ in handler.args("text_delta")) == "Here is the chart."
    [[message]] = handler.args("message_done")
    assert [c["type"] for c in message["content"]] == ["image_file", "text"]
    assert message["content"][0]["image_file"]["file_id"] == image_id
    assert client.files.content(image_id).read().startswith(b"\x89PNG")


def test_cancel_while_code_runs(client, model):
    assistant = client.beta.assistants.create(model="scripted-model", tools=[{"type": "code_interpreter"}])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "wait"}])
    model.push(tool_call("python", {"code": "x = 41\nimport time\ntime.sleep(120)"}))
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    deadline = time.monotonic() + 60
    while not client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1.0)
    started = time.monotonic()
    client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    run = client.beta.threads.runs.poll(run.id, thread_id=thread.id, poll_interval_ms=100)
    assert run.status == "cancelled" and time.monotonic() - started < 10
    step = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data[0]
    assert step.status == "cancelled"

    model.push(tool_call("python", {"code": "print(x + 1)"}), text("done"))
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed" and tool_result(model.requests[-1]).strip() == "42"


def cite_first_result(request: dict) -> Reply:
    """Answer from the search results, citing the first one as OpenAI's models do."""
    if request["messages"][-1]["role"] != "tool":
        return tool_call("file_search", {"query": request["messages"][-1]["content"]})
    results = tool_result(request)
    marker = re.search(r"【\d+:\d+†[^】]+】", results).group(0)
    return text(f"The launch code is in the handbook {marker}.", piece=1)  # the marker cut everywhere


FACTS = {
    "handbook.txt": "Operations handbook. The launch code for project Zephyr is AZURE-7741. Keep it secret.",
    "menu.txt": "Cafeteria menu. Monday: lentil soup. Tuesday: grilled fish. Wednesday: pasta.",
    "garden.md": "# Garden notes\nTomatoes need six hours of sun. Water the basil every morning.",
}


@pytest.fixture(scope="module")
def handbook(client):
    """An assistant with File Search over FACTS; returns it and the file ids by name."""
    ids = {
        name: client.files.create(file=(name, body.encode()), purpose="assistants").id
        for name, body in FACTS.items()
    }
    store = client.vector_stores.create(name="docs", file_ids=list(ids.values()))
    deadline = time.monotonic() + 120
    while client.vector_stores.retrieve(store.id).file_counts.completed < 3:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assistant = client.beta.assistants.create(
        model="scripted-model",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    return assistant, ids


def test_file_search_with_citation(client, model, server, handbook):
    assistant, ids = handbook
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "What is the launch code for Zephyr?"}]
    )
    model.script = cite_first_result
    try:
        run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    finally:
        model.script = lambda request: text("ok")
    assert run.status == "completed", run.last_error

    answer = client.beta.threads.messages.list(thread.id, run_id=run.id).data[0].content[0].text
    citation = answer.annotations[0]
    assert citation.type == "file_citation" and citation.file_citation.file_id == ids["handbook.txt"]
    assert answer.value[citation.start_index : citation.end_index] == citation.text
    assert citation.text.endswith("†handbook.txt】")

    step = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data[0]
    search = step.step_details.tool_calls[0].file_search
    assert (
        search.ranking_options.ranker == "default_2024_08_21"
        and search.ranking_options.score_threshold == 0.0
    )
    assert search.results[0].file_id == ids["handbook.txt"] and search.results[0].file_name == "handbook.txt"
    assert search.results[0].content is None  # content only when asked for
    url = f"{server.base_url}/threads/{thread.id}/runs/{run.id}/steps/{step.id}"
    full = httpx.get(
        url, params={"include[]": "step_details.tool_calls[*].file_search.results[*].content"}
    ).json()
    assert (
        "AZURE-7741"
        in full["step_details"]["tool_calls"][0]["file_search"]["results"][0]["content"][0]["text"]
    )


def test_event_handler_sees_a_search_and_its_citation(client, model, handbook):
    """The search call is introduced by one delta; the citation marker reaches the client whole, in
    the delta that carries its annotation."""
    assistant, ids = handbook
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "What is the launch code for Zephyr?"}]
    )
    handler = CallbackLog()
    model.script = cite_first_result
    try:
        with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
        ) as stream:
            stream.until_done()
    finally:
        model.script = lambda request: text("ok")
    assert stream.get_final_run().status == "completed"
    search = ["run_step_created", "tool_call_created", "tool_call_done", "run_step_done"]
    # the SDK repeats its last tool call's on_tool_call_done at every later step and at the run's end
    answer = [*TEXT_ANSWER[:-1], "tool_call_done", "run_step_done", "tool_call_done", "end"]
    assert handler.names() == search + answer
    [[created]] = handler.args("tool_call_created")
    assert created["type"] == "file_search" and created["file_search"] == {}
    assert all(args[0]["id"] == created["id"] for args in handler.args("tool_call_done"))
    search = handler.args("run_step_done")[0][0]["step_details"]["tool_calls"][0]["file_search"]
    assert search["results"][0]["file_id"] == ids["handbook.txt"]
    assert search["ranking_options"] == {"ranker": "default_2024_08_21", "score_threshold": 0.0}

    deltas = [delta for delta, _ in handler.args("text_delta")]
    [cited] = [d for d in deltas if "【" in d["value"] or "】" in d["value"]]
    marker = re.search(r"【\d+:\d+†handbook\.txt】", cited["value"]).group(0)
    [note] = cited["annotations"]
    value = "".join(d["value"] for d in deltas)
    assert note["index"] == 0 and note["type"] == "file_citation" and note["text"] == marker
    assert value[note["start_index"] : note["end_index"]] == marker
    assert note["file_citation"] == {"file_id": ids["handbook.txt"]}
    assert all(d["annotations"] == [] for d in deltas if d is not cited)
    [[final]] = handler.args("text_done")
    assert final["value"] == value
    assert final["annotations"] == [{k: v for k, v in note.items() if k != "index"}]


def test_file_search_ranking_options_filter_and_are_echoed(client, model):
    ids = [client.files.create(file=(n, b.encode()), purpose="assistants").id for n, b in FACTS.items()]
    store = client.vector_stores.create(name="ranked", file_ids=ids)
    deadline = time.monotonic() + 120
    while client.vector_stores.retrieve(store.id).file_counts.completed < 3:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    ranked = {"ranker": "auto", "score_threshold": 0.6}
    assistant = client.beta.assistants.create(
        model="scripted-model",
        tools=[{"type": "file_search", "file_search": {"ranking_options": ranked}}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    assert assistant.tools[0].file_search.ranking_options.model_dump() == ranked
    steps = {}
    for threshold in (0.0, 0.6):
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "Zephyr?"}])
        model.push(tool_call("file_search", {"query": "launch code for project Zephyr"}), text("ok"))
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id,
            assistant_id=assistant.id,
            tools=[
                {
                    "type": "file_search",
                    "file_search": {"ranking_options": {**ranked, "score_threshold": threshold}},
                }
            ],
        )
        assert run.status == "completed", run.last_error
        step = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data[0]
        steps[threshold] = step.step_details.tool_calls[0].file_search
    assert steps[0.6].ranking_options.model_dump() == ranked
    assert steps[0.0].ranking_options.model_dump() == {**ranked, "score_threshold": 0.0}
    every, kept = steps[0.0].results, steps[0.6].results
    assert len(every) == 3 and every[0].file_name == "handbook.txt"
    assert [r.file_id for r in kept] == [r.file_id for r in every if r.score >= 0.6]
    assert 1 <= len(kept) < 3
    for options, param in [
        ({"ranker": "auto"}, "score_threshold"),
        ({"ranker": "none", "score_threshold": 0}, "ranker"),
        ({"ranker": "default-2024-11-15", "score_threshold": 0}, "ranker"),
        ({"score_threshold": 0, "hybrid_search": {"embedding_weight": 1, "text_weight": 1}}, "hybrid_search"),
    ]:
        with pytest.raises(openai.BadRequestError) as err:
            client.beta.assistants.create(
                model="scripted-model",
                tools=[{"type": "file_search", "file_search": {"ranking_options": options}}],
            )
        assert err.value.body["param"] == f"tools[0].file_search.ranking_options.{param}"


def test_file_search_attachment_builds_thread_store(client, model):
    note = client.files.create(
        file=("note.txt", b"The wifi password is correct-horse-battery."), purpose="assistants"
    )
    assistant = client.beta.assistants.create(model="scripted-model", tools=[{"type": "file_search"}])
    thread = client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "wifi password?",
                "attachments": [{"file_id": note.id, "tools": [{"type": "file_search"}]}],
            }
        ]
    )
    model.push(tool_call("file_search", {"query": "wifi password"}), text("see the note"))
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed", run.last_error
    assert "correct-horse-battery" in tool_result(model.requests[-1])
    store_ids = client.beta.threads.retrieve(thread.id).tool_resources.file_search.vector_store_ids
    store = client.vector_stores.retrieve(store_ids[0])
    assert store.expires_after.anchor == "last_active_at" and store.expires_after.days == 7
