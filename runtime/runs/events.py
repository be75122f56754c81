"""Run events: what the engine publishes while a run moves, and their server-sent-event encoding.

The engine publishes every state change of a run (run, step, message objects and their deltas) to
the `EventHub`, which keeps them in the database; a streaming request takes a cursor before the run
starts and writes the events after it as SSE until the run stops or waits for tool outputs, in
whichever process drives the run. Non-streaming requests just read the stored objects.
"""

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from runtime.store.db import events

# Events after which a stream ends: the run or response is over, or the run waits for the client.
FINAL_EVENTS = {
    "thread.run.completed",
    "thread.run.failed",
    "thread.run.cancelled",
    "thread.run.incomplete",
    "thread.run.expired",
    "thread.run.requires_action",
    "response.completed",
    "response.failed",
    "response.incomplete",
    "response.cancelled",
    "error",
}


@dataclass(frozen=True)
class Event:
    name: str
    data: dict

    def sse(self) -> bytes:
        return f"event: {self.name}\ndata: {json.dumps(self.data, separators=(',', ':'))}\n\n".encode()


DONE = b"event: done\ndata: [DONE]\n\n"


class EventHub:
    """The event log. `publish` numbers an event in its stream (from 0), hands it at once to the
    streams of this process that follow it, and queues it for the `events` table; a writer task
    appends what is queued in one transaction off the event loop and sends a NOTIFY carrying each
    stream id it wrote (on PostgreSQL; runtime/notify.py hears it in the other processes), so a
    stream can be served by any process, and replayed. A stream reads the table after its cursor,
    then takes what this process publishes and, when woken by a notice (or every second), what the
    table holds beyond the last event it sent. An event published outside the event loop (a request
    handled in a thread) is written at once."""

    CHANNEL = "assistd_events"

    def __init__(self, store) -> None:
        self.store = store
        self.shared = store.engine.dialect.name == "postgresql"
        self._next: dict[str, int] = {}  # the next number of each stream this process writes
        self._pending: list[tuple[str, int, str, str]] = []  # (stream, seq, name, data) to write
        self._writer: asyncio.Task | None = None
        self._followers: dict[str, set[asyncio.Queue]] = defaultdict(set)

    def publish(self, stream_id: str, event: Event) -> None:
        seq = self._next.get(stream_id)
        if seq is None:
            seq = self.last(stream_id) + 1
        self._next[stream_id] = seq + 1
        row = (stream_id, seq, event.name, json.dumps(event.data, separators=(",", ":")))
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not on the event loop: write it now
            self._write([row])
            return
        self._pending.append(row)
        for queue in self._followers.get(stream_id, ()):
            queue.put_nowait(row[1:])
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())

    async def _write_pending(self) -> None:
        if not self.shared:  # no other process reads the table: gather a larger batch
            await asyncio.sleep(0.05)
        while self._pending:
            batch = self._pending[:]
            await asyncio.to_thread(self._write, batch)
            del self._pending[: len(batch)]

    def _write(self, rows: list[tuple[str, int, str, str]]) -> None:
        """Append `rows`; a number another process took meanwhile (a cancel writes to the stream of
        the run it cancels) moves the row, and the rest of its stream, after the one there."""
        try:
            with self.store.unsynced_tx() as tx:
                self._insert(tx, rows)
            return
        except IntegrityError:
            pass
        moved: dict[str, int] = {}
        for stream_id, seq, name, data in rows:
            while True:
                seq = max(seq, moved.get(stream_id, seq))
                try:
                    with self.store.unsynced_tx() as tx:
                        self._insert(tx, [(stream_id, seq, name, data)])
                    break
                except IntegrityError:
                    moved[stream_id] = self._last_written(stream_id) + 1
                    seq = moved[stream_id]
            self._next[stream_id] = max(self._next.get(stream_id, 0), seq + 1)

    def _insert(self, tx, rows: list[tuple[str, int, str, str]]) -> None:
        tx.conn.execute(
            events.insert(), [dict(zip(("stream_id", "seq", "name", "data"), r, strict=True)) for r in rows]
        )
        if self.shared:
            for stream_id in dict.fromkeys(r[0] for r in rows):
                tx.conn.execute(select(func.pg_notify(self.CHANNEL, stream_id)))

    async def flush(self) -> None:
        """Write what is still queued (before another process is to go on with a stream, and at the end)."""
        if self._writer is not None:
            await self._writer

    def wake(self, stream_id: str) -> None:
        """Another process wrote to the stream: its followers here look at the table."""
        for queue in self._followers.get(stream_id, ()):
            queue.put_nowait(None)

    def _last_written(self, stream_id: str) -> int:
        with self.store.read() as tx:
            query = select(func.max(events.c.seq)).where(events.c.stream_id == stream_id)
            found = tx.conn.execute(query).scalar()
        return -1 if found is None else found

    def last(self, stream_id: str) -> int:
        """The number of the stream's last event so far (-1: none), written or still to be."""
        pending = [seq for sid, seq, _, _ in self._pending if sid == stream_id]
        return max([self._last_written(stream_id), *pending, self._next.get(stream_id, 0) - 1])

    def watch(self, stream_id: str) -> int:
        """A cursor for a stream that is to follow what comes next."""
        return self.last(stream_id)

    def _read(self, stream_id: str, after: int) -> list[tuple[int, str, str]]:
        with self.store.read() as tx:
            query = (
                select(events.c.seq, events.c.name, events.c.data)
                .where(events.c.stream_id == stream_id, events.c.seq > after)
                .order_by(events.c.seq)
            )
            found = [tuple(row) for row in tx.conn.execute(query)]
        unwritten = [row[1:] for row in self._pending if row[0] == stream_id and row[1] > after]
        return sorted({row[0]: row for row in found + unwritten}.values())

    async def stream(self, stream_id: str, after: int, first: list[Event] = ()) -> AsyncIterator[bytes]:
        """SSE bytes: `first`, then the stream's events after `after` until a final one, then `done`."""
        for event in first:
            yield event.sse()
        queue: asyncio.Queue = asyncio.Queue()
        self._followers[stream_id].add(queue)
        try:
            rows = self._read(stream_id, after)
            while True:
                for seq, name, data in rows:
                    if seq <= after:
                        continue
                    after = seq
                    yield f"event: {name}\ndata: {data}\n\n".encode()
                    if name in FINAL_EVENTS:
                        yield DONE
                        return
                row = None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):  # no task of its own: woken on the next turn
                        row = await queue.get()
                rows = [row] if row is not None and row[0] == after + 1 else self._read(stream_id, after)
        finally:
            self._followers[stream_id].discard(queue)
            if not self._followers[stream_id]:
                del self._followers[stream_id]
