"""The ingestion worker: turns `in_progress` vector store files into indexed chunks, in the background.

The database is the queue. A file row waiting for work has `status: in_progress`; the worker scans for
such rows at start-up (so work a stopped server left behind resumes), whenever it is woken, and every
`poll_interval` seconds (which also catches rows committed by transactions it was not told about).
Each file is parsed, chunked and embedded by the `Retriever` in the worker's own threads, never on
the event loop. Two files are in hand at a time: the embedder takes one batch at a time, so while one
file embeds the other is parsed, indexed, flushed and recorded, on the core the embedding leaves idle
part of the time. When a file is done the worker re-reads its row: a row that was deleted, cancelled or
re-queued meanwhile keeps no points from this pass, so deleting a file or a store mid-ingestion is safe.
With several processes on one database, a file is claimed (runtime/work.py) by the one that ingests
it; a process that stops frees its claims when it is settled, and another takes the file over. The
embedded index is written through the process that owns it (retrieval/index/shared.py), so any
worker may ingest into it.
"""

import asyncio
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from functools import partial

from retrieval import ChunkingError, ParseError, RetrievalError
from runtime.files import file_path
from runtime.settings import Settings
from runtime.store import Store

log = logging.getLogger("assistd.ingest")

FILE = "vector_store.file"
STORE = "vector_store"


def file_error(exc: Exception) -> dict:
    """The `last_error` a failed ingestion reports."""
    if isinstance(exc, ParseError):
        code = "unsupported_file" if _unsupported(exc) else "invalid_file"
        return {"code": code, "message": str(exc) or "The file could not be parsed."}
    if isinstance(exc, ChunkingError):
        return {"code": "invalid_file", "message": str(exc)}
    return {"code": "server_error", "message": "The server had an error while processing this file."}


def _unsupported(exc: Exception) -> bool:
    name = type(exc).__name__.lower()
    return "unsupported" in name or "unsupported" in str(exc).lower()


