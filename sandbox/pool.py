"""`SessionPool`: the many-sessions manager. Hands out one session per key (a thread id), keeps a
warm pool of started kernels, enforces the session limit, expires idle sessions and has its provider
reap what an earlier server process left behind. Kernels come from a `Provider` (Docker unless told)."""

import asyncio
import contextlib
import logging
import os
import time

from sandbox.config import Limits, SandboxConfig
from sandbox.docker_provider import DockerProvider
from sandbox.errors import SandboxUnavailable, SessionLimitError
from sandbox.execution import Execution
from sandbox.provider import Kernel, Provider
from sandbox.session import Session
from sandbox.turns import Turns

log = logging.getLogger("assistd.sandbox")
# The longest an execution keeps its turn on the CPUs before the next one is let in beside it.
TURN_HOLD = 0.05


class SessionPool:
    def __init__(self, config: SandboxConfig, provider: Provider | None = None):
        self.config = config
        self.provider = provider or DockerProvider(config)
        self._sessions: dict[str, Session] = {}
        self._creating: dict[str, asyncio.Lock] = {}
        self._warm: list[Kernel] = []
        self._tasks: set[asyncio.Task] = set()
        self._expiry: asyncio.Task | None = None
        self._turns = Turns(config.exec_slots or (os.cpu_count() or 1) + 1, TURN_HOLD)

    async def start(self) -> None:
        """Reach the provider, reap orphans, start the expiry watch and fill the warm pool."""
        await self.provider.open()
        reaped = await self.provider.reap()
        if reaped:
            log.info("removed %d sandbox kernels left by an earlier process", reaped)
        self._expiry = asyncio.create_task(self._expire_forever())
        self._refill()

    # Sessions

    async def _new_kernel(self) -> Kernel:
        return await self.provider.start(self.config.limits)

    def _refill(self) -> None:
        missing = self.config.warm_pool - len(self._warm) - sum(1 for t in self._tasks if not t.done())
        for _ in range(max(0, missing)):
            task = asyncio.create_task(self._warm_one())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _warm_one(self) -> None:
        try:
            self._warm.append(await self._new_kernel())
        except Exception as exc:  # a failed warm start only costs the next session its start-up
            log.warning("could not pre-start a kernel: %s", exc)

    async def _take_kernel(self) -> Kernel:
        """A pre-started kernel: a ready one, else the one starting now, else a new one."""
        if not self._warm:
            starting = [t for t in self._tasks if not t.done()]
            if starting:
                await asyncio.wait(starting, return_when=asyncio.FIRST_COMPLETED)
        return self._warm.pop(0) if self._warm else await self._new_kernel()

    async def _session(self, key: str) -> Session:
        return self._sessions.get(key) or await self.open(key)

    async def open(self, key: str, limits: Limits | None = None, expire_idle: bool = True) -> Session:
        """The session of `key`, started if needed: with the pool's limits a warm kernel serves it,
        other `limits` start a kernel of their own. A session not `expire_idle` ends only when closed."""
        session = self._sessions.get(key)
        if session is not None:
            return session
        lock = self._creating.setdefault(key, asyncio.Lock())
        async with lock:
            session = self._sessions.get(key)
            if session is not None:
                return session
            if len(self._sessions) >= self.config.max_sessions:
                raise SessionLimitError(
                    f"{len(self._sessions)} code sessions are live, the maximum; raise "
                    "ASSISTD_SANDBOX_MAX_SESSIONS to allow more, or wait for idle ones to expire."
                )
            if limits is None or limits == self.config.limits:
                kernel = await self._take_kernel()
                self._refill()
            else:
                kernel = await self.provider.start(limits)
            session = Session(kernel, self.config, self._turns, expire_idle)
            self._sessions[key] = session
            return session

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def has_session(self, key: str) -> bool:
        return key in self._sessions

    async def execute(self, key: str, code: str, timeout: float | None = None) -> Execution:
        session = await self._session(key)
        try:
            return await session.execute(code, timeout)
        except SandboxUnavailable:  # its kernel died and no fresh one could start: the next call retries
            await self.close_session(key)
            raise

    async def put_file(self, key: str, name: str, data: bytes) -> str:
        session = await self._session(key)
        return await session.put_file(name, data)

    async def read_file(self, key: str, path: str) -> bytes:
        session = await self._session(key)
        return await session.read_file(path)

    async def list_files(self, key: str) -> dict[str, int]:
        session = await self._session(key)
        return await session.list_files()

    async def remove_file(self, key: str, path: str) -> None:
        session = await self._session(key)
        await session.remove_file(path)

    async def interrupt(self, key: str) -> None:
        session = self._sessions.get(key)
        if session is not None:
            await session.interrupt()

    async def close_session(self, key: str) -> None:
        session = self._sessions.pop(key, None)
        self._creating.pop(key, None)
        if session is not None:
            await session.kernel.remove()

    # Expiry and shutdown

    async def _expire_forever(self) -> None:
        period = max(0.2, min(30.0, self.config.idle_timeout / 4))
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for key, session in list(self._sessions.items()):
                if (
                    session.expire_idle
                    and not session.busy
                    and now - session.last_used > self.config.idle_timeout
                ):
                    log.info("sandbox session %s idle for %.0f s: removed", key, now - session.last_used)
                    await self.close_session(key)

    async def close(self) -> None:
        for task in [self._expiry, *self._tasks]:
            if task is not None:
                task.cancel()
        for task in [self._expiry, *self._tasks]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for key in list(self._sessions):
            await self.close_session(key)
        for kernel in self._warm:
            await kernel.remove()
        self._warm.clear()
        await self.provider.close()
