"""Responses and Conversations through the official SDK, driven by the scripted model: answers,
chains of responses, store: false, streaming with the SDK's helper, function calling, file search
with citations, limits, truncation, structured output, an assistant as prompt, conversations, and
OpenAI's errors for bad requests."""

import json
import re
import time

import httpx
import openai
import pytest

from tests.runtime.conftest import database_env
from tests.support.scripted_model import Reply, error, text, tool_call, usage_of
from tests.support.server import Server

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
FACTS = {
    "handbook.txt": "Operations handbook. The launch code for project Zephyr is AZURE-7741. Keep it secret.",
    "menu.txt": "Cafeteria menu. Monday: lentil soup. Tuesday: grilled fish. Wednesday: pasta.",
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, model, tmp_path_factory):
    env = {"ASSISTD_MODEL_BASE_URL": model.base_url, "ASSISTD_MODEL_CONTEXT_TOKENS": "3000"}
    env.update(database_env(request.param))
    with Server(tmp_path_factory.mktemp("responses") / "data", env=env) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return server.client()


def test_plain_answer_stored_and_chained(client, model):
    reply = text("Hello, human.")
    model.push(reply)
    first = client.responses.create(model="scripted-model", input="hi", instructions="Be terse.")
    assert first.id.startswith("resp_") and first.object == "response" and first.status == "completed"
    assert first.output_text == "Hello, human." and first.completed_at >= first.created_at
    assert first.usage.input_tokens == usage_of(model.requests[-1], reply)["prompt_tokens"]
    assert first.usage.total_tokens == first.usage.input_tokens + first.usage.output_tokens
    assert first.instructions == "Be terse." and first.store is True and first.truncation == "disabled"
    assert first.temperature == 1.0 and first.tool_choice == "auto" and first.tools == []
    [message] = first.output
    assert message.type == "message" and message.id.startswith("msg_") and message.status == "completed"
    assert model.requests[-1]["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "hi"},
    ]
    assert "temperature" not in model.requests[-1]  # the model's own default unless asked

    model.push(text("Still here."))
    second = client.responses.create(model="scripted-model", input="and now?", previous_response_id=first.id)
    assert second.previous_response_id == first.id and second.instructions is None
    assert model.requests[-1]["messages"] == [  # instructions are not carried over
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello, human."},
        {"role": "user", "content": "and now?"},
    ]
    assert client.responses.retrieve(second.id).output_text == "Still here."
    [item] = client.responses.input_items.list(second.id).data
    assert item.type == "message" and item.role == "user" and item.content[0].text == "and now?"

    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)


def test_store_false_is_not_kept(client, model):
    model.push(text("Forgotten."))
    gone = client.responses.create(model="scripted-model", input="secret", store=False)
    assert gone.status == "completed" and gone.store is False and gone.output_text == "Forgotten."
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(gone.id)
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.create(model="scripted-model", input="x", previous_response_id=gone.id)
    assert err.value.body["param"] == "previous_response_id"
    assert err.value.body["code"] == "previous_response_not_found"


def test_stream_helper_sees_every_event_in_order(client, model):
    model.push(text("Streaming is fun to watch.", piece=4))
    with client.responses.stream(model="scripted-model", input="stream") as stream:
        events = list(stream)
        final = stream.get_final_response()
    names = [e.type for e in events]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert [n for n in names if n != "response.output_text.delta"] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) >= 5 and "".join(deltas) == "Streaming is fun to watch."
    assert events[0].response.status == "in_progress" and events[0].response.output == []
    assert all(e.output_index == 0 and e.content_index == 0 for e in events if "text" in e.type)
    assert final.output_text == "Streaming is fun to watch." and final.status == "completed"
    assert client.responses.retrieve(final.id).output_text == final.output_text


