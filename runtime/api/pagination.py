"""OpenAI cursor pages: limit, order, after, before in; `{object, data, first_id, last_id, has_more}` out."""

from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from runtime.errors import InvalidRequest
from runtime.store import Tx


class ListParams(BaseModel):
    limit: int = Field(20, ge=1, le=100)
    order: Literal["asc", "desc"] = "desc"
    after: str | None = None
    before: str | None = None


Paging = Annotated[ListParams, Query()]  # parsed on the event loop, no thread hop


def list_page(data: list[dict], has_more: bool) -> dict:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def page(tx: Tx, kind: str, parent: str, params: ListParams, where: dict | None = None) -> dict:
    """Read one page of `kind` under `parent`; an unknown cursor is a 400."""
    cursors = {}
    for name in ("after", "before"):
        object_id = getattr(params, name)
        if object_id is not None:
            seq = tx.seq_of(kind, parent, object_id)
            if seq is None:
                raise InvalidRequest(
                    f"Invalid '{name}': no object with id '{object_id}' in this list.", param=name
                )
            cursors[name] = seq
    data, has_more = tx.page(
        kind,
        parent,
        limit=params.limit,
        order=params.order,
        after_seq=cursors.get("after"),
        before_seq=cursors.get("before"),
        where=where,
    )
    return list_page(data, has_more)
