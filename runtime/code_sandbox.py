"""The runtime's side of the code interpreter: builds the kernel image in the background at start-up,
starts the session pool on first use, and tracks which uploaded files sit in each thread's /mnt/data.

With several processes on one database, a session may live in another process on this machine (a
container made through another replica): a call about it goes to that process
(runtime/session_host.py), which `placements` names; a session no live process holds starts here.
"""

import asyncio
import dataclasses
import functools
import logging
from pathlib import Path

from runtime.session_host import Gone, SessionHost
from runtime.settings import Settings

log = logging.getLogger("assistd.sandbox")


class CodeSandboxError(Exception):
    """The sandbox could not run the code (no Docker engine, no image, too many sessions...)."""


ROUTED: set[str] = set()  # the methods marked `@routed`: those another process may call here


def routed(method):
    """Run a session method (its first argument the session's key) in the other process on this
    machine that holds the session, if one does and answers; else here."""
    ROUTED.add(method.__name__)

    @functools.wraps(method)
    async def run(self: "CodeSandbox", key: str, *args):
        holder = self._holder(key)
        if holder is not None:
            try:
                return await self.host.ask(holder, method.__name__, (key, *args))
            except Gone:
                pass  # it stopped: the session starts afresh here
        return await method(self, key, *args)

    return run