def test_function_calling_across_responses(client, model):
    args = '{"city": "Paris"}'
    model.push(tool_call("get_weather", args), text("Paris is sunny."))
    with client.responses.stream(model="scripted-model", input="weather?", tools=[WEATHER]) as stream:
        events = list(stream)
        asked = stream.get_final_response()
    [call] = asked.output
    assert asked.status == "completed" and call.type == "function_call" and call.id.startswith("fc_")
    assert call.name == "get_weather" and call.arguments == args and call.status == "completed"
    pieces = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert len(pieces) >= 2 and "".join(pieces) == args
    [done] = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert done.arguments == args and done.item_id == call.id and done.name == "get_weather"
    assert asked.tools[0].name == "get_weather" and asked.tools[0].strict is True

    with pytest.raises(openai.BadRequestError) as err:  # the call needs its output
        client.responses.create(model="scripted-model", previous_response_id=asked.id, input="well?")
    assert call.call_id in err.value.body["message"]
    answered = client.responses.create(
        model="scripted-model",
        previous_response_id=asked.id,
        tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
    )
    assert answered.output_text == "Paris is sunny."
    sent = model.requests[-1]["messages"]
    assert (
        sent[-2]["tool_calls"][0]["id"] == call.call_id
        and sent[-2]["tool_calls"][0]["function"]["arguments"] == args
    )
    assert sent[-1] == {"role": "tool", "tool_call_id": call.call_id, "content": "sunny"}

    # the same turn replayed in full, as clients without stored state send it
    model.push(text("Still sunny."))
    replayed = client.responses.create(
        model="scripted-model",
        store=False,
        input=[
            {"role": "user", "content": "weather?"},
            call.model_dump(exclude_none=True),
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
    )
    assert replayed.output_text == "Still sunny." and model.requests[-1]["messages"][-2:] == sent[-2:]


@pytest.fixture(scope="module")
def documents(client):
    ids = {
        name: client.files.create(file=(name, body.encode()), purpose="assistants").id
        for name, body in FACTS.items()
    }
    store = client.vector_stores.create(name="docs", file_ids=list(ids.values()))
    deadline = time.monotonic() + 120
    while client.vector_stores.retrieve(store.id).file_counts.completed < len(FACTS):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    return store.id, ids


def cite_first_result(request: dict) -> Reply:
    last = request["messages"][-1]
    if last["role"] != "tool":
        return tool_call("file_search", {"query": "launch code Zephyr"})
    marker = re.search(r"【\d+:\d+†[^】]+】", last["content"]).group(0)
    return text(f"The launch code is AZURE-7741 {marker}.", piece=1)  # the marker cut everywhere


def test_file_search_with_citation(client, model, documents):
    store_id, ids = documents
    model.script = cite_first_result
    try:
        with client.responses.stream(
            model="scripted-model",
            input="What is the launch code?",
            tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
            include=["file_search_call.results"],
        ) as stream:
            events = list(stream)
            final = stream.get_final_response()
        plain = client.responses.create(
            model="scripted-model",
            input="What is the launch code?",
            tools=[{"type": "file_search", "vector_store_ids": [store_id], "max_num_results": 1}],
        )
    finally:
        model.script = lambda request: text("ok")
    search, answer = final.output
    assert search.type == "file_search_call" and search.id.startswith("fs_") and search.status == "completed"
    assert search.queries == ["launch code Zephyr"]
    assert search.results[0].file_id == ids["handbook.txt"] and search.results[0].filename == "handbook.txt"
    assert "AZURE-7741" in search.results[0].text and search.results[0].score > 0
    assert answer.content[0].text == "The launch code is AZURE-7741 ."  # the marker left the text
    [citation] = answer.content[0].annotations
    assert citation.type == "file_citation" and citation.file_id == ids["handbook.txt"]
    assert citation.filename == "handbook.txt" and citation.index == len("The launch code is AZURE-7741 ")
    names = [e.type for e in events]
    assert names[2:6] == [
        "response.output_item.added",
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.file_search_call.completed",
    ]
    [added] = [e for e in events if e.type == "response.output_text.annotation.added"]
    assert (
        added.annotation_index == 0 and added.output_index == 1 and added.annotation.index == citation.index
    )
    assert "【" not in "".join(e.delta for e in events if e.type == "response.output_text.delta")

    assert plain.output[0].results is None  # results only when included
    assert client.responses.retrieve(plain.id, include=["file_search_call.results"]).output[0].results
    assert plain.tools[0].ranking_options.score_threshold == 0.0 and plain.tools[0].max_num_results == 1


def test_max_tool_calls_withholds_built_in_tools(client, model, documents):
    store_id, _ = documents
    model.push(text("I will not search."))
    done = client.responses.create(
        model="scripted-model",
        input="search please",
        tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
        max_tool_calls=0,
    )
    assert done.output_text == "I will not search." and done.max_tool_calls == 0
    assert "tools" not in model.requests[-1]


def test_max_output_tokens_makes_it_incomplete(client, model):
    model.push(text("A long answer that is cut", finish_reason="length"))
    cut = client.responses.create(model="scripted-model", input="talk", max_output_tokens=16)
    assert cut.status == "incomplete" and cut.incomplete_details.reason == "max_output_tokens"
    assert cut.output[0].status == "incomplete" and cut.output_text == "A long answer that is cut"
    assert model.requests[-1]["max_tokens"] == 16


def test_truncation(client, model):
    long_input = "word " * 4000
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="scripted-model", input=long_input)
    assert err.value.body["code"] == "context_length_exceeded" and err.value.body["param"] == "input"
    model.push(text("kept the end"))
    done = client.responses.create(
        model="scripted-model",
        input=[{"role": "user", "content": long_input}, {"role": "user", "content": "the end"}],
        truncation="auto",
    )
    assert done.status == "completed" and model.requests[-1]["messages"] == [
        {"role": "user", "content": "the end"}
    ]


