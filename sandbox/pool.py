"""`SessionPool`: the many-sessions manager. Hands out one session per key (a thread id), keeps a
warm pool of started kernels, enforces the session limit, expires idle sessions and reaps
containers that an earlier server process left behind."""

import asyncio
import contextlib
import hashlib
import logging
import os
import time

import docker
import docker.errors

from sandbox.config import SandboxConfig
from sandbox.container import KernelContainer, reap
from sandbox.errors import SandboxUnavailable, SessionLimitError
from sandbox.execution import Execution
from sandbox.session import Session
from sandbox.turns import Turns

log = logging.getLogger("assistd.sandbox")
# The longest an execution keeps its turn on the CPUs before the next one is let in beside it.
TURN_HOLD = 0.05


class SessionPool:
    def __init__(self, config: SandboxConfig):
        self.config = config
        # Containers are labelled with their data dir, so a restarted server reaps its own leftovers only.
        self.owner = hashlib.sha256(str(config.state_dir.resolve()).encode()).hexdigest()[:12]
        self._client: docker.DockerClient | None = None
        self._sessions: dict[str, Session] = {}
        self._creating: dict[str, asyncio.Lock] = {}
        self._warm: list[KernelContainer] = []
        self._tasks: set[asyncio.Task] = set()
        self._expiry: asyncio.Task | None = None
        self._turns = Turns(config.exec_slots or (os.cpu_count() or 1) + 1, TURN_HOLD)

    async def start(self) -> None:
        """Connect to Docker, reap orphans, start the expiry watch and fill the warm pool."""
        try:
            self._client = await asyncio.to_thread(docker.from_env)
            await asyncio.to_thread(self._client.ping)
        except docker.errors.DockerException as exc:
            if self._client is not None:
                self._client.close()
            raise SandboxUnavailable(f"no Docker engine answers: {exc}") from exc
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        reaped = await asyncio.to_thread(reap, self._client, self.owner)
        if reaped:
            log.info("removed %d sandbox containers left by an earlier process", reaped)
        self._expiry = asyncio.create_task(self._expire_forever())
        self._refill()

    # Sessions

    def _new_kernel(self) -> KernelContainer:
        return KernelContainer(self._client, self.config, self.owner)

    def _refill(self) -> None:
        missing = self.config.warm_pool - len(self._warm) - sum(1 for t in self._tasks if not t.done())
        for _ in range(max(0, missing)):
            task = asyncio.create_task(self._warm_one())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _warm_one(self) -> None:
        try:
            self._warm.append(await self._new_kernel().start())
        except Exception as exc:  # a failed warm start only costs the next session its start-up
            log.warning("could not pre-start a kernel: %s", exc)

    async def _take_kernel(self) -> KernelContainer:
        """A pre-started kernel: a ready one, else the one starting now, else a new one."""
        if not self._warm:
            starting = [t for t in self._tasks if not t.done()]
            if starting:
                await asyncio.wait(starting, return_when=asyncio.FIRST_COMPLETED)
        return self._warm.pop(0) if self._warm else await self._new_kernel().start()

    async def _session(self, key: str) -> Session:
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
            kernel = await self._take_kernel()
            self._refill()
            session = self._sessions[key] = Session(kernel, self.config, self._turns)
            return session

    def has_session(self, key: str) -> bool:
        return key in self._sessions

    async def execute(self, key: str, code: str, timeout: float | None = None) -> Execution:
        session = await self._session(key)
        return await session.execute(code, timeout)

    async def put_file(self, key: str, name: str, data: bytes) -> str:
        session = await self._session(key)
        return await asyncio.to_thread(session.put_file, name, data)

    async def read_file(self, key: str, path: str) -> bytes:
        session = await self._session(key)
        return await asyncio.to_thread(session.read_file, path)

    async def list_files(self, key: str) -> list[str]:
        session = await self._session(key)
        return await asyncio.to_thread(session.list_files)

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
                if not session.busy and now - session.last_used > self.config.idle_timeout:
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
        if self._client is not None:
            self._client.close()
