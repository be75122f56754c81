"""Run events: what the engine publishes while a run moves, and their server-sent-event encoding.

The engine publishes every state change of a run (run, step, message objects and their deltas) to
the `EventHub`, which keeps them in the database; a streaming request takes a cursor before the run
starts and writes the events after it as SSE until the run stops or waits for tool outputs, in
whichever process drives the run. Non-streaming requests just read the stored objects.
"""

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from runtime.notify import conninfo
from runtime.store.db import INSERT_OBJECT, events, object_values

log = logging.getLogger("assistd.events")
_APPEND = "INSERT INTO events (stream_id, seq, name, data, at) VALUES (%s, %s, %s, %s, %s)"
# Built once with bound parameters, like the store's lookups (runtime/store/db.py): 0.30 -> 0.20 ms.
_AFTER = (
    select(events.c.seq, events.c.name, events.c.data)
    .where(events.c.stream_id == bindparam("stream_id"), events.c.seq > bindparam("after"))
    .order_by(events.c.seq)
)
_LAST = select(func.max(events.c.seq)).where(events.c.stream_id == bindparam("stream_id"))
_TAKEN = (IntegrityError, psycopg.errors.UniqueViolation)  # a number another process wrote first

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
    streams of this process that follow it, and queues it for the `events` table; a writer thread
    appends what is queued in one transaction and sends a NOTIFY carrying each stream id it wrote
    (on PostgreSQL; runtime/notify.py hears it in the other processes), so a stream can be served by
    any process, and replayed. The writer is a thread of its own, not a task, so a write never waits
    for a turn of a busy event loop (which blocks on its own durable writes), and on PostgreSQL it
    keeps a connection of its own on which a batch, its notices and the commit go in one round
    trip (a pooled transaction took six): an event reaches the other processes about a millisecond
    after it is published. A write that fails (the database restarting) is tried again until it is
    stored. New objects and the events that announce them are stored together (`storing`), in one
    such transaction that the caller writes. A stream reads the table after its cursor, then takes
    what this process publishes and, when woken by a notice (or every second), what the table holds
    beyond the last event it sent. An event published outside the event loop (a request handled in
    a thread) returns once stored."""

    CHANNEL = "assistd_events"

    def __init__(self, store) -> None:
        self.store = store
        self.shared = store.engine.dialect.name == "postgresql"
        self._next: dict[str, int] = {}  # the next number of each stream this process writes
        self._pending: list[tuple[str, int, str, str]] = []  # (stream, seq, name, data) to write
        self._changed = threading.Condition()  # guards `_pending`; told when it grows or shrinks
        self._writer: threading.Thread | None = None
        self._writing = threading.Lock()  # held while a batch is written (by the writer or `storing`)
        self._connection: psycopg.Connection | None = None  # the writer's, on PostgreSQL
        self._followers: dict[str, set[asyncio.Queue]] = defaultdict(set)
        self._held: dict[str, list[tuple[str, int, str, str]]] = {}  # streams in `storing` blocks

    def _numbered(self, stream_id: str, event: Event) -> tuple[str, int, str, str]:
        seq = self._next.get(stream_id)
        if seq is None:
            seq = self.last(stream_id) + 1
        self._next[stream_id] = seq + 1
        return (stream_id, seq, event.name, json.dumps(event.data, separators=(",", ":")))

    @contextmanager
    def storing(self, stream_id: str, objects: list[tuple[str, dict, str]]) -> Iterator[None]:
        """Events published to `stream_id` in the block are stored with the new `objects` ((kind,
        body, parent), as they are at its end) in one durable transaction, written on the caller's
        thread as the block ends, with the events queued before them: no stream shows an object
        before it is stored, and one round trip stores all (a store transaction, then the writer's,
        took twice as long to reach another process). Raises when the database cannot be reached,
        and then stores none of them. On SQLite, where no other process reads the events, the
        objects are stored and the events then queued as `publish` does (the writer's larger
        batches keep the event loop free)."""
        rows = self._held[stream_id] = []
        try:
            yield
        finally:
            del self._held[stream_id]
        if self.shared:
            self._write_now(rows, objects)
        else:
            with self.store.tx() as tx:
                tx.insert_all(objects)
            self._queue(rows)
        for row in rows:
            for queue in self._followers.get(stream_id, ()):
                queue.put_nowait(row[1:])

    def _write_now(
        self, rows: list[tuple[str, int, str, str]] = (), objects: list[tuple[str, dict, str]] = ()
    ) -> None:
        """Write `rows` and `objects` on this thread, in one transaction with what is queued; what
        is queued stays so if the write fails."""
        with self._writing:
            with self._changed:
                batch = self._pending[:]
            if not (batch or rows or objects):  # a `storing` block wrote the queue meanwhile
                return
            self._write(batch + list(rows), objects)
            with self._changed:
                del self._pending[: len(batch)]
                self._changed.notify_all()

    def publish(self, stream_id: str, event: Event) -> None:
        row = self._numbered(stream_id, event)
        held = self._held.get(stream_id)
        if held is not None:  # in a `storing` block
            held.append(row)
            return
        self._queue([row])
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not on the event loop (a request handled in a thread): wait until stored
            self._wait_written(30.0)
            return
        for queue in self._followers.get(stream_id, ()):
            queue.put_nowait(row[1:])

    def _queue(self, rows: list[tuple[str, int, str, str]]) -> None:
        """Hand `rows` to the writer thread."""
        with self._changed:
            self._pending.extend(rows)
            self._changed.notify_all()
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_forever, name="events", daemon=True)
            self._writer.start()

    def _write_forever(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending)
            if not self.shared:  # no other process reads the table: gather a larger batch
                time.sleep(0.05)
            try:
                self._write_now()
            except Exception:
                log.exception("could not store the queued events; trying again")
                time.sleep(0.5)

    def _write(
        self, rows: list[tuple[str, int, str, str]], objects: list[tuple[str, dict, str]] = ()
    ) -> None:
        """Append `rows` (with `objects`); a number another process took meanwhile (a cancel writes
        to the stream of the run it cancels) moves the row, and the rest of its stream, after the one
        there."""
        try:
            self._append(rows, objects)
            return
        except _TAKEN:
            pass
        if objects:
            self._append([], objects)
        moved: dict[str, int] = {}
        for stream_id, seq, name, data in rows:
            while True:
                seq = max(seq, moved.get(stream_id, seq))
                try:
                    self._append([(stream_id, seq, name, data)])
                    break
                except _TAKEN:
                    moved[stream_id] = self._last_written(stream_id) + 1
                    seq = moved[stream_id]
            self._next[stream_id] = max(self._next.get(stream_id, 0), seq + 1)

    def _append(
        self, rows: list[tuple[str, int, str, str]], objects: list[tuple[str, dict, str]] = ()
    ) -> None:
        """Append `rows` (after inserting `objects`, on PostgreSQL) in one transaction: on PostgreSQL
        on the writer's connection, pipelined with their notices, `synchronous_commit` off unless
        there are objects; on SQLite as `Store.unsynced_tx` writes."""
        written = time.time()
        if not self.shared:
            names = ("stream_id", "seq", "name", "data")
            with self.store.unsynced_tx() as tx:
                tx.conn.execute(
                    events.insert(), [{**dict(zip(names, r, strict=True)), "at": written} for r in rows]
                )
            return
        try:
            connection = self._connected()
            with connection.pipeline(), connection.cursor() as cursor:
                if objects:
                    cursor.execute("SET LOCAL synchronous_commit TO ON")
                    cursor.executemany(INSERT_OBJECT, [object_values(*item) for item in objects])
                if rows:
                    cursor.executemany(_APPEND, [(*row, written) for row in rows])
                for stream_id in dict.fromkeys(r[0] for r in rows):
                    cursor.execute("SELECT pg_notify(%s, %s)", (self.CHANNEL, stream_id))
                connection.commit()
        except psycopg.errors.UniqueViolation:
            connection.rollback()
            raise
        except psycopg.Error as exc:
            if self._connection is not None:
                self._connection.close()  # the next write connects again
            if isinstance(exc, psycopg.OperationalError):  # the database away: as the store reports it
                raise OperationalError(_APPEND, None, exc) from exc
            raise

    def _connected(self) -> psycopg.Connection:
        """The writer's connection (on PostgreSQL), opened on first use and after a failure."""
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(conninfo(self.store.engine.url))
            self._connection.execute("SET synchronous_commit TO OFF")
            self._connection.commit()
        return self._connection

    async def flush(self, timeout: float = 30.0) -> None:
        """Wait until what is queued is written (before another process is to go on with a stream,
        and at the end); give up after `timeout` seconds (the database down)."""
        if self._pending:
            await asyncio.to_thread(self._wait_written, timeout)

    def _wait_written(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: not self._pending, timeout)

    def prune(self, keep_seconds: float) -> int:
        """Delete the streams whose every event was written more than `keep_seconds` ago (long over: a
        run expires within minutes), whole: a stream with a newer event keeps all of its own. How many
        events went; the objects they showed stay as they are."""
        cutoff = time.time() - keep_seconds
        old = select(events.c.stream_id).where(events.c.at < cutoff)
        recent = select(events.c.stream_id).where(events.c.at >= cutoff)
        with self.store.unsynced_tx() as tx:
            done = tx.conn.execute(
                delete(events).where(events.c.stream_id.in_(old), events.c.stream_id.not_in(recent))
            )
        return done.rowcount

    def wake(self, stream_id: str) -> None:
        """Another process wrote to the stream: its followers here look at the table."""
        for queue in self._followers.get(stream_id, ()):
            queue.put_nowait(None)

    def _last_written(self, stream_id: str) -> int:
        with self.store.read() as tx:
            found = tx.conn.execute(_LAST, {"stream_id": stream_id}).scalar()
        return -1 if found is None else found

    def last(self, stream_id: str) -> int:
        """The number of the stream's last event so far (-1: none), written or still to be."""
        with self._changed:
            pending = [seq for sid, seq, _, _ in self._pending if sid == stream_id]
        return max([self._last_written(stream_id), *pending, self._next.get(stream_id, 0) - 1])

    def watch(self, stream_id: str) -> int:
        """A cursor for a stream that is to follow what comes next."""
        return self.last(stream_id)

    def _read(self, stream_id: str, after: int) -> list[tuple[int, str, str]]:
        with self.store.read() as tx:
            found = [tuple(row) for row in tx.conn.execute(_AFTER, {"stream_id": stream_id, "after": after})]
        with self._changed:
            unwritten = [row[1:] for row in self._pending if row[0] == stream_id and row[1] > after]
        return sorted({row[0]: row for row in found + unwritten}.values())

    async def stream(self, stream_id: str, after: int, first: list[Event] = ()) -> AsyncIterator[bytes]:
        """SSE bytes: `first`, then the stream's events after `after` until a final one, then `done`."""
        for event in first:
            yield event.sse()
        queue: asyncio.Queue = asyncio.Queue()
        self._followers[stream_id].add(queue)
        try:
            rows = self._look(stream_id, after)
            while True:
                sent = []  # the events at hand leave in one write
                for seq, name, data in rows:
                    if seq <= after:
                        continue
                    after = seq
                    sent.append(f"event: {name}\ndata: {data}\n\n".encode())
                    if name in FINAL_EVENTS:
                        yield b"".join(sent) + DONE
                        return
                if sent:
                    yield b"".join(sent)
                rows = await self._next_rows(queue, stream_id, after)
        finally:
            self._followers[stream_id].discard(queue)
            if not self._followers[stream_id]:
                del self._followers[stream_id]

    async def _next_rows(
        self, queue: asyncio.Queue, stream_id: str, after: int
    ) -> list[tuple[int, str, str]]:
        """The events after `after`: those this process published since, if they follow on (a stream
        has no task of its own, so it is woken on the loop's next turn); else, on a notice or after
        a second, what the table holds."""
        arrived = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                arrived.append(await queue.get())
        while not queue.empty():
            arrived.append(queue.get_nowait())
        if (
            arrived
            and None not in arrived
            and [r[0] for r in arrived] == list(range(after + 1, after + 1 + len(arrived)))
        ):
            return arrived
        return self._look(stream_id, after)

    def _look(self, stream_id: str, after: int) -> list[tuple[int, str, str]]:
        """`_read`, or nothing while the database is away (restarting): the stream looks again on
        the next notice or a second later, and goes on from its cursor."""
        try:
            return self._read(stream_id, after)
        except DBAPIError as exc:
            log.warning("could not read the events of %s (%s); looking again", stream_id, exc)
            return []