def test_structured_output_and_model_failure(client, model):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    model.push(text('{"n": 4}'))
    done = client.responses.create(
        model="scripted-model",
        input="two plus two",
        text={"format": {"type": "json_schema", "name": "sum", "schema": schema, "strict": True}},
        temperature=0.2,
    )
    assert json.loads(done.output_text) == {"n": 4} and done.text.format.type == "json_schema"
    sent = model.requests[-1]
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "sum", "schema": schema, "strict": True},
    }
    assert sent["temperature"] == 0.2 and done.temperature == 0.2

    model.push(error(400, "bad prompt"))
    failed = client.responses.create(model="scripted-model", input="x")
    assert failed.status == "failed" and failed.error.code == "invalid_prompt"
    assert "bad prompt" in failed.error.message


def test_assistant_as_prompt(client, model):
    assistant = client.beta.assistants.create(
        model="scripted-model",
        instructions="You help {{team}}.",
        tools=[{"type": "function", "function": {k: v for k, v in WEATHER.items() if k != "type"}}],
        temperature=0.5,
    )
    model.push(text("hi"))
    done = client.responses.create(
        prompt={"id": assistant.id, "variables": {"team": "sales"}}, input="hello", top_p=0.9
    )
    assert done.model == "scripted-model" and done.instructions == "You help sales."
    assert [t.name for t in done.tools] == ["get_weather"] and done.temperature == 0.5 and done.top_p == 0.9
    sent = model.requests[-1]
    assert sent["messages"][0] == {"role": "system", "content": "You help sales."}
    assert sent["temperature"] == 0.5 and sent["top_p"] == 0.9


