"""Wake-ups between processes on PostgreSQL: one connection LISTENs on the channels the engine uses
(a stream has new events, a run was queued, a run is to be cancelled) and hands each notice's
payload (ids only, far under PostgreSQL's 8,000-byte cap) to its handler. The connection comes back
by itself after PostgreSQL restarts; meanwhile streams, claims and cancels still go on, found by
their own once-a-second (or heartbeat) looks at the database."""

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import URL, make_url

log = logging.getLogger("assistd.notify")


def conninfo(database_url: str | URL) -> str:
    """The database URL as psycopg takes it, for the connections opened beside the engine's pool."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    def __init__(self, database_url: str, handlers: dict[str, Callable[[str], None]]):
        self.conninfo = conninfo(database_url)
        self.handlers = handlers
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                    for channel in self.handlers:
                        await conn.execute(f"LISTEN {channel}")
                    async for notice in conn.notifies():
                        self.handlers[notice.channel](notice.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("listening for notices failed (%s); trying again", exc)
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
