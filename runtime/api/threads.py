"""`/v1/threads`: create (with initial messages), retrieve, update, delete."""

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import Field

from runtime.api.deps import StoreDep
from runtime.api.messages import MessageCreate, get_thread, new_message
from runtime.api.schemas import Body, Metadata, ToolResources
from runtime.ids import new_id, now
from runtime.store import Tx
from runtime.tool_resources import tool_resources_out

router = APIRouter(prefix="/threads", tags=["threads"])


class ThreadCreate(Body):
    messages: Annotated[list[MessageCreate], Field(max_length=32)] = []
    tool_resources: ToolResources | None = None
    metadata: Metadata = None


class ThreadUpdate(Body):
    tool_resources: ToolResources | None = None
    metadata: Metadata = None


def new_thread(tx: Tx, body: ThreadCreate, request: Request, where: str = "") -> dict:
    """Store a thread and its first messages; `where` prefixes the `param` of an error (`thread.`)."""
    resources = tool_resources_out(
        tx, body.tool_resources, request.app.state.vector_store_factory, f"{where}tool_resources"
    )
    thread = {
        "id": new_id("thread"),
        "object": "thread",
        "created_at": now(),
        "metadata": body.metadata or {},
        "tool_resources": resources,
    }
    tx.insert("thread", thread)
    for index, message in enumerate(body.messages):
        new_message(tx, thread["id"], message, f"{where}messages[{index}].")
    return thread


@router.post("")
def create_thread(request: Request, store: StoreDep, body: ThreadCreate | None = None) -> dict:
    with store.tx() as tx:
        return new_thread(tx, body or ThreadCreate(), request)


@router.get("/{thread_id}")
def retrieve_thread(thread_id: str, store: StoreDep) -> dict:
    with store.tx() as tx:
        return get_thread(tx, thread_id)


@router.post("/{thread_id}")
def update_thread(thread_id: str, body: ThreadUpdate, request: Request, store: StoreDep) -> dict:
    with store.tx() as tx:
        thread = get_thread(tx, thread_id)
        if "metadata" in body.model_fields_set:
            thread["metadata"] = body.metadata or {}
        if "tool_resources" in body.model_fields_set:
            thread["tool_resources"] = tool_resources_out(
                tx, body.tool_resources, request.app.state.vector_store_factory
            )
        return tx.put("thread", thread)


@router.delete("/{thread_id}")
async def delete_thread(thread_id: str, request: Request, store: StoreDep) -> dict:
    with store.tx() as tx:
        get_thread(tx, thread_id)
        for run in tx.all("thread.run", thread_id):
            tx.delete_children(run["id"])
        tx.delete_children(thread_id)
        tx.delete("thread", thread_id)
    for hook in request.app.state.on_thread_deleted:
        await hook(thread_id)
    return {"id": thread_id, "object": "thread.deleted", "deleted": True}
