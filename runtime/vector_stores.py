"""Vector stores: the service behind `/v1/vector_stores` and the run engine's `file_search`.

Rows (in the object store) and what they hold:

- `vector_store` (top level): the fields a client set, `last_active_at`; `status`, `file_counts`,
  `usage_bytes` and `expires_at` are computed when the store is read.
- `vector_store.file` (parent: the store): the OpenAI `VectorStoreFile` fields plus private `_batch_id`
  (the batch that last added it) and `_gen` (changes each time the file is queued again).
- `vector_store.file_batch` (parent: the store): id, created_at and whether it was cancelled.

Ingestion happens in `runtime.ingest.IngestWorker`; searches go to the `retrieval.Retriever` in a
thread. Only files whose row is `completed` are ever returned by a search.
"""

import asyncio
import logging
import secrets
from pathlib import Path

from sqlalchemy import bindparam, func, select

from retrieval import FilterError, RetrievalConfig, RetrievalError, Retriever
from runtime.errors import InvalidRequest, NotFound, not_found
from runtime.ids import new_id, now
from runtime.ingest import FILE, STORE, IngestWorker
from runtime.settings import Settings
from runtime.store import Store, Tx
from runtime.store.db import field, objects

log = logging.getLogger("assistd.vector_stores")

BATCH = "vector_store.file_batch"
STATUSES = ("in_progress", "completed", "failed", "cancelled")
AUTO_CHUNKING = {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}
THREAD_STORE_EXPIRY = {"anchor": "last_active_at", "days": 7}
DAY = 86400


# Request values -> stored values


