"""Background responses through the official SDK, driven by the scripted model: `background: true`
returns at once and the response completes without the client; a streamed background response
whose client goes away mid-stream loses nothing (the SDK's `responses.stream(response_id=...,
starting_after=N)` picks it up where it stopped, on the same events); cancel stops a background
response (and is a no-op once it has ended); OpenAI's errors for what only background responses
allow."""

import time

import openai
import pytest

from tests.support.scripted_model import ScriptedModel, slow_or_default
from tests.support.server import Server

TERMINAL = {"completed", "failed", "cancelled", "incomplete"}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with ScriptedModel(script=slow_or_default) as model:
        env = {"ASSISTD_MODEL_BASE_URL": model.base_url}
        with Server(tmp_path_factory.mktemp("background") / "data", env=env) as srv:
            yield srv.client()


def wait_until_ended(client, response_id: str, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while (found := client.responses.retrieve(response_id)).status not in TERMINAL:
        assert time.monotonic() < deadline, f"{response_id} did not end"
        time.sleep(0.05)
    return found


def test_a_background_response_runs_without_its_client(client):
    started = client.responses.create(model="scripted-model", input="slow 1", background=True)
    assert started.background is True and started.status in ("queued", "in_progress")
    assert started.output == []
    done = wait_until_ended(client, started.id)
    assert done.status == "completed" and done.output_text == "word " * 20


def test_a_dropped_stream_is_picked_up_where_it_stopped(client):
    first = []
    dropped = client.responses.create(model="scripted-model", input="slow 2", background=True, stream=True)
    with dropped as stream:
        for event in stream:
            first.append(event)
            if event.type == "response.output_text.delta" and len(first) > 6:
                break  # the client goes away mid-answer
    assert [e.type for e in first[:3]] == ["response.created", "response.queued", "response.in_progress"]
    assert first[0].response.status == "queued" and first[0].response.background is True
    response_id, last = first[0].response.id, first[-1].sequence_number

    with client.responses.stream(response_id=response_id, starting_after=last) as resumed:
        rest = list(resumed)
        final = resumed.get_final_response()
    assert [e.sequence_number for e in first + rest] == list(range(len(first) + len(rest)))
    assert rest[-1].type == "response.completed" and final.output_text == "word " * 40
    deltas = [e.delta for e in first + rest if e.type == "response.output_text.delta"]
    assert "".join(deltas) == final.output_text

    replay = list(client.responses.retrieve(response_id, stream=True))  # from the start, once it has ended
    assert [e.sequence_number for e in replay] == list(range(len(first) + len(rest)))


def test_cancel_stops_a_background_response(client):
    started = client.responses.create(model="scripted-model", input="slow 30", background=True)
    deadline = time.monotonic() + 30
    while client.responses.retrieve(started.id).status != "in_progress":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cancelled = client.responses.cancel(started.id)
    assert cancelled.id == started.id and cancelled.status in ("cancelled", "in_progress")
    assert wait_until_ended(client, started.id, 5).status == "cancelled"
    assert client.responses.cancel(started.id).status == "cancelled"  # ended: returned as it is
    events = list(client.responses.retrieve(started.id, stream=True))
    assert events[-1].type == "response.cancelled" and events[-1].response["status"] == "cancelled"


def test_only_background_responses_stream_again_or_cancel(client):
    plain = client.responses.create(model="scripted-model", input="hello")
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(plain.id)
    with pytest.raises(openai.BadRequestError):
        list(client.responses.retrieve(plain.id, stream=True))
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="scripted-model", input="x", background=True, store=False)
    assert err.value.body["param"] == "background"


def test_old_events_are_pruned_and_the_response_stays(tmp_path):
    """A stream whose events are all older than ASSISTD_EVENTS_KEEP_SECONDS is deleted (at start-up,
    then every ten minutes): the response is still there, and streaming it again is a clear 400."""
    with ScriptedModel(script=slow_or_default) as model:
        env = {"ASSISTD_MODEL_BASE_URL": model.base_url, "ASSISTD_EVENTS_KEEP_SECONDS": "1"}
        with Server(tmp_path / "data", env=env) as srv:
            client = srv.client()
            started = client.responses.create(model="scripted-model", input="slow 0.5", background=True)
            done = wait_until_ended(client, started.id)
            time.sleep(1.5)
            srv.restart()
            client = srv.client()
            deadline, refused = time.monotonic() + 10, None
            while refused is None:  # the first sweep after start prunes
                assert time.monotonic() < deadline, "the events were not pruned"
                time.sleep(0.2)
                try:
                    with client.responses.stream(response_id=started.id) as stream:
                        list(stream)
                except openai.BadRequestError as err:
                    refused = err
            assert refused.status_code == 400 and "no longer kept" in refused.message
            kept = client.responses.retrieve(started.id)
            assert kept.status == "completed" and kept.output_text == done.output_text
