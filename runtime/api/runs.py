"""`/v1/threads/{thread_id}/runs` and `/v1/threads/runs`: create (optionally streamed), list,
retrieve, update, cancel, submit tool outputs, and the run steps."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from runtime.api.assistants import get_assistant
from runtime.api.deps import StoreDep
from runtime.api.messages import MessageCreate, check_no_active_run, get_thread, new_message
from runtime.api.pagination import Paging, page
from runtime.api.schemas import (
    Body,
    Integer,
    Metadata,
    ReasoningEffort,
    ResponseFormat,
    RunTools,
    Temperature,
    ToolResources,
    TopP,
    response_format_out,
    tools_out,
)
from runtime.api.threads import ThreadCreate, new_thread
from runtime.errors import InvalidRequest, not_found
from runtime.ids import new_id, now
from runtime.runs.events import Event
from runtime.runs.transcript import TRANSCRIPT, new_transcript
from runtime.store import Tx
from runtime.tool_resources import tool_resources_out

router = APIRouter(tags=["runs"])

SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
Include = Annotated[list[str] | None, Query(alias="include[]")]


class TruncationStrategy(Body):
    type: Literal["auto", "last_messages"]
    last_messages: Annotated[Integer, Field(ge=1)] | None = None


class NamedFunction(Body):
    name: str


class ToolChoiceObject(Body):
    type: Literal["function", "code_interpreter", "file_search"]
    function: NamedFunction | None = None


ToolChoice = Literal["none", "auto", "required"] | ToolChoiceObject | None


class RunFields(Body):
    assistant_id: str
    model: str | None = None
    instructions: str | None = None
    tools: RunTools | None = None
    tool_resources: ToolResources | None = None
    metadata: Metadata = None
    temperature: Temperature = None
    top_p: TopP = None
    stream: bool | None = None
    max_prompt_tokens: Annotated[Integer, Field(ge=256)] | None = None
    max_completion_tokens: Annotated[Integer, Field(ge=256)] | None = None
    truncation_strategy: TruncationStrategy | None = None
    tool_choice: ToolChoice = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat = None
    reasoning_effort: ReasoningEffort = None


class RunCreate(RunFields):
    additional_instructions: str | None = None
    additional_messages: Annotated[list[MessageCreate], Field(max_length=32)] | None = None


class ThreadAndRunCreate(RunFields):
    thread: ThreadCreate | None = None


class RunUpdate(Body):
    metadata: Metadata = None


class ToolOutput(Body):
    tool_call_id: str | None = None
    output: str | None = None


class SubmitToolOutputs(Body):
    tool_outputs: list[ToolOutput]
    stream: bool | None = None


def _engine(request: Request):
    return request.app.state.engine


def _check_tool_choice(choice: Any, tools: list[dict]) -> Any:
    if not isinstance(choice, ToolChoiceObject):
        return choice or "auto"
    if choice.type == "function":
        if choice.function is None:
            raise InvalidRequest("tool_choice of type 'function' needs 'function.name'.", param="tool_choice")
        names = {t["function"]["name"] for t in tools if t["type"] == "function"}
        if choice.function.name not in names:
            raise InvalidRequest(
                f"tool_choice names an unknown function '{choice.function.name}'.",
                param="tool_choice.function.name",
            )
    elif not any(t["type"] == choice.type for t in tools):
        raise InvalidRequest(
            f"tool_choice asks for '{choice.type}', which the run does not have.", param="tool_choice"
        )
    return choice.model_dump(exclude_none=True)


def _new_run(
    tx: Tx, request: Request, thread_id: str, body: RunFields, additional_instructions: str | None
) -> dict:
    assistant = get_assistant(tx, body.assistant_id)
    sent = body.model_fields_set
    tools = tools_out(body.tools) if "tools" in sent and body.tools is not None else assistant["tools"]
    instructions = (
        body.instructions if body.instructions is not None else (assistant.get("instructions") or "")
    )
    if additional_instructions:
        instructions = (
            f"{instructions}\n\n{additional_instructions}" if instructions else additional_instructions
        )
    created = now()
    run = {
        "id": new_id("thread.run"),
        "object": "thread.run",
        "created_at": created,
        "assistant_id": assistant["id"],
        "thread_id": thread_id,
        "status": "queued",
        "started_at": None,
        "expires_at": created + request.app.state.settings.run_expires_seconds,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "required_action": None,
        "last_error": None,
        "model": body.model or assistant["model"],
        "instructions": instructions,
        "tools": tools,
        "metadata": body.metadata or {},
        "incomplete_details": None,
        "usage": None,
        "temperature": body.temperature if body.temperature is not None else assistant.get("temperature"),
        "top_p": body.top_p if body.top_p is not None else assistant.get("top_p"),
        "max_prompt_tokens": body.max_prompt_tokens,
        "max_completion_tokens": body.max_completion_tokens,
        "truncation_strategy": (
            body.truncation_strategy.model_dump()
            if body.truncation_strategy
            else {"type": "auto", "last_messages": None}
        ),
        "response_format": (
            response_format_out(body.response_format)
            if "response_format" in sent
            else assistant.get("response_format", "auto")
        ),
        "tool_choice": _check_tool_choice(body.tool_choice, tools),
        "parallel_tool_calls": True if body.parallel_tool_calls is None else body.parallel_tool_calls,
    }
    tx.insert("thread.run", run, parent=thread_id)
    _engine(request).work.enqueue(tx, run)
    resources = tool_resources_out(tx, body.tool_resources, request.app.state.vector_store_factory)
    tx.insert(TRANSCRIPT, new_transcript(run["id"], resources), parent=run["id"])
    return run


def _start(request: Request, run: dict, stream: bool | None, first: list[Event] = (), created: bool = True):
    """Hand the queued run to the workers; stream its events when asked."""
    engine = _engine(request)
    if not stream:
        engine.submit()
        return run
    cursor = engine.hub.watch(run["id"])
    events = [
        *first,
        *([Event("thread.run.created", run)] if created else []),
        Event("thread.run.queued", run),
    ]
    engine.submit()
    return StreamingResponse(engine.hub.stream(run["id"], cursor, events), media_type="text/event-stream")


@router.post("/threads/{thread_id}/runs")
async def create_run(
    thread_id: str, body: RunCreate, request: Request, store: StoreDep, include: Include = None
):
    _check_include(include)
    with store.tx() as tx:
        get_thread(tx, thread_id)
        check_no_active_run(tx, thread_id)
        for index, message in enumerate(body.additional_messages or []):
            new_message(tx, thread_id, message, f"additional_messages[{index}].")
        run = _new_run(tx, request, thread_id, body, body.additional_instructions)
    return _start(request, run, body.stream)


@router.post("/threads/runs")
async def create_thread_and_run(body: ThreadAndRunCreate, request: Request, store: StoreDep):
    with store.tx() as tx:
        thread = new_thread(tx, body.thread or ThreadCreate(), request, "thread.")
        run = _new_run(tx, request, thread["id"], body, None)
    return _start(request, run, body.stream, [Event("thread.created", thread)])


def get_run(tx: Tx, thread_id: str, run_id: str) -> dict:
    get_thread(tx, thread_id)
    run = tx.get("thread.run", run_id, parent=thread_id)
    if run is None:
        raise not_found("run", run_id)
    return run


@router.get("/threads/{thread_id}/runs")
def list_runs(thread_id: str, params: Paging, store: StoreDep) -> dict:
    with store.tx() as tx:
        get_thread(tx, thread_id)
        return page(tx, "thread.run", thread_id, params)


@router.get("/threads/{thread_id}/runs/{run_id}")
def retrieve_run(thread_id: str, run_id: str, store: StoreDep) -> dict:
    with store.tx() as tx:
        return get_run(tx, thread_id, run_id)


@router.post("/threads/{thread_id}/runs/{run_id}")
def update_run(thread_id: str, run_id: str, body: RunUpdate, store: StoreDep) -> dict:
    with store.tx() as tx:
        run = get_run(tx, thread_id, run_id)
        if "metadata" in body.model_fields_set:
            run["metadata"] = body.metadata or {}
        return tx.put("thread.run", run, parent=thread_id)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel")
async def cancel_run(thread_id: str, run_id: str, request: Request, store: StoreDep) -> dict:
    with store.tx() as tx:
        run = get_run(tx, thread_id, run_id)
    if run["status"] not in ("queued", "in_progress", "requires_action"):
        raise InvalidRequest(f"Cannot cancel run with status '{run['status']}'.", code="run_not_cancellable")
    return await _engine(request).cancel(run)


@router.post("/threads/{thread_id}/runs/{run_id}/submit_tool_outputs")
async def submit_tool_outputs(
    thread_id: str, run_id: str, body: SubmitToolOutputs, request: Request, store: StoreDep
):
    with store.tx() as tx:
        run = get_run(tx, thread_id, run_id)
        if run["status"] != "requires_action":
            raise InvalidRequest(
                f"Runs in status '{run['status']}' do not accept tool outputs.",
                code="run_not_requires_action",
            )
        expected = [c["id"] for c in run["required_action"]["submit_tool_outputs"]["tool_calls"]]
        outputs: dict[str, str] = {}
        for index, item in enumerate(body.tool_outputs):
            if item.tool_call_id is None:
                raise InvalidRequest(
                    "Missing required parameter: 'tool_outputs[].tool_call_id'.",
                    param=f"tool_outputs[{index}].tool_call_id",
                )
            if item.tool_call_id not in expected:
                raise InvalidRequest(
                    f"No tool call found with id '{item.tool_call_id}' in this run's required action.",
                    param=f"tool_outputs[{index}].tool_call_id",
                )
            if item.tool_call_id in outputs:
                raise InvalidRequest(
                    f"Tool output for '{item.tool_call_id}' was given twice.",
                    param=f"tool_outputs[{index}].tool_call_id",
                )
            outputs[item.tool_call_id] = item.output or ""
        missing = [call_id for call_id in expected if call_id not in outputs]
        if missing:
            raise InvalidRequest(
                f"Expected tool outputs for call_ids {expected}, got {list(outputs)}; missing {missing}.",
                param="tool_outputs",
            )
        run, step = _engine(request).accept_tool_outputs(tx, run, outputs)
    return _start(request, run, body.stream, [Event("thread.run.step.completed", step)], created=False)


def _step_out(step: dict, with_content: bool) -> dict:
    if with_content or step["type"] != "tool_calls":
        return step
    calls = []
    for call in step["step_details"]["tool_calls"]:
        if call["type"] == "file_search":
            results = [{k: v for k, v in r.items() if k != "content"} for r in call["file_search"]["results"]]
            call = {**call, "file_search": {**call["file_search"], "results": results}}
        calls.append(call)
    return {**step, "step_details": {**step["step_details"], "tool_calls": calls}}


def _check_include(include: list[str] | None) -> bool:
    for item in include or []:
        if item != SEARCH_CONTENT:
            raise InvalidRequest(
                f"Invalid value for 'include[]': '{item}'. Supported: '{SEARCH_CONTENT}'.", param="include[]"
            )
    return bool(include)


@router.get("/threads/{thread_id}/runs/{run_id}/steps")
def list_steps(
    thread_id: str,
    run_id: str,
    params: Paging,
    store: StoreDep,
    include: Include = None,
) -> dict:
    with_content = _check_include(include)
    with store.tx() as tx:
        get_run(tx, thread_id, run_id)
        result = page(tx, "thread.run.step", run_id, params)
    result["data"] = [_step_out(s, with_content) for s in result["data"]]
    return result


@router.get("/threads/{thread_id}/runs/{run_id}/steps/{step_id}")
def retrieve_step(
    thread_id: str,
    run_id: str,
    step_id: str,
    store: StoreDep,
    include: Include = None,
) -> dict:
    with_content = _check_include(include)
    with store.tx() as tx:
        get_run(tx, thread_id, run_id)
        step = tx.get("thread.run.step", step_id, parent=run_id)
    if step is None:
        raise not_found("run step", step_id)
    return _step_out(step, with_content)
