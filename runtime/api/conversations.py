"""`/v1/conversations`: create, retrieve, update, delete, and a conversation's items (add, list,
retrieve, delete). Deleting a conversation deletes its items."""

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from runtime.api.deps import StoreDep
from runtime.api.items import InputItem, items_in
from runtime.api.pagination import Paging, page
from runtime.api.schemas import Body, Metadata
from runtime.errors import not_found
from runtime.responses import conversations
from runtime.responses.conversations import CONVERSATION, ITEM, get_conversation, item_out
from runtime.responses.items import stored_item

router = APIRouter(tags=["conversations"])


class ConversationCreate(Body):
    metadata: Metadata = None
    items: Annotated[list[InputItem], Field(max_length=20)] | None = None


class ConversationUpdate(Body):
    metadata: Metadata


class ItemsCreate(Body):
    items: Annotated[list[InputItem], Field(min_length=1, max_length=20)]


@router.post("/conversations")
def create_conversation(body: ConversationCreate, store: StoreDep) -> dict:
    with store.tx() as tx:
        return conversations.new_conversation(tx, body.metadata, items_in(body.items or []))


@router.get("/conversations/{conversation_id}")
def retrieve_conversation(conversation_id: str, store: StoreDep) -> dict:
    with store.tx() as tx:
        return get_conversation(tx, conversation_id)


@router.post("/conversations/{conversation_id}")
def update_conversation(conversation_id: str, body: ConversationUpdate, store: StoreDep) -> dict:
    with store.tx() as tx:
        conversation = get_conversation(tx, conversation_id)
        conversation["metadata"] = body.metadata or {}
        return tx.put(CONVERSATION, conversation)


@router.delete("/conversations/{conversation_id}")
def delete_conversation(conversation_id: str, store: StoreDep) -> dict:
    with store.tx() as tx:
        get_conversation(tx, conversation_id)
        tx.delete(CONVERSATION, conversation_id)
        tx.delete_children(conversation_id, [ITEM])
    return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}


@router.post("/conversations/{conversation_id}/items")
def create_items(conversation_id: str, body: ItemsCreate, store: StoreDep) -> dict:
    with store.tx() as tx:
        get_conversation(tx, conversation_id)
        added = conversations.append_items(
            tx, conversation_id, [stored_item(i) for i in items_in(body.items)]
        )
    return {
        "object": "list",
        "data": added,
        "first_id": added[0]["id"],
        "last_id": added[-1]["id"],
        "has_more": False,
    }


@router.get("/conversations/{conversation_id}/items")
def list_items(conversation_id: str, params: Paging, store: StoreDep) -> dict:
    with store.tx() as tx:
        get_conversation(tx, conversation_id)
        result = page(tx, ITEM, conversation_id, params)
    result["data"] = [item_out(i) for i in result["data"]]
    return result


def _get_item(tx, conversation_id: str, item_id: str) -> dict:
    get_conversation(tx, conversation_id)
    item = tx.get(ITEM, item_id, parent=conversation_id)
    if item is None:
        raise not_found("item", item_id)
    return item


@router.get("/conversations/{conversation_id}/items/{item_id}")
def retrieve_item(conversation_id: str, item_id: str, store: StoreDep) -> dict:
    with store.tx() as tx:
        return item_out(_get_item(tx, conversation_id, item_id))


@router.delete("/conversations/{conversation_id}/items/{item_id}")
def delete_item(conversation_id: str, item_id: str, store: StoreDep) -> dict:
    with store.tx() as tx:
        _get_item(tx, conversation_id, item_id)
        tx.delete(ITEM, item_id, conversation_id)
        return get_conversation(tx, conversation_id)
