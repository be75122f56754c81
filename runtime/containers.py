"""Containers (OpenAI's Containers API): a code-interpreter session that is an object of its own,
with files, a memory limit and an idle expiry, used by the Responses API's `code_interpreter` tool.

A container is a sandbox session keyed by its id (the same engine as an Assistants thread's kernel)
that the pool never ends for idleness: the container's own expiry does. Its row (kind `container`)
says `running` until it expires (`expired`: kernel and files freed, any further use a 400) or is
deleted. Its files live in the kernel's /mnt/data; a `container.file` row (parent the container)
describes each, `source: user` for what was uploaded or copied in, `source: assistant` for what the
code wrote, which `sync` finds by listing /mnt/data after each execution and before each listing.

`last_active_at` moves with every execution and file change; a container idle for its
`expires_after.minutes` (20 by default; `ASSISTD_CONTAINER_MINUTE_SECONDS` says how long a minute is,
for tests) expires. A server that restarts has lost every kernel, so it marks the containers it
finds running `expired`.
"""

import asyncio
import contextlib
import logging
import os
import posixpath
import time

from runtime.code_sandbox import CodeSandbox, CodeSandboxError
from runtime.errors import APIError, InvalidRequest, NotFound, not_found
from runtime.files import file_path
from runtime.ids import new_id, now
from runtime.settings import Settings
from runtime.store import Store

log = logging.getLogger("assistd.containers")

CONTAINER = "container"
FILE = "container.file"
GiB = 1024**3
MEMORY_LIMITS = {"1g": 1 * GiB, "4g": 4 * GiB, "16g": 16 * GiB, "64g": 64 * GiB}
DEFAULT_MINUTES = 20


class ContainerUnavailable(APIError):
    """The sandbox could not serve the container (no Docker engine, too many sessions...)."""

    status = 503


def host_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def container_out(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}


