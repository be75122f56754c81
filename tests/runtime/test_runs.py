"""Runs through the official SDK, driven by the scripted chat-completions model: answers,
instructions, function calling, streaming, cancel, incomplete, upstream outage, restart, expiry."""

import json
import time

import httpx
import openai
import pytest

from tests.support.scripted_model import (
    ScriptedModel,
    calls,
    closed_port_url,
    error,
    text,
    tool_call,
    usage_of,
)
from tests.support.server import Server
from tests.support.stream_log import TEXT_ANSWER, CallbackLog

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def server(model, tmp_path_factory):
    env = {"ASSISTD_MODEL_BASE_URL": model.base_url, "ASSISTD_RUN_EXPIRES_SECONDS": "600"}
    with Server(tmp_path_factory.mktemp("runs") / "data", env=env) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return server.client()


@pytest.fixture(scope="module")
def assistant(client):
    return client.beta.assistants.create(model="scripted-model", instructions="Be terse.", tools=[WEATHER])


def texts(client, thread_id):
    return [
        (m.role, m.content[-1].text.value) for m in client.beta.threads.messages.list(thread_id, order="asc")
    ]


def test_plain_answer(client, assistant, model):
    reply = text("Hello, human.")
    model.push(reply)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed" and run.id.startswith("run_")
    assert run.started_at and run.completed_at and run.expires_at > run.created_at
    assert run.model == "scripted-model" and run.instructions == "Be terse."
    assert run.usage.total_tokens == run.usage.prompt_tokens + run.usage.completion_tokens > 0
    assert run.usage.model_dump() == usage_of(model.requests[-1], reply)  # the endpoint's own count
    assert texts(client, thread.id) == [("user", "hi"), ("assistant", "Hello, human.")]
    answer = client.beta.threads.messages.list(thread.id).data[0]
    assert answer.run_id == run.id and answer.assistant_id == assistant.id and answer.status == "completed"
    assert [m.id for m in client.beta.threads.messages.list(thread.id, run_id=run.id)] == [answer.id]

    sent = model.requests[-1]
    assert sent["model"] == "scripted-model" and sent["stream"] is True
    assert sent["messages"] == [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}]
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather"]

    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data
    assert [(s.type, s.status) for s in steps] == [("message_creation", "completed")]
    assert steps[0].step_details.message_creation.message_id == answer.id
    assert steps[0].usage.total_tokens > 0
    one = client.beta.threads.runs.steps.retrieve(steps[0].id, thread_id=thread.id, run_id=run.id)
    assert one.id == steps[0].id
    assert client.beta.threads.runs.list(thread.id).data[0].id == run.id


def test_instructions_override_and_additional(client, assistant, model):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "first"}])
    model.push(text("ok"))
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        instructions="Speak like a pirate.",
        additional_instructions="Mention the sea.",
        additional_messages=[{"role": "user", "content": "second"}],
        metadata={"k": "v"},
        temperature=0.3,
    )
    assert run.status == "completed" and run.instructions == "Speak like a pirate.\n\nMention the sea."
    assert run.metadata == {"k": "v"} and run.temperature == 0.3
    sent = model.requests[-1]
    assert sent["messages"][0] == {"role": "system", "content": "Speak like a pirate.\n\nMention the sea."}
    assert [m["content"] for m in sent["messages"][1:]] == ["first", "second"]
    assert sent["temperature"] == 0.3
    updated = client.beta.threads.runs.update(run.id, thread_id=thread.id, metadata={"k": "w"})
    assert updated.metadata == {"k": "w"}


