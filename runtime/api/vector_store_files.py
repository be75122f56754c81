"""`/v1/vector_stores/{id}/files` and `/v1/vector_stores/{id}/file_batches`.

Adding a file only queues it (`status: in_progress`); the ingestion worker does the rest. While a file
or batch is in progress, responses carry `openai-poll-after-ms`, which the SDK's `*_and_poll` helpers
use as their polling interval.
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field, model_validator

from runtime.api.deps import StoreDep
from runtime.api.pagination import Paging, page
from runtime.api.schemas import Body, ChunkingStrategy
from runtime.api.vector_stores import Attributes, ServiceDep
from runtime.errors import InvalidRequest
from runtime.ids import new_id, now
from runtime.ingest import FILE
from runtime.vector_stores import (
    BATCH,
    batch_out,
    check_file,
    chunking_strategy,
    file_out,
    get_batch,
    get_store,
    get_store_file,
)

router = APIRouter(prefix="/vector_stores/{vector_store_id}", tags=["vector_stores"])

POLL_AFTER_MS = "250"
StatusFilter = Annotated[
    Literal["in_progress", "completed", "failed", "cancelled"] | None, Query(alias="filter")
]


def _poll_hint(response: Response, status: str) -> None:
    if status == "in_progress":
        response.headers["openai-poll-after-ms"] = POLL_AFTER_MS


# Files


class FileCreate(Body):
    file_id: str
    attributes: Attributes = None
    chunking_strategy: ChunkingStrategy | None = None


class FileUpdate(Body):
    attributes: Attributes


@router.post("/files")
def create_vector_store_file(
    vector_store_id: str, body: FileCreate, response: Response, store: StoreDep, service: ServiceDep
) -> dict:
    chunking = chunking_strategy(body.chunking_strategy)
    with store.tx() as tx:
        get_store(tx, vector_store_id)
        check_file(tx, body.file_id, "file_id")
        row = service.queue_file(tx, vector_store_id, body.file_id, chunking, body.attributes)
    service.worker.wake()
    _poll_hint(response, row["status"])
    return file_out(row)


@router.get("/files")
def list_vector_store_files(
    vector_store_id: str, params: Paging, store: StoreDep, status: StatusFilter = None
) -> dict:
    with store.tx() as tx:
        get_store(tx, vector_store_id)
        result = page(tx, FILE, vector_store_id, params, where={"status": status} if status else None)
    result["data"] = [file_out(row) for row in result["data"]]
    return result


@router.get("/files/{file_id}")
def retrieve_vector_store_file(
    vector_store_id: str, file_id: str, response: Response, store: StoreDep
) -> dict:
    with store.tx() as tx:
        row = get_store_file(tx, vector_store_id, file_id)
    _poll_hint(response, row["status"])
    return file_out(row)


@router.post("/files/{file_id}")
async def update_vector_store_file(
    vector_store_id: str, file_id: str, body: FileUpdate, service: ServiceDep
) -> dict:
    return file_out(await service.update_attributes(vector_store_id, file_id, body.attributes or {}))


@router.delete("/files/{file_id}")
async def delete_vector_store_file(vector_store_id: str, file_id: str, service: ServiceDep) -> dict:
    await service.delete_file(vector_store_id, file_id)
    return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}


@router.get("/files/{file_id}/content")
async def vector_store_file_content(
    vector_store_id: str, file_id: str, store: StoreDep, service: ServiceDep
) -> dict:
    with store.tx() as tx:
        get_store_file(tx, vector_store_id, file_id)
    chunks = await service.file_chunks(vector_store_id, file_id)
    return {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": text} for text in chunks],
        "has_more": False,
        "next_page": None,
    }


# Batches


class BatchFile(Body):
    file_id: str
    attributes: Attributes = None
    chunking_strategy: ChunkingStrategy | None = None


class BatchCreate(Body):
    file_ids: Annotated[list[str], Field(min_length=1, max_length=2000)] | None = None
    files: Annotated[list[BatchFile], Field(min_length=1, max_length=2000)] | None = None
    attributes: Attributes = None
    chunking_strategy: ChunkingStrategy | None = None

    @model_validator(mode="after")
    def _one_list(self) -> "BatchCreate":
        if (self.file_ids is None) == (self.files is None):
            raise InvalidRequest("Provide exactly one of 'file_ids' or 'files'.", param="file_ids")
        return self


@router.post("/file_batches")
def create_file_batch(
    vector_store_id: str, body: BatchCreate, response: Response, store: StoreDep, service: ServiceDep
) -> dict:
    if body.files is not None:
        entries = [
            (
                f.file_id,
                f"files[{i}].file_id",
                f.attributes,
                chunking_strategy(f.chunking_strategy, f"files[{i}].chunking_strategy"),
            )
            for i, f in enumerate(body.files)
        ]
    else:
        chunking = chunking_strategy(body.chunking_strategy)
        entries = [
            (file_id, f"file_ids[{i}]", body.attributes, chunking) for i, file_id in enumerate(body.file_ids)
        ]
    with store.tx() as tx:
        get_store(tx, vector_store_id)
        for file_id, param, _, _ in entries:
            check_file(tx, file_id, param)
        batch = tx.insert(
            BATCH,
            {
                "id": new_id("vector_store.file_batch"),
                "created_at": now(),
                "vector_store_id": vector_store_id,
            },
            vector_store_id,
        )
        seen = set()
        for file_id, _, attributes, chunking in entries:
            if file_id not in seen:
                seen.add(file_id)
                service.queue_file(tx, vector_store_id, file_id, chunking, attributes, batch_id=batch["id"])
        out = batch_out(tx, batch)
    service.worker.wake()
    _poll_hint(response, out["status"])
    return out


@router.get("/file_batches/{batch_id}")
def retrieve_file_batch(vector_store_id: str, batch_id: str, response: Response, store: StoreDep) -> dict:
    with store.tx() as tx:
        out = batch_out(tx, get_batch(tx, vector_store_id, batch_id))
    _poll_hint(response, out["status"])
    return out


@router.post("/file_batches/{batch_id}/cancel")
def cancel_file_batch(vector_store_id: str, batch_id: str, store: StoreDep, service: ServiceDep) -> dict:
    with store.tx() as tx:
        return batch_out(tx, service.cancel_batch(tx, vector_store_id, batch_id))


@router.get("/file_batches/{batch_id}/files")
def list_file_batch_files(
    vector_store_id: str, batch_id: str, params: Paging, store: StoreDep, status: StatusFilter = None
) -> dict:
    where = {"_batch_id": batch_id, **({"status": status} if status else {})}
    with store.tx() as tx:
        get_batch(tx, vector_store_id, batch_id)
        result = page(tx, FILE, vector_store_id, params, where=where)
    result["data"] = [file_out(row) for row in result["data"]]
    return result