def chunking_strategy(value, param: str = "chunking_strategy") -> dict:
    """OpenAI's chunking rules; `auto` (or nothing) is stored as static 800/400 as OpenAI reports it."""
    if value is None:
        return dict(AUTO_CHUNKING)
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    if value.get("type") == "auto":
        return dict(AUTO_CHUNKING)
    static = value.get("static")
    if not static:
        raise InvalidRequest(
            "'static' is required when the chunking strategy type is 'static'.", param=f"{param}.static"
        )
    size, overlap = static.get("max_chunk_size_tokens"), static.get("chunk_overlap_tokens")
    if not isinstance(size, int) or not 100 <= size <= 4096:
        raise InvalidRequest(
            "'max_chunk_size_tokens' must be between 100 and 4096.",
            param=f"{param}.static.max_chunk_size_tokens",
        )
    if not isinstance(overlap, int) or overlap < 0 or overlap > size // 2:
        raise InvalidRequest(
            "'chunk_overlap_tokens' must be non-negative and at most half of 'max_chunk_size_tokens'.",
            param=f"{param}.static.chunk_overlap_tokens",
        )
    return {"type": "static", "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap}}


# Stored values -> API objects


def _empty_counts() -> dict:
    return {"in_progress": 0, "completed": 0, "failed": 0, "cancelled": 0, "total": 0, "usage_bytes": 0}


def _counts(tx: Tx, store_ids: list[str], batch_id: str | None = None) -> dict[str, dict]:
    """File counts and usage bytes per store, in one grouped query."""
    out = {store_id: _empty_counts() for store_id in store_ids}
    if not store_ids:
        return out
    status = field("status").label("status")
    usage = func.coalesce(func.sum(objects.c.body["usage_bytes"].as_integer()), 0)
    query = select(objects.c.parent, status, func.count(), usage).where(
        objects.c.kind == FILE, objects.c.parent.in_(store_ids)
    )
    if batch_id is not None:
        query = query.where(field("_batch_id") == batch_id)
    for parent, state, count, used in tx.conn.execute(query.group_by(objects.c.parent, status)):
        counts = out[parent]
        if state in counts:
            counts[state] += count
        counts["total"] += count
        counts["usage_bytes"] += int(used or 0)
    return out


def expires_at(row: dict) -> int | None:
    after = row.get("expires_after")
    return row["last_active_at"] + after["days"] * DAY if after else None


def is_expired(row: dict) -> bool:
    at = expires_at(row)
    return at is not None and now() >= at


def store_out(row: dict, counts: dict) -> dict:
    status = "expired" if is_expired(row) else "in_progress" if counts["in_progress"] else "completed"
    return {
        "id": row["id"],
        "object": "vector_store",
        "created_at": row["created_at"],
        "name": row.get("name") or "",
        "usage_bytes": counts["usage_bytes"],
        "file_counts": {k: counts[k] for k in (*STATUSES, "total")},
        "status": status,
        "expires_after": row.get("expires_after"),
        "expires_at": expires_at(row),
        "last_active_at": row["last_active_at"],
        "metadata": row.get("metadata") or {},
    }


def stores_out(tx: Tx, rows: list[dict]) -> list[dict]:
    counts = _counts(tx, [row["id"] for row in rows])
    return [store_out(row, counts[row["id"]]) for row in rows]


def file_out(row: dict) -> dict:
    return {key: value for key, value in row.items() if not key.startswith("_")}


_FILE_STATUSES = select(objects.c.id, field("status")).where(
    objects.c.kind == FILE,
    objects.c.parent.in_(bindparam("stores", expanding=True)),
    objects.c.id.in_(bindparam("files", expanding=True)),
)


def completed_files(tx: Tx, store_ids: list[str], file_ids: list[str]) -> set[str]:
    """The ids among `file_ids` whose ingestion completed in one of the stores (every search asks).

    The files are looked up by key and their status compared here: with the status in the SQL,
    SQLite prefers the `status` index and reads every completed file of the database (20k files:
    6.4 ms against 0.4 ms, `bench/store.py`). The statement is built once, as `Tx.get`'s is
    (0.3 -> 0.1 ms).
    """
    rows = tx.conn.execute(_FILE_STATUSES, {"stores": store_ids, "files": file_ids})
    return {file_id for file_id, status in rows if status == "completed"}


def batch_out(tx: Tx, row: dict) -> dict:
    counts = _counts(tx, [row["vector_store_id"]], batch_id=row["id"])[row["vector_store_id"]]
    if counts["in_progress"]:
        status = "in_progress"
    elif row.get("_cancelled"):
        status = "cancelled"
    elif counts["total"] and counts["failed"] == counts["total"]:
        status = "failed"
    else:
        status = "completed"
    return {
        "id": row["id"],
        "object": "vector_store.files_batch",
        "created_at": row["created_at"],
        "vector_store_id": row["vector_store_id"],
        "status": status,
        "file_counts": {k: counts[k] for k in (*STATUSES, "total")},
    }


def hit_out(hit) -> dict:
    return {
        "file_id": hit.file_id,
        "filename": hit.filename,
        "score": float(hit.score),
        "text": hit.text,
        "attributes": dict(hit.attributes or {}),
    }


# Lookups that raise API errors


def get_store(tx: Tx, store_id: str) -> dict:
    row = tx.get(STORE, store_id)
    if row is None:
        raise not_found("vector store", store_id)
    return row


def get_store_file(tx: Tx, store_id: str, file_id: str) -> dict:
    get_store(tx, store_id)
    row = tx.get(FILE, file_id, store_id)
    if row is None:
        raise NotFound(f"No file found with id '{file_id}' in vector store '{store_id}'.")
    return row


def get_batch(tx: Tx, store_id: str, batch_id: str) -> dict:
    get_store(tx, store_id)
    row = tx.get(BATCH, batch_id, store_id)
    if row is None:
        raise not_found("vector store file batch", batch_id)
    return row


def check_file(tx: Tx, file_id: str, param: str) -> None:
    if tx.get("file", file_id) is None:
        raise NotFound(f"No file found with id '{file_id}'.", param=param, code="file_not_found")


class VectorStores:
    """Creates stores, queues their files for the ingestion worker, and searches them.

    The HTTP API and the run engine share one instance (`app.state.vector_stores`).
    """

    def __init__(self, settings: Settings, store: Store, retriever, worker: IngestWorker):
        self.settings, self.store, self.retriever, self.worker = settings, store, retriever, worker

    @classmethod
    def open(cls, settings: Settings, store: Store) -> "VectorStores":
        """Build the retriever (the embedding model loads on first use) and the worker."""
        retriever = Retriever(
            RetrievalConfig(
                data_dir=Path(settings.data_dir) / "vectors",
                qdrant_url=settings.qdrant_url,
                embedding_model=settings.embedding_model,
            )
        )
        return cls(settings, store, retriever, IngestWorker(settings, store, retriever))

    async def start(self) -> None:
        await self.worker.start()

    async def close(self) -> None:
        await self.worker.close()
        await asyncio.to_thread(self.retriever.close)

    # Stores

    def create_store(
        self,
        tx: Tx,
        *,
        name: str | None = None,
        file_ids: list[str] = (),
        chunking: dict | None = None,
        expires_after: dict | None = None,
        metadata: dict | None = None,
        description: str | None = None,
    ) -> dict:
        """Insert a store and queue its files, inside the caller's transaction; returns the row.

        The caller wakes the worker after committing (`self.worker.wake()`).
        """
        created = now()
        row = tx.insert(
            STORE,
            {
                "id": new_id("vector_store"),
                "object": "vector_store",
                "created_at": created,
                "name": name or "",
                "expires_after": expires_after,
                "last_active_at": created,
                "metadata": metadata or {},
                "_description": description,
            },
        )
        for file_id in dict.fromkeys(file_ids):
            self.queue_file(tx, row["id"], file_id, chunking or dict(AUTO_CHUNKING))
        return row

    def tool_resources_factory(self, tx: Tx, new_store) -> str:
        """`app.state.vector_store_factory`: builds `tool_resources.file_search.vector_stores[]`."""
        row = self.create_store(
            tx,
            file_ids=new_store.file_ids,
            chunking=chunking_strategy(
                new_store.chunking_strategy, "tool_resources.file_search.vector_stores.chunking_strategy"
            ),
            metadata=new_store.metadata,
        )
        self.worker.wake(delay=0.3)  # the caller commits after we return; the periodic scan is the backstop
        return row["id"]

    def queue_file(
        self,
        tx: Tx,
        store_id: str,
        file_id: str,
        chunking: dict,
        attributes: dict | None = None,
        batch_id: str | None = None,
    ) -> dict:
        """Add (or re-add) a file to a store as `in_progress`; the worker picks it up."""
        existing = tx.get(FILE, file_id, store_id)
        row = {
            "id": file_id,
            "object": "vector_store.file",
            "usage_bytes": 0,
            "created_at": existing["created_at"] if existing else now(),
            "vector_store_id": store_id,
            "status": "in_progress",
            "last_error": None,
            "chunking_strategy": chunking,
            "attributes": attributes or {},
            "_batch_id": batch_id,
            "_gen": secrets.token_hex(8),
        }
        if existing is None:
            return tx.insert(FILE, row, store_id)
        return tx.put(FILE, row, store_id)

    async def delete_store(self, store_id: str) -> None:
        def drop() -> None:
            with self.store.tx() as tx:
                get_store(tx, store_id)
                tx.delete_children(store_id, [FILE, BATCH])
                tx.delete(STORE, store_id)

        await asyncio.to_thread(drop)
        await self._retriever_cleanup(self.retriever.delete_store, store_id)

    # Files

    async def delete_file(self, store_id: str, file_id: str) -> None:
        def drop() -> None:
            with self.store.tx() as tx:
                get_store_file(tx, store_id, file_id)
                tx.delete(FILE, file_id, store_id)

        await asyncio.to_thread(drop)
        await self._retriever_cleanup(self.retriever.delete_file, store_id, file_id)

    async def forget_file(self, file_id: str) -> None:
        """A File was deleted: take it out of every vector store (hook for `DELETE /v1/files/{id}`)."""

        def drop() -> list[str]:
            with self.store.tx() as tx:
                parents = [
                    r[0]
                    for r in tx.conn.execute(
                        select(objects.c.parent).where(objects.c.kind == FILE, objects.c.id == file_id)
                    )
                ]
                for parent in parents:
                    tx.delete(FILE, file_id, parent)
                return parents

        for store_id in await asyncio.to_thread(drop):
            await self._retriever_cleanup(self.retriever.delete_file, store_id, file_id)

    async def update_attributes(self, store_id: str, file_id: str, attributes: dict) -> dict:
        def put() -> dict:
            with self.store.tx() as tx:
                row = get_store_file(tx, store_id, file_id)
                row["attributes"] = attributes
                return tx.put(FILE, row, store_id)

        row = await asyncio.to_thread(put)
        if row["status"] == "completed":
            try:
                await asyncio.to_thread(self.retriever.update_attributes, store_id, file_id, attributes)
            except RetrievalError as exc:
                log.warning("could not update attributes of %s in %s: %r", file_id, store_id, exc)
                raise InvalidRequest(f"Could not update the attributes: {exc}", param="attributes") from exc
        return row

    async def file_chunks(self, store_id: str, file_id: str) -> list[str]:
        try:
            return list(await asyncio.to_thread(self.retriever.file_chunks, store_id, file_id))
        except RetrievalError as exc:
            log.warning("could not read chunks of %s in %s: %r", file_id, store_id, exc)
            return []

    def cancel_batch(self, tx: Tx, store_id: str, batch_id: str) -> dict:
        """Mark the batch's unfinished files cancelled; the worker drops whatever it was doing with them."""
        batch = get_batch(tx, store_id, batch_id)
        for row in tx.all(FILE, store_id, where={"_batch_id": batch_id, "status": "in_progress"}):
            row["status"] = "cancelled"
            tx.put(FILE, row, store_id)
        batch["_cancelled"] = True
        return tx.put(BATCH, batch, store_id)

    async def _retriever_cleanup(self, fn, *args) -> None:
        try:
            await asyncio.to_thread(fn, *args)
        except Exception as exc:  # rows are gone already; searches skip files without a completed row
            log.warning("retriever cleanup %s%r failed: %r", fn.__name__, args, exc)

    # Search

    async def search(
        self,
        store_ids: list[str],
        query: str | list[str],
        max_num_results: int = 20,
        score_threshold: float = 0.0,
        filters: dict | None = None,
        rescore: bool = True,
        weights: tuple[float, float] = (1.0, 1.0),
    ) -> list[dict]:
        """Search live stores for the run engine: missing or expired stores are skipped.

        Returns `[{file_id, filename, score, text, attributes}]`, best first; marks the stores active.
        `rescore`: False for ranker `none`; `weights`: the (embedding, text) shares of a hybrid score
        (see `Retriever.search`).
        """
        return await self._run_search(
            store_ids, False, query, max_num_results, score_threshold, filters, rescore, weights
        )

    async def search_store(
        self,
        store_id: str,
        query: str | list[str],
        max_num_results: int,
        score_threshold: float,
        filters: dict | None,
        rescore: bool = True,
    ) -> list[dict]:
        """Search one store for the HTTP API: unknown is a 404, expired a 400, bad filters a 400."""
        return await self._run_search(
            [store_id], True, query, max_num_results, score_threshold, filters, rescore, (1.0, 1.0)
        )

    async def _run_search(self, *args) -> list[dict]:
        """`_search` on the retriever's search thread (where the query embeds without a hand-off),
        or in the default pool while the embedding model has not loaded yet."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.retriever.search_thread, self._search, *args)

    def _search(
        self, store_ids, strict, query, max_num_results, score_threshold, filters, rescore, weights
    ) -> list[dict]:
        """Check and touch the stores, search them, keep the hits of completed files (one thread hop)."""
        live = self._touch(store_ids, strict)
        if not live:
            return []
        try:
            hits = self.retriever.search(
                live,
                query,
                max_num_results=max_num_results,
                score_threshold=score_threshold,
                filters=filters,
                rescore=rescore,
                weights=weights,
            )
        except FilterError as exc:
            raise InvalidRequest(f"Invalid 'filters': {exc}", param="filters") from exc
        if not hits:
            return []
        with self.store.read() as tx:
            ready = completed_files(tx, live, list({hit.file_id for hit in hits}))
        return [hit_out(hit) for hit in hits if hit.file_id in ready]

    def _touch(self, store_ids: list[str], strict: bool) -> list[str]:
        """The stores that can be searched, with `last_active_at` moved to now (a write only when
        the second has changed since it was last moved)."""
        live = []
        with self.store.read() as tx:
            rows = {store_id: tx.get(STORE, store_id) for store_id in dict.fromkeys(store_ids)}
        for store_id, row in rows.items():
            if row is None:
                if strict:
                    raise not_found("vector store", store_id)
                continue
            if is_expired(row):
                if strict:
                    raise InvalidRequest(
                        f"Vector store '{store_id}' has expired; it can no longer be searched.",
                        param="vector_store_id",
                        code="vector_store_expired",
                    )
                log.info("skipping expired vector store %s", store_id)
                continue
            stamp = now()
            if row["last_active_at"] != stamp:
                with self.store.tx() as tx:  # read again: the row may have changed meanwhile
                    row = tx.get(STORE, store_id)
                    if row is not None:
                        row["last_active_at"] = stamp
                        tx.put(STORE, row)
            live.append(store_id)
        return live

    # Threads (message attachments)

    async def attach_to_thread(
        self, thread_id: str, file_ids: list[str], timeout: float = 600.0
    ) -> str | None:
        """Put files attached to a thread's messages into the thread's vector store and wait for them.

        Uses the thread's own store when it has one, else creates one that expires 7 days after its
        last activity (as OpenAI does) and records it in the thread's `tool_resources`. Files already
        in the store are not ingested again. Returns the store id (None for an unknown thread).
        """
        store_id, queued = await asyncio.to_thread(self._attach, thread_id, file_ids)
        if queued:
            self.worker.wake()
            await self.wait_for_files(store_id, queued, timeout)
        return store_id

    def _attach(self, thread_id: str, file_ids: list[str]) -> tuple[str | None, list[str]]:
        with self.store.tx() as tx:
            thread = tx.get("thread", thread_id)
            if thread is None:
                return None, []
            resources = thread.get("tool_resources") or {}
            store_id = None
            for candidate in (resources.get("file_search") or {}).get("vector_store_ids", []):
                row = tx.get(STORE, candidate)
                if row is not None and not is_expired(row):
                    store_id = candidate
                    break
            if store_id is None:
                store_id = self.create_store(tx, expires_after=dict(THREAD_STORE_EXPIRY))["id"]
                resources["file_search"] = {"vector_store_ids": [store_id]}
                thread["tool_resources"] = resources
                tx.put("thread", thread)
            queued = []
            for file_id in dict.fromkeys(file_ids):
                if tx.get(FILE, file_id, store_id) is None and tx.get("file", file_id) is not None:
                    self.queue_file(tx, store_id, file_id, dict(AUTO_CHUNKING))
                    queued.append(file_id)
            return store_id, queued

    async def wait_for_files(self, store_id: str, file_ids: list[str], timeout: float = 600.0) -> bool:
        """Wait until none of `file_ids` in the store is `in_progress`; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            rows = await asyncio.to_thread(self.store.all, FILE, store_id, {"status": "in_progress"})
            if not any(row["id"] in file_ids for row in rows):
                return True
            if loop.time() >= deadline:
                log.warning("files of vector store %s still in progress after %.0f s", store_id, timeout)
                return False
            await asyncio.sleep(0.2)