def test_function_calling_with_parallel_calls_and_bad_ids(client, assistant, model, server):
    model.push(
        calls([("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]),
        text("Paris is sunny and Rome is rainy."),
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "weather in Paris and Rome?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action"
    tool_calls = run.required_action.submit_tool_outputs.tool_calls
    assert [(c.function.name, c.function.arguments) for c in tool_calls] == [
        ("get_weather", '{"city": "Paris"}'),
        ("get_weather", '{"city": "Rome"}'),
    ]

    url = f"{server.base_url}/threads/{thread.id}/runs/{run.id}/submit_tool_outputs"
    bad = httpx.post(url, json={"tool_outputs": [{"tool_call_id": "call_nope", "output": "x"}]})
    assert bad.status_code == 400 and "call_nope" in bad.json()["error"]["message"]
    partial = httpx.post(url, json={"tool_outputs": [{"tool_call_id": tool_calls[0].id, "output": "x"}]})
    assert partial.status_code == 400 and tool_calls[1].id in partial.json()["error"]["message"]
    with pytest.raises(openai.BadRequestError):  # a second run while this one waits
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    with pytest.raises(openai.BadRequestError):  # and no new message either
        client.beta.threads.messages.create(thread.id, role="user", content="hurry")
    assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "requires_action"

    outputs = [
        {"tool_call_id": tool_calls[0].id, "output": "sunny"},
        {"tool_call_id": tool_calls[1].id, "output": "rainy"},
    ]
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id, run_id=run.id, tool_outputs=outputs
    )
    assert run.status == "completed" and run.required_action is None
    assert texts(client, thread.id)[-1] == ("assistant", "Paris is sunny and Rome is rainy.")
    sent = model.requests[-1]["messages"]
    assert sent[-3]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert [(m["role"], m["content"]) for m in sent[-2:]] == [("tool", "sunny"), ("tool", "rainy")]

    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
    assert [(s.type, s.status) for s in steps] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    assert [c.function.output for c in steps[0].step_details.tool_calls] == ["sunny", "rainy"]
    again = httpx.post(url, json={"tool_outputs": outputs})
    assert again.status_code == 400  # the run no longer waits


def test_streaming_event_order(client, assistant, model):
    model.push(text("Streaming is fun to watch.", piece=4))
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "stream"}])
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        received = list(stream)
        final = stream.get_final_messages()
    events = [event.event for event in received]
    pieces = [e.data.delta.content[0].text.value for e in received if e.event == "thread.message.delta"]
    assert "".join(pieces) == "Streaming is fun to watch."  # each piece once, none repeated
    deltas = events.count("thread.message.delta")
    assert deltas >= 5
    assert [e for e in events if e != "thread.message.delta"] == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.message.created",
        "thread.message.in_progress",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
    ]
    assert final[0].content[0].text.value == "Streaming is fun to watch."