def test_conversation_collects_the_items(client, model):
    conversation = client.conversations.create(
        metadata={"topic": "demo"}, items=[{"type": "message", "role": "user", "content": "I am Ada."}]
    )
    assert conversation.id.startswith("conv_") and conversation.metadata == {"topic": "demo"}
    model.push(text("Hello Ada."))
    first = client.responses.create(model="scripted-model", input="hello", conversation=conversation.id)
    assert first.conversation.id == conversation.id
    model.push(text("You are Ada."))
    client.responses.create(model="scripted-model", input="who am I?", conversation={"id": conversation.id})
    assert model.requests[-1]["messages"] == [
        {"role": "user", "content": "I am Ada."},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hello Ada."},
        {"role": "user", "content": "who am I?"},
    ]
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [i.role for i in items] == ["user", "user", "assistant", "user", "assistant"]
    assert items[2].id == first.output[0].id
    page = client.conversations.items.list(conversation.id, limit=2)
    assert [i.id for i in page.data] == [items[4].id, items[3].id] and page.has_more
    added = client.conversations.items.create(
        conversation.id, items=[{"type": "message", "role": "user", "content": "one more"}]
    )
    item = client.conversations.items.retrieve(added.data[0].id, conversation_id=conversation.id)
    assert item.content[0].text == "one more"
    client.conversations.items.delete(item.id, conversation_id=conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(item.id, conversation_id=conversation.id)
    updated = client.conversations.update(conversation.id, metadata={"topic": "done"})
    assert updated.metadata == {"topic": "done"}
    assert client.conversations.delete(conversation.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"input": "x"}, 400, "model"),
        ({"model": "m", "input": "x", "previous_response_id": "resp_nope"}, 404, "previous_response_id"),
        ({"model": "m", "input": "x", "conversation": "conv_nope"}, 404, None),
        ({"model": "m", "input": "x", "tools": [{"type": "web_search"}]}, 400, "tools[0]"),
        (
            {"model": "m", "input": "x", "tools": [{"type": "code_interpreter", "container": {}}]},
            400,
            "tools[0].container.type",
        ),
        ({"model": "m", "input": "x", "reasoning": {"effort": "high"}}, 400, "reasoning"),
        ({"model": "m", "input": "x", "include": ["reasoning.encrypted_content"]}, 400, "include[0]"),
        ({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}, 400, "input[0]"),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            400,
            None,
        ),
        (
            {"model": "m", "input": "x", "tool_choice": {"type": "function", "name": "nope"}},
            400,
            "tool_choice.name",
        ),
        ({"model": "m", "input": "x", "max_output_tokens": 5}, 400, "max_output_tokens"),
    ],
)
def test_bad_requests(server, body, status, param):
    answer = httpx.post(f"{server.base_url}/responses", json=body, timeout=30)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["message"] and (param is None or error["param"] == param), error


def test_errors_on_stored_responses(client, server, model):
    model.push(text("ok"))
    done = client.responses.create(model="scripted-model", input="x")
    conversation = client.conversations.create()
    both = httpx.post(
        f"{server.base_url}/responses",
        json={"model": "m", "input": "x", "previous_response_id": done.id, "conversation": conversation.id},
    )
    assert both.status_code == 400 and both.json()["error"]["param"] == "previous_response_id"
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.cancel(done.id)
    assert "background" in err.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_nope")
    stray = httpx.post(
        f"{server.base_url}/responses",
        json={"model": "m", "input": [{"type": "function_call_output", "call_id": "call_x", "output": "1"}]},
    )
    assert stray.status_code == 400 and "call_x" in stray.json()["error"]["message"]


def test_hybrid_search_weights_reach_the_ranking(client, model, documents):
    store_id, _ = documents
    scores = {}  # a query of common words: no name decides first, the weighted sides rank
    for weights in ((1, 0), (0, 1)):
        model.push(tool_call("file_search", {"query": "what soup is on the menu"}), text("ok"))
        ranking = {"hybrid_search": {"embedding_weight": weights[0], "text_weight": weights[1]}}
        done = client.responses.create(
            model="scripted-model",
            input="soup?",
            tools=[{"type": "file_search", "vector_store_ids": [store_id], "ranking_options": ranking}],
            include=["file_search_call.results"],
        )
        assert done.tools[0].ranking_options.hybrid_search.embedding_weight == weights[0]
        scores[weights] = [round(r.score, 6) for r in done.output[0].results]
    assert scores[(1, 0)] and scores[(0, 1)] and scores[(1, 0)] != scores[(0, 1)]

    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(
            model="scripted-model",
            input="soup?",
            tools=[
                {
                    "type": "file_search",
                    "vector_store_ids": [store_id],
                    "ranking_options": {"hybrid_search": {"embedding_weight": 0, "text_weight": 0}},
                }
            ],
        )
    assert err.value.body["param"] == "tools[0].ranking_options.hybrid_search"
