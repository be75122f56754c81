"""OpenAI's Agents SDK (`openai-agents`) pointed at assistd's `/v1/responses`: an agent with a
function tool and a `FileSearchTool` answers through `Runner.run` (the SDK replays the whole input
each turn), through `Runner.run` chaining turns with `previous_response_id` and in a conversation,
and through `Runner.run_streamed`, and an agent with a `CodeInterpreterTool` running code in an `auto`
container, all driven by the scripted model."""

import asyncio
import time

import pytest
from agents import (
    Agent,
    CodeInterpreterTool,
    FileSearchTool,
    ModelSettings,
    Runner,
    function_tool,
    set_default_openai_api,
    set_default_openai_client,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

from tests.support.scripted_model import ScriptedModel
from tests.support.server import Server

ASKED: list[str] = []


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    ASKED.append(city)
    return f"sunny in {city}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ScriptedModel() as model:  # its default script: `call:` and `search:` messages
        with Server(
            tmp_path_factory.mktemp("agents") / "data", env={"ASSISTD_MODEL_BASE_URL": model.base_url}
        ) as srv:
            yield srv


@pytest.fixture(scope="module")
def client(server):
    return server.client()


@pytest.fixture(scope="module")
def agent(client):
    upload = client.files.create(
        file=("handbook.txt", b"The launch code for project Zephyr is AZURE-7741."), purpose="assistants"
    )
    store = client.vector_stores.create(name="handbook", file_ids=[upload.id])
    deadline = time.monotonic() + 120
    while client.vector_stores.retrieve(store.id).file_counts.completed < 1:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    set_default_openai_api("responses")
    set_tracing_disabled(True)
    return Agent(
        name="helper",
        model="scripted-model",
        instructions="Help the user.",
        tools=[get_weather, FileSearchTool(vector_store_ids=[store.id], include_search_results=True)],
        model_settings=ModelSettings(temperature=0.3),
    )


@pytest.fixture(scope="module")
def run(server):
    """Runs a coroutine on the module's one event loop, where the SDK's default client lives."""
    with asyncio.Runner() as runner:
        sdk_client = AsyncOpenAI(base_url=server.base_url, api_key="unused")
        set_default_openai_client(sdk_client, use_for_tracing=False)
        yield runner.run
        runner.run(sdk_client.close())


def test_function_tool_with_full_input_replay(agent, run):
    ASKED.clear()
    result = run(Runner.run(agent, 'call: get_weather {"city": "Paris"}'))
    assert ASKED == ["Paris"] and result.final_output == "Tool said: sunny in Paris"
    assert [item.type for item in result.new_items] == [
        "tool_call_item",
        "tool_call_output_item",
        "message_output_item",
    ]


def test_file_search_tool(agent, run):
    result = run(Runner.run(agent, "search: launch code Zephyr"))
    assert "AZURE-7741" in result.final_output
    [search] = [item for item in result.new_items if item.type == "tool_call_item"]
    assert search.raw_item.type == "file_search_call" and search.raw_item.status == "completed"
    assert "AZURE-7741" in search.raw_item.results[0].text


def test_chained_with_previous_response_id_and_in_a_conversation(agent, run, client):
    ASKED.clear()
    chained = run(
        Runner.run(agent, 'call: get_weather {"city": "Rome"}', auto_previous_response_id=True),
    )
    assert chained.final_output == "Tool said: sunny in Rome" and ASKED == ["Rome"]
    conversation = client.conversations.create()
    first = run(
        Runner.run(agent, 'call: get_weather {"city": "Oslo"}', conversation_id=conversation.id),
    )
    assert first.final_output == "Tool said: sunny in Oslo"
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [i.type for i in items] == ["message", "function_call", "function_call_output", "message"]


def test_run_streamed(agent, run):
    ASKED.clear()

    async def streamed() -> tuple[list, str]:
        result = Runner.run_streamed(agent, 'call: get_weather {"city": "Lima"}')
        events = [event async for event in result.stream_events()]
        return events, result.final_output

    events, final = run(streamed())
    assert final == "Tool said: sunny in Lima" and ASKED == ["Lima"]
    raw = [e.data.type for e in events if e.type == "raw_response_event"]
    assert raw.count("response.created") == 2 and raw.count("response.completed") == 2
    assert "response.function_call_arguments.delta" in raw and "response.output_text.delta" in raw
    named = [e.name for e in events if e.type == "run_item_stream_event"]
    assert named == ["tool_called", "tool_output", "message_output_created"]


def test_code_interpreter_tool(run, client, docker_client):
    coder = Agent(
        name="coder",
        model="scripted-model",
        tools=[CodeInterpreterTool(tool_config={"type": "code_interpreter", "container": {"type": "auto"}})],
    )
    result = run(Runner.run(coder, "run: print(6 * 7)"))
    assert result.final_output.startswith("Tool said: 42")
    [call] = [item for item in result.new_items if item.type == "tool_call_item"]
    assert call.raw_item.type == "code_interpreter_call" and call.raw_item.code == "print(6 * 7)"
    assert client.containers.retrieve(call.raw_item.container_id).status == "running"
    again = run(
        Runner.run(coder, result.to_input_list() + [{"role": "user", "content": "run: print(7 * 8)"}])
    )
    assert again.final_output.startswith("Tool said: 56")  # the earlier call given back is accepted