def stream_events(url: str, body: dict) -> list[tuple[str, dict]]:
    """The (event, data) pairs of a streamed request, read off the wire."""
    events, name = [], None
    with httpx.stream("POST", url, json=body, timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name != "done":
                events.append((name, json.loads(line[6:])))
    return events


def indexed(value) -> bool:
    """Every object in every array of a delta carries its `index`, as the SDKs' accumulators need."""
    if isinstance(value, dict):
        return all(indexed(v) for v in value.values())
    if isinstance(value, list):
        return all(not isinstance(v, dict) or ("index" in v and indexed(v)) for v in value)
    return True


def test_stream_events_are_snapshots(server, assistant, model):
    """Each event carries the object as it was then: the message starts empty and its deltas, each
    part with its index, rebuild the text exactly once."""
    model.push(text("Snapshots, not live objects.", piece=3))
    thread = httpx.post(
        f"{server.base_url}/threads", json={"messages": [{"role": "user", "content": "x"}]}
    ).json()
    events = stream_events(
        f"{server.base_url}/threads/{thread['id']}/runs", {"assistant_id": assistant.id, "stream": True}
    )
    step = next(data for name, data in events if name == "thread.run.step.created")
    created = next(data for name, data in events if name == "thread.message.created")
    assert step["step_details"]["message_creation"]["message_id"] == created["id"]
    assert created["content"] == [] and created["status"] == "in_progress"
    parts = [data["delta"]["content"] for name, data in events if name == "thread.message.delta"]
    assert all(len(p) == 1 and p[0]["index"] == 0 and p[0]["type"] == "text" for p in parts)
    assert all(p[0]["text"]["annotations"] == [] for p in parts)
    rebuilt = "".join(p[0]["text"]["value"] for p in parts)
    completed = next(data for name, data in events if name == "thread.message.completed")
    assert rebuilt == completed["content"][0]["text"]["value"] == "Snapshots, not live objects."


def test_event_handler_sees_a_plain_answer(client, assistant, model):
    """Python's AssistantEventHandler gets OpenAI's callbacks in OpenAI's order (the text is created
    by its first delta, so `on_text_created` fires)."""
    model.push(text("Hello there, handler.", piece=5))
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    handler = CallbackLog()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
    assert handler.names() == [*TEXT_ANSWER, "end"]
    [[step]], [[message]] = handler.args("run_step_created"), handler.args("message_created")
    assert step["type"] == "message_creation"
    assert step["step_details"]["message_creation"]["message_id"] == message["id"]
    assert message["content"] == [] and message["role"] == "assistant"
    assert handler.args("text_created") == [[{"value": "Hello", "annotations": []}]]
    deltas = [delta["value"] for delta, _ in handler.args("text_delta")]
    assert deltas == ["Hello", " ther", "e, ha", "ndler", "."]
    assert [snapshot["value"] for _, snapshot in handler.args("text_delta")] == [
        "".join(deltas[: i + 1]) for i in range(len(deltas))
    ]
    assert len(handler.args("message_delta")) == len(deltas)
    assert handler.args("text_done") == [[{"value": "Hello there, handler.", "annotations": []}]]
    [[done]] = handler.args("message_done")
    assert done["id"] == message["id"] and done["status"] == "completed"
    assert done["content"] == [
        {"type": "text", "text": {"value": "Hello there, handler.", "annotations": []}}
    ]
    [[step_done]] = handler.args("run_step_done")
    assert step_done["id"] == step["id"] and step_done["status"] == "completed"
    assert step_done["usage"]["total_tokens"] > 0


def test_function_call_streams_like_openai(server, assistant, model):
    """A tool-calls step starts with no calls; its first delta introduces the call (index, id, type,
    name, empty arguments), later deltas carry only arguments, and `requires_action` comes last."""
    model.push(tool_call("get_weather", {"city": "Reykjavik"}))
    thread = httpx.post(
        f"{server.base_url}/threads", json={"messages": [{"role": "user", "content": "cold?"}]}
    ).json()
    events = stream_events(
        f"{server.base_url}/threads/{thread['id']}/runs", {"assistant_id": assistant.id, "stream": True}
    )
    names = [name for name, _ in events]
    assert names[-1] == "thread.run.requires_action" and names.count("thread.run.step.created") == 1
    assert names.index("thread.run.step.created") < names.index("thread.run.step.delta")
    step = next(data for name, data in events if name == "thread.run.step.created")
    assert step["type"] == "tool_calls" and step["step_details"] == {"type": "tool_calls", "tool_calls": []}
    deltas = [data for name, data in events if name == "thread.run.step.delta"]
    assert all(d["id"] == step["id"] and d["object"] == "thread.run.step.delta" for d in deltas)
    assert all(indexed(d["delta"]) for d in deltas)
    calls = [d["delta"]["step_details"]["tool_calls"] for d in deltas]
    assert all(len(c) == 1 for c in calls)
    first, later = calls[0][0], [c[0] for c in calls[1:]]
    call_id = events[-1][1]["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    assert first == {
        "index": 0,
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": "", "output": None},
    }
    assert len(later) >= 3 and all(c.keys() == {"index", "type", "function"} for c in later)
    assert all(c["function"].keys() == {"arguments"} for c in later)
    assert "".join(c["function"]["arguments"] for c in later) == '{"city": "Reykjavik"}'


def test_event_handler_sees_a_function_call_and_the_answer_after_it(client, assistant, model):
    model.push(tool_call("get_weather", {"city": "Oslo"}), text("Cold in Oslo."))
    handler = CallbackLog()
    with client.beta.threads.create_and_run_stream(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "Oslo?"}]},
        event_handler=handler,
    ) as stream:
        events = [e.event for e in stream]
        run = stream.current_run
    assert events[0] == "thread.created" and events[-1] == "thread.run.requires_action"
    assert handler.names() == [
        "run_step_created",
        "tool_call_created",
        "tool_call_delta",
        "tool_call_done",
        "end",
    ]
    [[step]] = handler.args("run_step_created")
    assert step["type"] == "tool_calls" and step["step_details"]["tool_calls"] == []
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    [[created]] = handler.args("tool_call_created")
    assert created["id"] == call.id and created["type"] == "function"
    assert created["function"] == {"name": "get_weather", "arguments": "", "output": None}
    pieces = [delta["function"]["arguments"] for delta, _ in handler.args("tool_call_delta")]
    assert len(pieces) >= 2 and "".join(pieces) == '{"city": "Oslo"}'
    assert all("id" not in delta for delta, _ in handler.args("tool_call_delta"))
    [[done]] = handler.args("tool_call_done")
    assert done["id"] == call.id and done["function"]["arguments"] == '{"city": "Oslo"}'
    assert done["function"]["output"] is None

    handler = CallbackLog()
    with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=run.thread_id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "-5C"}],
        event_handler=handler,
    ) as stream:
        stream.until_done()
    assert handler.names() == ["run_step_done", *TEXT_ANSWER, "end"]
    tool_step, message_step = (args[0] for args in handler.args("run_step_done"))
    assert tool_step["id"] == step["id"] and tool_step["status"] == "completed"
    assert tool_step["step_details"]["tool_calls"][0]["function"]["output"] == "-5C"
    assert message_step["type"] == "message_creation" and message_step["status"] == "completed"
    assert "".join(delta["value"] for delta, _ in handler.args("text_delta")) == "Cold in Oslo."
    assert handler.args("text_done") == [[{"value": "Cold in Oslo.", "annotations": []}]]
    assert stream.get_final_run().status == "completed"
    assert stream.get_final_messages()[0].content[0].text.value == "Cold in Oslo."


