"""`/v1/threads/{thread_id}/messages`: create, list, retrieve, update, delete.

A message's content is a string or a list of parts: text, an `image_file` naming an uploaded file,
or an `image_url` with an http(s) or data URL.
"""

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Query
from pydantic import AfterValidator, Field

from runtime.api.deps import StoreDep
from runtime.api.pagination import Paging, page
from runtime.api.schemas import Body, Metadata
from runtime.errors import InvalidRequest, not_found
from runtime.ids import new_id, now
from runtime.store import Tx
from runtime.tool_resources import check_file

router = APIRouter(prefix="/threads/{thread_id}/messages", tags=["messages"])


class TextPart(Body):
    type: Literal["text"]
    text: str


class ImageFile(Body):
    file_id: str
    detail: Literal["auto", "low", "high"] = "auto"


class ImageFilePart(Body):
    type: Literal["image_file"]
    image_file: ImageFile


def _check_image_url(url: str) -> str:
    parts = urlsplit(url)
    if not (parts.scheme in ("http", "https") and parts.netloc or re.match(r"data:[^,]*,", url)):
        raise ValueError("expected an http(s) URL or a data URL")
    return url


class ImageURL(Body):
    url: Annotated[str, AfterValidator(_check_image_url)]
    detail: Literal["auto", "low", "high"] = "auto"


class ImageURLPart(Body):
    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = Annotated[TextPart | ImageFilePart | ImageURLPart, Field(discriminator="type")]


class AttachmentTool(Body):
    type: Literal["code_interpreter", "file_search"]


class Attachment(Body):
    file_id: str
    tools: list[AttachmentTool] = []


class MessageCreate(Body):
    role: Literal["user", "assistant"]
    content: str | Annotated[list[ContentPart], Field(min_length=1)]
    attachments: Annotated[list[Attachment], Field(max_length=20)] | None = None
    metadata: Metadata = None


class MessageUpdate(Body):
    metadata: Metadata = None


def text_content(value: str) -> dict:
    return {"type": "text", "text": {"value": value, "annotations": []}}


def _content_out(tx: Tx, content: str | list, where: str) -> list[dict]:
    if isinstance(content, str):
        return [text_content(content)]
    out = []
    for index, part in enumerate(content):
        if isinstance(part, TextPart):
            out.append(text_content(part.text))
        elif isinstance(part, ImageFilePart):
            check_file(tx, part.image_file.file_id, f"{where}content[{index}].image_file.file_id")
            out.append({"type": "image_file", "image_file": part.image_file.model_dump()})
        else:
            out.append({"type": "image_url", "image_url": part.image_url.model_dump()})
    return out


def new_message(tx: Tx, thread_id: str, body: MessageCreate, where: str = "") -> dict:
    """Store a user- or client-written message on a thread; `where` prefixes the `param` of an error
    (`messages[0].`) when the message is part of a larger request."""
    attachments = [a.model_dump() for a in body.attachments or []]
    for index, attachment in enumerate(attachments):
        check_file(tx, attachment["file_id"], f"{where}attachments[{index}].file_id")
    message = {
        "id": new_id("thread.message"),
        "object": "thread.message",
        "created_at": now(),
        "thread_id": thread_id,
        "status": "completed",
        "incomplete_details": None,
        "completed_at": None,
        "incomplete_at": None,
        "role": body.role,
        "content": _content_out(tx, body.content, where),
        "assistant_id": None,
        "run_id": None,
        "attachments": attachments,
        "metadata": body.metadata or {},
    }
    return tx.insert("thread.message", message, parent=thread_id)


def get_thread(tx: Tx, thread_id: str) -> dict:
    thread = tx.get("thread", thread_id)
    if thread is None:
        raise not_found("thread", thread_id)
    return thread


def get_message(tx: Tx, thread_id: str, message_id: str) -> dict:
    get_thread(tx, thread_id)
    message = tx.get("thread.message", message_id, parent=thread_id)
    if message is None:
        raise not_found("message", message_id)
    return message


def check_no_active_run(tx: Tx, thread_id: str) -> None:
    for status in ("queued", "in_progress", "requires_action", "cancelling"):
        active = tx.all("thread.run", thread_id, where={"status": status})
        if active:
            raise InvalidRequest(
                f"Thread {thread_id} already has an active run {active[0]['id']}.", code="thread_locked"
            )


@router.post("")
def create_message(thread_id: str, body: MessageCreate, store: StoreDep) -> dict:
    with store.tx() as tx:
        get_thread(tx, thread_id)
        check_no_active_run(tx, thread_id)
        return new_message(tx, thread_id, body)


@router.get("")
def list_messages(
    thread_id: str, params: Paging, store: StoreDep, run_id: Annotated[str | None, Query()] = None
):
    with store.tx() as tx:
        get_thread(tx, thread_id)
        return page(tx, "thread.message", thread_id, params, where={"run_id": run_id} if run_id else None)


@router.get("/{message_id}")
def retrieve_message(thread_id: str, message_id: str, store: StoreDep) -> dict:
    with store.tx() as tx:
        return get_message(tx, thread_id, message_id)


@router.post("/{message_id}")
def update_message(thread_id: str, message_id: str, body: MessageUpdate, store: StoreDep) -> dict:
    with store.tx() as tx:
        message = get_message(tx, thread_id, message_id)
        if "metadata" in body.model_fields_set:
            message["metadata"] = body.metadata or {}
        return tx.put("thread.message", message, parent=thread_id)


@router.delete("/{message_id}")
def delete_message(thread_id: str, message_id: str, store: StoreDep) -> dict:
    with store.tx() as tx:
        get_message(tx, thread_id, message_id)
        tx.delete("thread.message", message_id, parent=thread_id)
    return {"id": message_id, "object": "thread.message.deleted", "deleted": True}
