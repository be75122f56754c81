"""Conversations: a `conversation` object and its items, kept in order (kind `conversation.item`,
parent the conversation). A response made in a conversation reads its items as history and, once it
completes, appends its input and output items."""

from runtime.errors import InvalidRequest, not_found
from runtime.ids import new_id, now
from runtime.responses.items import stored_item
from runtime.store import Tx

CONVERSATION = "conversation"
ITEM = "conversation.item"


def new_conversation(tx: Tx, metadata: dict | None, items: list[dict]) -> dict:
    conversation = {
        "id": new_id("conversation"),
        "object": "conversation",
        "created_at": now(),
        "metadata": metadata or {},
    }
    tx.insert(CONVERSATION, conversation)
    append_items(tx, conversation["id"], [stored_item(item) for item in items])
    return conversation


def get_conversation(tx: Tx, conversation_id: str) -> dict:
    conversation = tx.get(CONVERSATION, conversation_id)
    if conversation is None:
        raise not_found("conversation", conversation_id)
    return conversation


def append_items(tx: Tx, conversation_id: str, items: list[dict]) -> list[dict]:
    """Add items at the end; an id the conversation already holds is a 400."""
    for item in items:
        if tx.get(ITEM, item["id"], parent=conversation_id) is not None:
            raise InvalidRequest(
                f"Duplicate item found with id '{item['id']}' in conversation '{conversation_id}'.",
                param="items",
            )
        tx.insert(ITEM, {**item, "created_at": now()}, parent=conversation_id)
    return items


def item_out(item: dict) -> dict:
    return {k: v for k, v in item.items() if k != "created_at"}
