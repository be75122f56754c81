"""`/v1/vector_stores`: create, list, retrieve, update, delete, and search.

Files and file batches live in `runtime.api.vector_store_files`; the work is in `runtime.vector_stores`.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    field_validator,
)

from runtime.api.deps import StoreDep
from runtime.api.pagination import Paging, page
from runtime.api.schemas import Body, ChunkingStrategy, Integer, Metadata
from runtime.errors import NotFound
from runtime.ids import now
from runtime.ingest import STORE
from runtime.vector_stores import VectorStores, check_file, chunking_strategy, get_store, stores_out

router = APIRouter(prefix="/vector_stores", tags=["vector_stores"])


async def _service(request: Request) -> VectorStores:
    service = getattr(request.app.state, "vector_stores", None)
    if service is None:
        raise NotFound("Vector stores are not available on this server.")
    return service


ServiceDep = Annotated[VectorStores, Depends(_service)]


# Shared request fields


def _check_attributes(value: dict | None) -> dict | None:
    if value is None:
        return value
    if len(value) > 16:
        raise ValueError("attributes can have at most 16 key-value pairs")
    for key, item in value.items():
        if len(key) > 64:
            raise ValueError(f"attribute key '{key[:20]}...' is longer than 64 characters")
        if isinstance(item, str) and len(item) > 512:
            raise ValueError(f"attribute value for '{key}' is longer than 512 characters")
    return value


AttributeValue = StrictBool | StrictInt | StrictFloat | StrictStr
Attributes = Annotated[dict[str, AttributeValue] | None, AfterValidator(_check_attributes)]


class ExpiresAfter(Body):
    anchor: Literal["last_active_at"]
    days: Integer = Field(ge=1, le=365)


class ComparisonFilter(Body):
    key: str
    type: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]
    value: AttributeValue | list[StrictInt | StrictFloat | StrictStr]


class CompoundFilter(Body):
    type: Literal["and", "or"]
    filters: Annotated[list["Filter"], Field(min_length=1)]


def _filter_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "compound" if kind in ("and", "or") else "comparison"


Filter = Annotated[
    Annotated[ComparisonFilter, Tag("comparison")] | Annotated[CompoundFilter, Tag("compound")],
    Discriminator(_filter_kind),
]
CompoundFilter.model_rebuild()


# Stores


class VectorStoreCreate(Body):
    name: str | None = None
    description: str | None = None
    file_ids: Annotated[list[str], Field(max_length=500)] = []
    chunking_strategy: ChunkingStrategy | None = None
    expires_after: ExpiresAfter | None = None
    metadata: Metadata = None


class VectorStoreUpdate(Body):
    name: str | None = None
    expires_after: ExpiresAfter | None = None
    metadata: Metadata = None


@router.post("")
def create_vector_store(body: VectorStoreCreate, store: StoreDep, service: ServiceDep) -> dict:
    chunking = chunking_strategy(body.chunking_strategy)
    with store.tx() as tx:
        for index, file_id in enumerate(body.file_ids):
            check_file(tx, file_id, f"file_ids[{index}]")
        row = service.create_store(
            tx,
            name=body.name,
            description=body.description,
            file_ids=body.file_ids,
            chunking=chunking,
            expires_after=body.expires_after.model_dump() if body.expires_after else None,
            metadata=body.metadata,
        )
        out = stores_out(tx, [row])[0]
    service.worker.wake()
    return out


@router.get("")
def list_vector_stores(params: Paging, store: StoreDep) -> dict:
    with store.tx() as tx:
        result = page(tx, STORE, "", params)
        result["data"] = stores_out(tx, result["data"])
    return result


@router.get("/{vector_store_id}")
def retrieve_vector_store(vector_store_id: str, store: StoreDep) -> dict:
    with store.tx() as tx:
        return stores_out(tx, [get_store(tx, vector_store_id)])[0]


@router.post("/{vector_store_id}")
def update_vector_store(vector_store_id: str, body: VectorStoreUpdate, store: StoreDep) -> dict:
    with store.tx() as tx:
        row = get_store(tx, vector_store_id)
        sent = body.model_fields_set
        if "name" in sent and body.name is not None:
            row["name"] = body.name
        if "metadata" in sent:
            row["metadata"] = body.metadata or {}
        if "expires_after" in sent:
            row["expires_after"] = body.expires_after.model_dump() if body.expires_after else None
            row["last_active_at"] = now()  # a new policy counts from now, not from the last search
        tx.put(STORE, row)
        return stores_out(tx, [row])[0]


@router.delete("/{vector_store_id}")
async def delete_vector_store(vector_store_id: str, service: ServiceDep) -> dict:
    await service.delete_store(vector_store_id)
    return {"id": vector_store_id, "object": "vector_store.deleted", "deleted": True}


# Search


class RankingOptions(Body):
    """Vector store search's ranking options; ranker `none` fuses the dense and keyword candidate
    lists as they come, without scoring each candidate on the other side (see `retrieval.search`)."""

    ranker: Literal["none", "auto", "default-2024-11-15"] = "auto"
    score_threshold: float = Field(0.0, ge=0, le=1)


class SearchRequest(Body):
    query: str | Annotated[list[str], Field(min_length=1, max_length=10)]
    filters: Filter | None = None
    max_num_results: Integer = Field(10, ge=1, le=50)
    ranking_options: RankingOptions | None = None
    rewrite_query: bool = False

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str | list[str]) -> str | list[str]:
        queries = [value] if isinstance(value, str) else value
        if any(not q.strip() for q in queries):
            raise ValueError("the query must not be empty")
        return value


@router.post("/{vector_store_id}/search")
async def search_vector_store(vector_store_id: str, body: SearchRequest, service: ServiceDep) -> dict:
    queries = [body.query] if isinstance(body.query, str) else list(body.query)
    if body.rewrite_query:
        queries = [service.retriever.rewrite_query(q) for q in queries]
    ranking = body.ranking_options or RankingOptions()
    hits = await service.search_store(
        vector_store_id,
        queries[0] if isinstance(body.query, str) else queries,
        max_num_results=body.max_num_results,
        score_threshold=ranking.score_threshold,
        filters=body.filters.model_dump() if body.filters else None,
        rescore=ranking.ranker != "none",
    )
    return {
        "object": "vector_store.search_results.page",
        "search_query": queries,
        "data": [
            {
                "file_id": hit["file_id"],
                "filename": hit["filename"],
                "score": hit["score"],
                "attributes": hit["attributes"],
                "content": [{"type": "text", "text": hit["text"]}],
            }
            for hit in hits
        ],
        "has_more": False,
        "next_page": None,
    }
