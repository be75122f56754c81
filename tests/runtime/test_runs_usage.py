"""Usage when the model endpoint reports none (llama.cpp ignores `stream_options.include_usage`):
assistd counts the prompt and the completion itself, so run and step usage are real numbers and
`max_prompt_tokens` / `max_completion_tokens` still stop a run."""

import json

import pytest

from tests.support.scripted_model import ScriptedModel, text, tool_call
from tests.support.server import Server

QUESTION = "Tell me about foxes, please: where they live, what they eat and how they raise their young."
ANSWER = "The red fox lives on every continent of the northern half of the world and eats what it finds. " * 4


@pytest.fixture(scope="module")
def model():
    with ScriptedModel(usage=False) as m:
        yield m


@pytest.fixture(scope="module")
def client(model, tmp_path_factory):
    env = {"ASSISTD_MODEL_BASE_URL": model.base_url}
    with Server(tmp_path_factory.mktemp("usage") / "data", env=env) as srv:
        yield srv.client()


@pytest.fixture(scope="module")
def assistant(client):
    # file_search with no vector store: the call answers "no results" without Docker or an index
    return client.beta.assistants.create(model="scripted-model", tools=[{"type": "file_search"}])


@pytest.fixture(autouse=True)
def no_leftover_replies(model):
    yield
    model.replace()


def ask(client, assistant, question=QUESTION, **options):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": question}])
    return client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, **options)


def steps_of(client, run):
    return client.beta.threads.runs.steps.list(run_id=run.id, thread_id=run.thread_id, order="asc").data


def test_counted_usage_on_the_run_and_its_steps(client, assistant, model):
    model.push(tool_call("file_search", {"query": "fox habitat"}), text(ANSWER))
    run = ask(client, assistant)
    assert run.status == "completed", run.last_error
    tool_step, message_step = steps_of(client, run)
    for step in (tool_step, message_step):
        usage = step.usage
        assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
        assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert getattr(run.usage, key) == getattr(tool_step.usage, key) + getattr(message_step.usage, key)

    # Plausible sizes: about a token per English word, a few per JSON punctuation run.
    words = len(ANSWER.split())
    assert words * 0.8 <= message_step.usage.completion_tokens <= words * 1.5
    assert 5 <= tool_step.usage.completion_tokens <= 30  # a name and '{"query": "fox habitat"}'
    for request, step in zip(model.requests[-2:], (tool_step, message_step), strict=True):
        sent = len(json.dumps(request["messages"])) + len(json.dumps(request["tools"]))
        assert sent / 8 < step.usage.prompt_tokens < sent / 2
    # The second call's prompt holds the first one's, plus the call and its result.
    assert message_step.usage.prompt_tokens > tool_step.usage.prompt_tokens


def test_max_completion_tokens_counts_what_the_model_wrote(client, assistant, model):
    model.push(tool_call("file_search", {"query": "what do foxes eat in winter"}), text(ANSWER))
    run = ask(client, assistant, max_completion_tokens=300)
    assert run.status == "completed", run.last_error
    tool_step, _ = steps_of(client, run)
    first, second = model.requests[-2:]
    assert first["max_tokens"] == 300
    assert second["max_tokens"] == 300 - tool_step.usage.completion_tokens < 300

    # A budget the first call already spends (256, OpenAI's smallest, against a query of some
    # 360 words): the run stops before a second model call.
    model.push(tool_call("file_search", {"query": "what do foxes eat in winter " * 60}), text("never sent"))
    calls_before = len(model.requests)
    run = ask(client, assistant, max_completion_tokens=256)
    assert run.status == "incomplete" and run.incomplete_details.reason == "max_completion_tokens"
    assert len(model.requests) == calls_before + 1 and model.requests[-1]["max_tokens"] == 256
    assert run.usage.completion_tokens > 256
    assert [(s.type, s.status) for s in steps_of(client, run)] == [("tool_calls", "completed")]


def test_max_prompt_tokens_counts_every_call(client, assistant, model):
    question = QUESTION * 10  # a prompt over 256 tokens, OpenAI's smallest max_prompt_tokens
    model.push(text("Foxes are clever."))
    one_call = ask(client, assistant, question).usage.prompt_tokens
    assert one_call > 256

    model.push(tool_call("file_search", {"query": "fox dens"}), text("never sent"))
    calls_before = len(model.requests)
    run = ask(client, assistant, question, max_prompt_tokens=one_call + one_call // 2)
    assert run.status == "incomplete" and run.incomplete_details.reason == "max_prompt_tokens"
    assert len(model.requests) == calls_before + 1  # the second call would pass the limit
    assert run.usage.prompt_tokens == one_call
