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
    """The event log: `publish` appends an event to its stream in the `events` table (numbered from
    0 per stream) and wakes the streams that follow it, in this process at once and in others by a
    NOTIFY carrying the stream id (on PostgreSQL; runtime/notify.py hears it). A stream reads the
    table after its cursor, so it can be served by any process, and replayed."""

    CHANNEL = "assistd_events"

    def __init__(self, store) -> None:
        self.store = store
        self.shared = store.engine.dialect.name == "postgresql"
        self._next: dict[str, int] = {}  # the next number of each stream this process writes
        self._wakers: dict[str, set[asyncio.Event]] = defaultdict(set)

    def publish(self, stream_id: str, event: Event) -> None:
        """Append `event` to its stream. The process driving a job numbers its events from its own
        count; another process that writes to the stream (a cancel) takes the next free number, and
        the driver, finding its number taken, takes the next one after it."""
        data = json.dumps(event.data, separators=(",", ":"))
        seq = self._next.get(stream_id)
        for _ in range(10):
            if seq is None:
                seq = self.last(stream_id) + 1
            try:
                with self.store.tx() as tx:
                    tx.conn.execute(
                        events.insert().values(stream_id=stream_id, seq=seq, name=event.name, data=data)
                    )
                    if self.shared:
                        tx.conn.execute(select(func.pg_notify(self.CHANNEL, stream_id)))
                break
            except IntegrityError:
                seq = None
        if event.name in FINAL_EVENTS:
            self._next.pop(stream_id, None)  # a run continues later, maybe in another process
        else:
            self._next[stream_id] = seq + 1
        self.wake(stream_id)

    def wake(self, stream_id: str) -> None:
        for waker in self._wakers.get(stream_id, ()):
            waker.set()

    def last(self, stream_id: str) -> int:
        """The number of the stream's last event so far (-1: none)."""
        with self.store.read() as tx:
            query = select(func.max(events.c.seq)).where(events.c.stream_id == stream_id)
            found = tx.conn.execute(query).scalar()
        return -1 if found is None else found

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
            return [tuple(row) for row in tx.conn.execute(query)]

    async def stream(self, stream_id: str, after: int, first: list[Event] = ()) -> AsyncIterator[bytes]:
        """SSE bytes: `first`, then the stream's events after `after` until a final one, then `done`.
        Woken by each event; it also looks every second, should a wake-up be lost."""
        for event in first:
            yield event.sse()
        waker = asyncio.Event()
        self._wakers[stream_id].add(waker)
        try:
            while True:
                waker.clear()
                rows = self._read(stream_id, after)
                for seq, name, data in rows:
                    after = seq
                    yield f"event: {name}\ndata: {data}\n\n".encode()
                    if name in FINAL_EVENTS:
                        yield DONE
                        return
                if not rows:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(waker.wait(), 1.0)
        finally:
            self._wakers[stream_id].discard(waker)
            if not self._wakers[stream_id]:
                del self._wakers[stream_id]