def test_create_and_run_polls(client, assistant, model):
    model.push(text("Created and ran."))
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "go"}]}
    )
    assert run.status == "completed"
    assert texts(client, run.thread_id) == [("user", "go"), ("assistant", "Created and ran.")]


def test_cancel_while_model_answers(client, assistant, model):
    model.push(text("word " * 200, piece=5, delay=0.05))
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "long answer"}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    deadline = time.monotonic() + 10
    while (
        not client.beta.threads.messages.list(thread.id, run_id=run.id).data and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    cancelled = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelled.status in ("cancelling", "cancelled")
    run = client.beta.threads.runs.poll(run.id, thread_id=thread.id)
    assert run.status == "cancelled" and run.cancelled_at
    partial = client.beta.threads.messages.list(thread.id, run_id=run.id).data[0]
    assert partial.status == "incomplete" and partial.incomplete_details.reason == "run_cancelled"
    assert 0 < len(partial.content[0].text.value) < len("word " * 200)
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    model.push(text("after cancel"))  # the thread is usable again
    assert (
        client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id).status
        == "completed"
    )


def test_incomplete_on_token_limits(client, assistant, model):
    model.push(text("This answer is cut", finish_reason="length", completion_tokens=300))
    question = "tell me everything" + " in detail" * 300  # over 256 tokens, OpenAI's least max_prompt_tokens
    thread = client.beta.threads.create(messages=[{"role": "user", "content": question}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=300
    )
    assert run.status == "incomplete" and run.incomplete_details.reason == "max_completion_tokens"
    assert model.requests[-1]["max_tokens"] == 300
    message = client.beta.threads.messages.list(thread.id, run_id=run.id).data[0]
    assert message.status == "incomplete" and message.incomplete_details.reason == "max_tokens"

    calls_before = len(model.requests)
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, max_prompt_tokens=256
    )
    assert run.status == "incomplete" and run.incomplete_details.reason == "max_prompt_tokens"
    assert len(model.requests) == calls_before  # stopped before calling the model


def test_truncation_last_messages(client, assistant, model):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": f"m{i}"} for i in range(6)])
    model.push(text("ok"))
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        truncation_strategy={"type": "last_messages", "last_messages": 2},
    )
    assert run.truncation_strategy.type == "last_messages"
    assert [m["content"] for m in model.requests[-1]["messages"][1:]] == ["m4", "m5"]


def test_upstream_errors_fail_the_run(client, assistant, model):
    model.push(*[error(500, "the GPU caught fire")] * 5)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "failed" and run.failed_at
    assert run.last_error.code == "server_error" and "the GPU caught fire" in run.last_error.message

    model.push(text("x", malformed=True))
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "failed" and "malformed" in run.last_error.message


