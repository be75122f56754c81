"""`/v1/assistants`: create, list, retrieve, update, delete."""

from fastapi import APIRouter, Request

from runtime.api.deps import StoreDep
from runtime.api.pagination import Paging, page
from runtime.api.schemas import (
    Body,
    Description,
    Instructions,
    Metadata,
    Name,
    ReasoningEffort,
    ResponseFormat,
    Temperature,
    ToolResources,
    Tools,
    TopP,
    response_format_out,
    tools_out,
)
from runtime.errors import not_found
from runtime.ids import new_id, now
from runtime.tool_resources import tool_resources_out

router = APIRouter(prefix="/assistants", tags=["assistants"])


class AssistantFields(Body):
    name: Name = None
    description: Description = None
    instructions: Instructions = None
    tools: Tools | None = None
    tool_resources: ToolResources | None = None
    metadata: Metadata = None
    temperature: Temperature = None
    top_p: TopP = None
    response_format: ResponseFormat = None
    reasoning_effort: ReasoningEffort = None


class AssistantCreate(AssistantFields):
    model: str


class AssistantUpdate(AssistantFields):
    model: str | None = None


def _fields(body: AssistantFields, request: Request, tx) -> dict:
    """Stored form of the fields the client sent."""
    sent = body.model_fields_set
    out = {name: getattr(body, name) for name in sent}
    if "tools" in sent:
        out["tools"] = tools_out(body.tools)
    if "tool_resources" in sent:
        out["tool_resources"] = tool_resources_out(
            tx, body.tool_resources, request.app.state.vector_store_factory
        )
    if "response_format" in sent:
        out["response_format"] = response_format_out(body.response_format)
    if "metadata" in sent:
        out["metadata"] = body.metadata or {}
    out.pop("reasoning_effort", None)
    return out


@router.post("")
def create_assistant(body: AssistantCreate, request: Request, store: StoreDep) -> dict:
    with store.tx() as tx:
        assistant = {
            "id": new_id("assistant"),
            "object": "assistant",
            "created_at": now(),
            "name": None,
            "description": None,
            "model": body.model,
            "instructions": None,
            "tools": [],
            "tool_resources": {},
            "metadata": {},
            "temperature": 1.0,
            "top_p": 1.0,
            "response_format": "auto",
        }
        assistant.update(_fields(body, request, tx))
        return tx.insert("assistant", assistant)


@router.get("")
def list_assistants(params: Paging, store: StoreDep) -> dict:
    with store.tx() as tx:
        return page(tx, "assistant", "", params)


def get_assistant(tx, assistant_id: str) -> dict:
    assistant = tx.get("assistant", assistant_id)
    if assistant is None:
        raise not_found("assistant", assistant_id)
    return assistant


@router.get("/{assistant_id}")
def retrieve_assistant(assistant_id: str, store: StoreDep) -> dict:
    with store.tx() as tx:
        return get_assistant(tx, assistant_id)


@router.post("/{assistant_id}")
def update_assistant(assistant_id: str, body: AssistantUpdate, request: Request, store: StoreDep) -> dict:
    with store.tx() as tx:
        assistant = get_assistant(tx, assistant_id)
        changes = _fields(body, request, tx)
        if changes.get("model", "") is None:
            changes.pop("model")
        assistant.update(changes)
        return tx.put("assistant", assistant)


@router.delete("/{assistant_id}")
def delete_assistant(assistant_id: str, store: StoreDep) -> dict:
    with store.tx() as tx:
        get_assistant(tx, assistant_id)
        tx.delete("assistant", assistant_id)
    return {"id": assistant_id, "object": "assistant.deleted", "deleted": True}