class Containers:
    def __init__(self, settings: Settings, store: Store, sandbox: CodeSandbox):
        self.settings, self.store, self.sandbox = settings, store, sandbox
        self._locks: dict[str, asyncio.Lock] = {}
        self._sweeper: asyncio.Task | None = None
        self.worker_id = ""

    async def start(self, worker_id: str) -> None:
        """Watch for expiry; a container's kernel lives in the process that made it (`worker_id`)."""
        self.worker_id = worker_id
        self._sweeper = asyncio.create_task(self._sweep())

    def settle(self, dead: list[str]) -> None:
        """Expire the containers of stopped processes: their kernels are gone."""
        for row in self.store.all(CONTAINER, where={"status": "running"}):
            if row.get("_worker") in dead:
                self._expire(row)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)

    def _lock(self, container_id: str) -> asyncio.Lock:
        return self._locks.setdefault(container_id, asyncio.Lock())

    # Containers

    def memory_bytes(self, memory_limit: str | None, param: str) -> int | None:
        """The kernel memory a `memory_limit` asks for (None: the sandbox's default); a 400 when the
        host cannot give it."""
        if memory_limit is None:
            return None
        wanted = MEMORY_LIMITS[memory_limit]
        cap = min(host_memory(), self.settings.container_max_memory_bytes or host_memory())
        if wanted > cap:
            raise InvalidRequest(
                f"memory_limit '{memory_limit}' is more than this server can give a container "
                f"({cap / GiB:.1f} GiB); raise ASSISTD_CONTAINER_MAX_MEMORY_BYTES if the host has it.",
                param=param,
            )
        return wanted

    def new(self, name: str, memory_limit: str | None, minutes: int | None, param: str) -> dict:
        """A container row (stored, no kernel yet): checked, its memory limit resolved."""
        memory = self.memory_bytes(memory_limit, param)
        moment = now()
        row = {
            "id": new_id(CONTAINER),
            "object": "container",
            "name": name,
            "created_at": moment,
            "status": "running",
            "last_active_at": moment,
            "expires_after": {"anchor": "last_active_at", "minutes": minutes or DEFAULT_MINUTES},
            "memory_limit": memory_limit or "1g",
            "network_policy": {"type": "disabled"},
            "_memory_bytes": memory,
            "_worker": self.worker_id,
        }
        return self.store.insert(CONTAINER, row)

    async def create(
        self, name: str, file_ids: list[str], memory_limit: str | None, minutes: int | None
    ) -> dict:
        with self.store.read() as tx:
            found = []
            for index, file_id in enumerate(file_ids):
                stored = tx.get("file", file_id)
                if stored is None:
                    raise NotFound(f"No file found with id '{file_id}'.", param=f"file_ids[{index}]")
                found.append(stored)
        row = self.new(name, memory_limit, minutes, "memory_limit")
        try:
            await self.ensure(row)
            await self.provide(row["id"], found)
        except BaseException:
            await self.delete(row["id"])
            raise
        return container_out(self.store.get(CONTAINER, row["id"]))

    def get(self, container_id: str) -> dict:
        row = self.store.get(CONTAINER, container_id)
        if row is None:
            raise not_found("container", container_id)
        return row

    def usable(self, container_id: str, param: str | None = None) -> dict:
        """A running container; 404 for none, 400 for an expired one."""
        row = self.store.get(CONTAINER, container_id)
        if row is None:
            raise NotFound(f"No container found with id '{container_id}'.", param=param)
        if row["status"] != "running":
            raise InvalidRequest(
                f"Container '{container_id}' is expired and cannot be used; create a new one.",
                param=param,
                code="container_expired",
            )
        return row

    async def ensure(self, row: dict) -> None:
        """The container's kernel, started when it has none yet (an `auto` container's first use)."""
        if await self.sandbox.is_open(row["id"]):
            return
        try:
            await self.sandbox.open(row["id"], row.get("_memory_bytes"))
        except CodeSandboxError as exc:
            raise ContainerUnavailable(f"The code interpreter is unavailable: {exc}") from exc

    async def delete(self, container_id: str) -> dict:
        self.get(container_id)
        async with self._lock(container_id):
            await self.sandbox.close_session(container_id)
            with self.store.tx() as tx:
                tx.delete_children(container_id, [FILE])
                tx.delete(CONTAINER, container_id)
        self._locks.pop(container_id, None)
        return {"id": container_id, "object": "container.deleted", "deleted": True}

    def touch(self, container_id: str) -> None:
        with self.store.tx() as tx:
            row = tx.get(CONTAINER, container_id)
            if row is not None and row["status"] == "running":
                row["last_active_at"] = now()
                tx.put(CONTAINER, row)

    # Expiry

    def _expire(self, row: dict) -> None:
        with self.store.tx() as tx:
            row = tx.get(CONTAINER, row["id"])
            if row is None or row["status"] != "running":
                return
            row["status"] = "expired"
            tx.put(CONTAINER, row)
            tx.delete_children(row["id"], [FILE])

    def _due(self, row: dict, moment: float) -> bool:
        idle = row["expires_after"]["minutes"] * self.settings.container_minute_seconds
        return row["last_active_at"] + idle <= moment

    async def _sweep(self) -> None:
        period = max(0.2, min(5.0, self.settings.container_minute_seconds / 4))
        while True:
            await asyncio.sleep(period)
            try:
                moment = time.time()
                for row in self.store.all(CONTAINER, where={"status": "running"}):
                    if (
                        row.get("_worker") == self.worker_id
                        and self._due(row, moment)
                        and not self._lock(row["id"]).locked()
                    ):
                        log.info("container %s idle past its expiry: expired", row["id"])
                        self._expire(row)
                        await self.sandbox.close_session(row["id"])
            except Exception:
                log.exception("container expiry sweep failed")

    # Files

    async def provide(self, container_id: str, stored_files: list[dict]) -> None:
        """Copy in those of `stored_files` this container has not been given yet."""
        given = set(self.store.get(CONTAINER, container_id).get("_given", []))
        for stored in stored_files:
            if stored["id"] not in given:
                await self.copy_in(container_id, stored)
                given.add(stored["id"])
        with self.store.tx() as tx:
            row = tx.get(CONTAINER, container_id)
            if row is not None:
                tx.put(CONTAINER, {**row, "_given": sorted(given)})

    async def copy_in(self, container_id: str, stored: dict) -> dict:
        """Copy a stored file (`/v1/files`) into the container."""
        data = await asyncio.to_thread(file_path(self.settings, stored["id"]).read_bytes)
        return await self.add_file(container_id, stored["filename"], data)

    async def add_file(self, container_id: str, filename: str, data: bytes) -> dict:
        """Write an uploaded file into /mnt/data (a free name beside a taken one): a `user` file."""
        row = self.usable(container_id)
        async with self._lock(container_id):
            await self.ensure(row)
            try:
                path = await self.sandbox.put(container_id, filename, data)
            except CodeSandboxError as exc:
                raise InvalidRequest(str(exc), param="file") from exc
            self.touch(container_id)
            return self.store.insert(
                FILE, self._file_row(container_id, path, len(data), "user"), container_id
            )

    def _file_row(self, container_id: str, path: str, size: int, source: str) -> dict:
        return {
            "id": new_id(FILE),
            "object": "container.file",
            "container_id": container_id,
            "created_at": now(),
            "bytes": size,
            "path": path,
            "source": source,
        }

    async def sync(self, container_id: str) -> None:
        """Match the file rows to /mnt/data: what the code wrote becomes an `assistant` file, changed
        sizes are updated, removed files go."""
        row = self.usable(container_id)
        async with self._lock(container_id):
            if not await self.sandbox.is_open(container_id):
                return  # an `auto` container whose code has not run yet: nothing written
            try:
                found = await self.sandbox.files(container_id)
            except CodeSandboxError as exc:
                raise ContainerUnavailable(f"The code interpreter is unavailable: {exc}") from exc
            with self.store.tx() as tx:
                known = {f["path"]: f for f in tx.all(FILE, row["id"])}
                for path, size in found.items():
                    if path not in known:
                        tx.insert(FILE, self._file_row(container_id, path, size, "assistant"), container_id)
                    elif known[path]["bytes"] != size:
                        tx.put(FILE, {**known[path], "bytes": size}, container_id)
                for path, stale in known.items():
                    if path not in found:
                        tx.delete(FILE, stale["id"], container_id)

    def user_files(self, container_id: str) -> list[dict]:
        """The files put into the container (uploaded or copied in), as stored."""
        return [f for f in self.store.all(FILE, container_id) if f["source"] == "user"]

    def get_file(self, container_id: str, file_id: str) -> dict:
        self.usable(container_id)
        row = self.store.get(FILE, file_id, parent=container_id)
        if row is None:
            raise NotFound(f"No file found with id '{file_id}' in container '{container_id}'.")
        return row

    async def file_content(self, container_id: str, file_id: str) -> tuple[bytes, str]:
        row = self.get_file(container_id, file_id)
        data = (
            await self.sandbox.read(container_id, row["path"])
            if await self.sandbox.is_open(container_id)
            else None
        )
        if data is None:
            await self.sync(container_id)
            raise NotFound(f"File '{file_id}' is no longer in container '{container_id}'.")
        return data, posixpath.basename(row["path"])

    async def delete_file(self, container_id: str, file_id: str) -> dict:
        row = self.get_file(container_id, file_id)
        async with self._lock(container_id):
            if await self.sandbox.is_open(container_id):
                with contextlib.suppress(FileNotFoundError, CodeSandboxError):  # gone already
                    await self.sandbox.remove_file(container_id, row["path"])
            with self.store.tx() as tx:
                tx.delete(FILE, file_id, container_id)
        self.touch(container_id)
        return {"id": file_id, "object": "container.file.deleted", "deleted": True}

    async def file_for_path(self, container_id: str, path: str) -> dict | None:
        """The container file at a /mnt/data path the model linked to, if there is one."""
        await self.sync(container_id)
        with self.store.read() as tx:
            return next((f for f in tx.all(FILE, container_id) if f["path"] == path), None)