def test_bad_run_requests(server, client, assistant):
    thread = client.beta.threads.create()
    url = f"{server.base_url}/threads/{thread.id}/runs"
    for body, param in [
        ({}, "assistant_id"),
        ({"assistant_id": assistant.id, "temperature": 7}, "temperature"),
        (
            {"assistant_id": assistant.id, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice.function.name",
        ),
        (
            {"assistant_id": assistant.id, "truncation_strategy": {"type": "middle"}},
            "truncation_strategy.type",
        ),
    ]:
        r = httpx.post(url, json=body)
        assert r.status_code == 400 and r.json()["error"]["param"] == param, r.text
    assert httpx.post(url, json={"assistant_id": "asst_missing"}).status_code == 404
    assert (
        httpx.post(
            f"{server.base_url}/threads/thread_missing/runs", json={"assistant_id": assistant.id}
        ).status_code
        == 404
    )
    assert httpx.get(f"{url}/run_missing").status_code == 404
    assert client.beta.threads.runs.list(thread.id).data == []


def test_upstream_outage(tmp_path):
    with Server(tmp_path / "data", env={"ASSISTD_MODEL_BASE_URL": closed_port_url()}) as srv:
        client = srv.client()
        assistant = client.beta.assistants.create(model="m")
        started = time.monotonic()
        run = client.beta.threads.create_and_run_poll(
            assistant_id=assistant.id,
            thread={"messages": [{"role": "user", "content": "anyone?"}]},
            poll_interval_ms=100,
        )
        assert run.status == "failed" and run.last_error.code == "server_error"
        assert "connect" in run.last_error.message.lower() and time.monotonic() - started < 15


def test_restart_settles_runs(tmp_path):
    with ScriptedModel() as model:
        env = {"ASSISTD_MODEL_BASE_URL": model.base_url}
        srv = Server(tmp_path / "data", env=env).start()
        try:
            client = srv.client()
            assistant = client.beta.assistants.create(model="m", tools=[WEATHER])
            model.push(tool_call("get_weather", {"city": "Lima"}))
            waiting = client.beta.threads.create_and_run_poll(
                assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "Lima?"}]}
            )
            assert waiting.status == "requires_action"
            model.push(text("slow " * 400, piece=5, delay=0.05))
            busy = client.beta.threads.create_and_run(
                assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "slow"}]}
            )
            deadline = time.monotonic() + 10
            while not client.beta.threads.messages.list(busy.thread_id, run_id=busy.id).data:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            srv.kill()
            srv.start()
            client = srv.client()
            busy = client.beta.threads.runs.retrieve(busy.id, thread_id=busy.thread_id)
            assert busy.status == "failed" and "restarted" in busy.last_error.message
            waiting = client.beta.threads.runs.retrieve(waiting.id, thread_id=waiting.thread_id)
            assert waiting.status == "requires_action"  # still waiting for the client, across the restart
            call = waiting.required_action.submit_tool_outputs.tool_calls[0]
            model.push(text("warm"))
            done = client.beta.threads.runs.submit_tool_outputs_and_poll(
                thread_id=waiting.thread_id,
                run_id=waiting.id,
                tool_outputs=[{"tool_call_id": call.id, "output": "25C"}],
            )
            assert done.status == "completed"
        finally:
            srv.stop()


def test_requires_action_expires(tmp_path):
    with ScriptedModel() as model:
        env = {"ASSISTD_MODEL_BASE_URL": model.base_url, "ASSISTD_RUN_EXPIRES_SECONDS": "2"}
        with Server(tmp_path / "data", env=env) as srv:
            client = srv.client()
            assistant = client.beta.assistants.create(model="m", tools=[WEATHER])
            model.push(tool_call("get_weather", {"city": "Quito"}))
            run = client.beta.threads.create_and_run_poll(  # seen waiting well before it can expire
                assistant_id=assistant.id,
                thread={"messages": [{"role": "user", "content": "Quito?"}]},
                poll_interval_ms=50,
            )
            assert run.status == "requires_action"
            deadline = time.monotonic() + 10
            while run.status == "requires_action" and time.monotonic() < deadline:
                time.sleep(0.2)
                run = client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
            assert run.status == "expired"
            step = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=run.thread_id).data[0]
            assert step.status == "expired"


def test_models_come_from_the_upstream(client, server):
    assert [m.id for m in client.models.list()] == ["scripted-model"]
    assert client.models.retrieve("scripted-model").id == "scripted-model"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_models_when_upstream_is_down(tmp_path):
    with Server(tmp_path / "data", env={"ASSISTD_MODEL_BASE_URL": closed_port_url()}) as srv:
        r = httpx.get(srv.base_url + "/models")
        assert r.status_code == 502 and "ASSISTD_MODEL_BASE_URL" in r.json()["error"]["message"]