class IngestWorker:
    """Ingests queued vector store files with `concurrency` parallel slots."""

    def __init__(
        self, settings: Settings, store: Store, retriever, *, concurrency: int = 2, poll_interval: float = 1.0
    ):
        self.settings, self.store, self.retriever = settings, store, retriever
        self.concurrency, self.poll_interval = max(1, concurrency), poll_interval
        self._executor = ThreadPoolExecutor(max_workers=self.concurrency + 1, thread_name_prefix="ingest")
        self._running: set[Future] = set()
        self._queued: set[tuple[str, str]] = set()
        self._tasks: list[asyncio.Task] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._queue: asyncio.Queue | None = None
        self.work = None  # runtime/work.py, once the engine has it: a file is ingested by one process

    # Lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake, self._queue = asyncio.Event(), asyncio.Queue()
        self._tasks = [asyncio.create_task(self._scan_forever(), name="ingest-scan")]
        self._tasks += [
            asyncio.create_task(self._consume(), name=f"ingest-{n}") for n in range(self.concurrency)
        ]

    async def close(self, timeout: float = 10.0) -> None:
        """Stop taking work; give the files being embedded `timeout` seconds (they resume at restart)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        running = list(self._running)
        if running:
            await asyncio.to_thread(wait_futures, running, timeout)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def wake(self, delay: float = 0.0) -> None:
        """Look for new work now (or after `delay` seconds); safe to call from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if delay:
            loop.call_soon_threadsafe(loop.call_later, delay, self._set_wake)
        else:
            loop.call_soon_threadsafe(self._set_wake)

    def _set_wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def call(self, fn, *args, **kwargs):
        """Run a retriever call in the worker's threads."""
        future = self._executor.submit(partial(fn, *args, **kwargs))
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        return await asyncio.wrap_future(future)

    # Loop

    async def _scan_forever(self) -> None:
        while True:
            self._wake.clear()
            try:
                pending = await asyncio.to_thread(self._pending)
            except Exception:
                log.exception("could not scan for pending vector store files")
                pending = []
            for key in pending:
                if key not in self._queued:
                    self._queued.add(key)
                    self._queue.put_nowait(key)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
            except TimeoutError:
                pass

    def _pending(self) -> list[tuple[str, str]]:
        rows = self.store.all(FILE, where={"status": "in_progress"})
        return [(row["vector_store_id"], row["id"]) for row in rows]

    async def _consume(self) -> None:
        while True:
            key = await self._queue.get()
            try:
                await self._process(*key)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ingesting %s into %s failed", key[1], key[0])
                try:
                    await asyncio.to_thread(self._give_up, *key)
                except Exception:
                    log.exception("could not mark %s in %s failed", key[1], key[0])
            finally:
                self._queued.discard(key)

    # One file

    async def _process(self, store_id: str, file_id: str) -> None:
        row = await asyncio.to_thread(self.store.get, FILE, file_id, store_id)
        if row is None or row["status"] != "in_progress":
            return
        job_id = f"i:{store_id}:{file_id}"
        if self.work is not None and not await asyncio.to_thread(self.work.take, job_id):
            return  # another process ingests it
        try:
            await self._ingest(store_id, file_id, row)
        finally:
            if self.work is not None:
                await asyncio.to_thread(self.work.finish, job_id)

    async def _ingest(self, store_id: str, file_id: str, row: dict) -> None:
        gen = row.get("_gen")
        found = await asyncio.to_thread(self.store.get, "file", file_id)
        path = file_path(self.settings, file_id)
        started = time.monotonic()
        result, error = None, None
        attributes = row.get("attributes") or {}
        if found is None or not path.exists():
            error = {"code": "invalid_file", "message": f"File '{file_id}' no longer exists."}
        else:
            try:
                result = await self.call(
                    self.retriever.ingest_file,
                    store_id,
                    file_id,
                    path,
                    found["filename"],
                    chunking_strategy=row.get("chunking_strategy"),
                    attributes=attributes,
                )
            except (RetrievalError, OSError, ValueError) as exc:
                if not isinstance(exc, (ParseError, ChunkingError)):
                    log.warning("ingesting %s into %s failed: %r", file_id, store_id, exc)
                error = file_error(exc)
        outcome = await asyncio.to_thread(self._finish, store_id, file_id, gen, attributes, result, error)
        if outcome == "discard":
            await self._discard(store_id, file_id)
        elif outcome == "attributes":
            current = await asyncio.to_thread(self.store.get, FILE, file_id, store_id)
            if current is not None:
                await self.call(
                    self.retriever.update_attributes, store_id, file_id, current.get("attributes") or {}
                )
        if result is not None:
            log.info(
                "ingested %s into %s: %s chunks in %.2f s",
                file_id,
                store_id,
                getattr(result, "chunks", "?"),
                time.monotonic() - started,
            )

    def _finish(self, store_id: str, file_id: str, gen, attributes: dict, result, error: dict | None) -> str:
        """Record the outcome if the row still wants it; say what is left to do with the points."""
        with self.store.tx() as tx:
            row = tx.get(FILE, file_id, store_id)
            if row is None:
                return "discard"
            if row.get("_gen") != gen:
                return "requeued"  # a newer request for this file will ingest it again
            if row["status"] != "in_progress":
                return "discard"  # cancelled meanwhile
            if error is not None:
                row.update(status="failed", last_error=error, usage_bytes=0)
                tx.put(FILE, row, store_id)
                return "discard"
            row.update(status="completed", last_error=None, usage_bytes=int(getattr(result, "bytes", 0) or 0))
            tx.put(FILE, row, store_id)
            return "attributes" if (row.get("attributes") or {}) != attributes else "done"

    async def _discard(self, store_id: str, file_id: str) -> None:
        """Drop the points of a file whose row is gone, cancelled or failed (and of a deleted store)."""
        try:
            await self.call(self.retriever.delete_file, store_id, file_id)
            if await asyncio.to_thread(self.store.get, STORE, store_id) is None:
                await self.call(self.retriever.delete_store, store_id)
        except Exception as exc:  # cleanup is best effort; searches only return completed files
            log.warning("could not drop points of %s in %s: %r", file_id, store_id, exc)

    def _give_up(self, store_id: str, file_id: str) -> None:
        with self.store.tx() as tx:
            row = tx.get(FILE, file_id, store_id)
            if row is not None and row["status"] == "in_progress":
                row.update(status="failed", last_error=file_error(RuntimeError()))
                tx.put(FILE, row, store_id)
