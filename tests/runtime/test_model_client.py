"""The upstream model client against a real chat-completions server (the scripted model)."""

import asyncio
import time

import pytest

from runtime.model_client import Completion, ModelClient, ModelError, TextDelta, ToolCallDelta
from tests.support.scripted_model import ScriptedModel, calls, closed_port_url, error, text


def collect(client: ModelClient, **kwargs) -> list:
    async def go():
        try:
            return [
                e
                async for e in client.stream_chat(
                    model="m", messages=[{"role": "user", "content": "hi"}], **kwargs
                )
            ]
        finally:
            await client.aclose()

    return asyncio.run(go())


@pytest.fixture
def model():
    with ScriptedModel() as m:
        yield m


def test_text_streams_in_pieces_and_assembles(model):
    model.push(text("Hello there, streaming world", piece=5))
    events = collect(ModelClient(model.base_url, "k"))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 3 and "".join(deltas) == "Hello there, streaming world"
    done = events[-1]
    assert isinstance(done, Completion) and done.text == "Hello there, streaming world"
    assert done.finish_reason == "stop" and done.usage.total_tokens > 0
    assert model.requests[0]["stream"] is True and model.requests[0]["stream_options"] == {
        "include_usage": True
    }


def test_parallel_tool_calls_assemble_from_fragments(model):
    model.push(calls([("get_weather", {"city": "Paris"}), ("get_time", {"zone": "Europe/Paris"})]))
    events = collect(
        ModelClient(model.base_url, None), tools=[{"type": "function", "function": {"name": "x"}}]
    )
    assert sum(isinstance(e, ToolCallDelta) for e in events) > 4
    done = events[-1]
    assert [(c.name, c.arguments) for c in done.tool_calls] == [
        ("get_weather", '{"city": "Paris"}'),
        ("get_time", '{"zone": "Europe/Paris"}'),
    ]
    assert all(c.id.startswith("call_") for c in done.tool_calls) and done.finish_reason == "tool_calls"


def test_server_error_is_retried_then_succeeds(model):
    model.push(error(500), error(503), text("recovered"))
    assert collect(ModelClient(model.base_url, None, max_retries=2))[-1].text == "recovered"
    assert len(model.requests) == 3


def test_persistent_server_error_fails_after_bounded_retries(model):
    model.push(*[error(500, "upstream broke")] * 5)
    with pytest.raises(ModelError) as err:
        collect(ModelClient(model.base_url, None, max_retries=2))
    assert (
        err.value.code == "server_error"
        and "500" in err.value.message
        and "upstream broke" in err.value.message
    )
    assert len(model.requests) == 3


def test_bad_request_is_not_retried(model):
    model.push(error(400, "context too long"), text("never"))
    with pytest.raises(ModelError) as err:
        collect(ModelClient(model.base_url, None))
    assert err.value.code == "invalid_prompt" and len(model.requests) == 1


def test_rate_limit_code(model):
    model.push(*[error(429, "slow down")] * 3)
    with pytest.raises(ModelError) as err:
        collect(ModelClient(model.base_url, None, max_retries=1))
    assert err.value.code == "rate_limit_exceeded"


def test_connection_refused_fails_fast():
    started = time.monotonic()
    with pytest.raises(ModelError) as err:
        collect(ModelClient(closed_port_url(), None, max_retries=1))
    assert "connect" in err.value.message.lower() and time.monotonic() - started < 5


def test_hang_times_out(model):
    model.push(text("late", hang=5), text("late", hang=5))
    started = time.monotonic()
    with pytest.raises(ModelError) as err:
        collect(ModelClient(model.base_url, None, timeout=0.5, max_retries=1))
    assert "did not answer" in err.value.message and time.monotonic() - started < 4


def test_malformed_stream_fails(model):
    model.push(text("x", malformed=True))
    with pytest.raises(ModelError) as err:
        collect(ModelClient(model.base_url, None))
    assert "malformed" in err.value.message


def test_list_models(model):
    async def go():
        client = ModelClient(model.base_url, None)
        try:
            return await client.list_models()
        finally:
            await client.aclose()

    assert [m["id"] for m in asyncio.run(go())] == ["scripted-model"]