class CodeSandbox:
    """Lazily started `sandbox.SessionPool`, keyed by thread id; sandbox errors become `CodeSandboxError`."""

    def __init__(self, settings: Settings, worker_id: str):
        self.settings = settings
        # This process's kernels are labelled with a state dir of its own: other processes on the same
        # data dir reap theirs, and this one's once it is known to have stopped (`reap_stopped`).
        self.state_dir = settings.data_dir / "sandbox" / worker_id
        self._pool = None
        self._starting: asyncio.Task | None = None
        self._placed: dict[str, dict[str, str]] = {}
        self.work = None  # runtime/work.py, once the engine has it: which process holds a session
        self.host: SessionHost | None = None  # once serving the other processes

    async def serve(self) -> None:
        """Serve this process's sessions to the other processes on this machine."""
        self.host = SessionHost(self.settings.data_dir / "sessions", self.work.id)
        self.host.serve(self._answer, asyncio.get_running_loop())

    async def _answer(self, method: str, args: tuple):
        """Another process's call: the method itself, not routed again."""
        if method == "is_open":
            return self._holds(args[0])
        if method not in ROUTED:
            raise ValueError(f"no such session call: {method}")
        return await getattr(CodeSandbox, method).__wrapped__(self, *args)

    def _holds(self, key: str) -> bool:
        return self._pool is not None and self._pool.has_session(key)

    def _holder(self, key: str) -> str | None:
        """The other process that holds the session of `key`, if one does."""
        if self.host is None or self._holds(key):
            return None
        holder = self.work.placed(key)
        return None if holder in (None, self.work.id) else holder

    @property
    def capacity(self) -> int:
        """The code sessions this process may hold (`ASSISTD_SANDBOX_MAX_SESSIONS`)."""
        import sandbox

        return sandbox.SandboxConfig.from_env(self.state_dir, image="").max_sessions

    def session_count(self) -> int:
        """The code sessions live now (safe to call from any thread)."""
        return 0 if self._pool is None else self._pool.session_count

    async def _get_pool(self):
        if self._pool is not None:
            return self._pool
        if self._starting is None:
            self._starting = asyncio.create_task(self._start())
        try:
            await asyncio.shield(self._starting)
        except Exception as exc:
            self._starting = None
            raise CodeSandboxError(str(exc)) from exc
        return self._pool

    async def _start(self) -> None:
        import sandbox

        image = await asyncio.to_thread(
            sandbox.ensure_image,
            self.settings.data_dir / "cache",
            lambda line: log.info("kernel image: %s", line),
        )
        config = sandbox.SandboxConfig.from_env(state_dir=self.state_dir, image=image)
        pool = sandbox.SessionPool(config)
        await pool.start()
        self._pool = pool

    async def _call(self, method: str, *args, **kwargs):
        """Call a pool method; the sandbox's own errors become `CodeSandboxError`."""
        pool = await self._get_pool()
        try:
            return await getattr(pool, method)(*args, **kwargs)
        except Exception as exc:
            if type(exc).__module__.split(".")[0] == "sandbox":
                raise CodeSandboxError(str(exc)) from exc
            raise

    @routed
    async def execute(self, thread_id: str, code: str):
        result = await self._call("execute", thread_id, code)
        if result.restarted:  # a fresh kernel starts with an empty /mnt/data
            self._placed.pop(thread_id, None)
        return result

    @routed
    async def open(self, key: str, memory_bytes: int | None = None) -> None:
        """Start the session of `key` now, for a container: with its own memory limit if given,
        never ended for idleness (the container's own expiry ends it). The other processes find it
        here (`placements`)."""
        pool = await self._get_pool()
        limits = None
        if memory_bytes is not None:
            limits = dataclasses.replace(pool.config.limits, memory_bytes=memory_bytes)
        await self._call("open", key, limits, expire_idle=False)
        if self.host is not None:
            await asyncio.to_thread(self.work.place, key)

    async def is_open(self, key: str) -> bool:
        """Whether the session of `key` is live, here or in the other process that holds it."""
        holder = self._holder(key)
        if holder is None:
            return self._holds(key)
        try:
            return await self.host.ask(holder, "is_open", (key,))
        except Gone:
            return False

    @routed
    async def put(self, key: str, filename: str, data: bytes) -> str:
        """Write a file into the session's /mnt/data (a free name beside a taken one); its path."""
        return await self._call("put_file", key, filename, data)

    @routed
    async def files(self, key: str) -> dict[str, int]:
        """The session's /mnt/data: path -> size in bytes."""
        return await self._call("list_files", key)

    @routed
    async def remove_file(self, key: str, path: str) -> None:
        await self._call("remove_file", key, path)

    def reap_stopped(self, worker_ids: list[str]) -> None:
        """Remove the kernels of stopped processes (and of versions that labelled them by data dir)."""
        import sandbox

        dirs = [self.settings.data_dir / "sandbox" / worker_id for worker_id in worker_ids]
        for state_dir in [*dirs, self.settings.data_dir / "sandbox"]:
            task = asyncio.create_task(asyncio.to_thread(sandbox.reap_leftovers, state_dir))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def warm_up(self) -> None:
        """Start building the image and the warm pool now, so the first run does not wait."""
        if self._starting is None:
            self._starting = asyncio.create_task(self._start())
            self._starting.add_done_callback(
                lambda t: (
                    t.cancelled() or not t.exception() or log.warning("sandbox not ready: %s", t.exception())
                )
            )

    @routed
    async def place(self, thread_id: str, file_id: str, filename: str, path: Path) -> str:
        """Copy an uploaded file into the thread's /mnt/data once per session; returns its path there."""
        pool = await self._get_pool()
        if not pool.has_session(thread_id):  # expired or never started: nothing is placed yet
            self._placed.pop(thread_id, None)
        placed = self._placed.setdefault(thread_id, {})
        if file_id not in placed:
            placed[file_id] = await self.put(thread_id, filename, path.read_bytes())
        return placed[file_id]

    @routed
    async def read(self, thread_id: str, path: str) -> bytes | None:
        try:
            return await self._call("read_file", thread_id, path)
        except (FileNotFoundError, CodeSandboxError):
            return None

    @routed
    async def close_session(self, thread_id: str) -> None:
        self._placed.pop(thread_id, None)
        if self._pool is not None:
            await self._pool.close_session(thread_id)

    async def close(self) -> None:
        if self.host is not None:
            self.host.close()
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
        if self._pool is not None:
            await self._pool.close()
