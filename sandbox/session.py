"""`Session`: runs code in one kernel and returns an `Execution`; moves files in and out of /mnt/data.

One execution at a time per session; a timeout interrupts the kernel and keeps the session; a dead
kernel (out of memory, `os._exit`, segfault) is replaced by a fresh one and the result says so.
"""

import asyncio
import errno
import queue
import time
from pathlib import PurePosixPath

from sandbox.config import SandboxConfig
from sandbox.errors import SandboxError
from sandbox.execution import Execution, ExecutionError, OutputCollector
from sandbox.provider import Kernel
from sandbox.turns import Turns

DATA = PurePosixPath("/mnt/data")


def inside_data(path: str) -> str:
    """`path` relative to /mnt/data ("a/b.csv"); anything outside it is refused."""
    pure = PurePosixPath(path)
    if not pure.is_absolute():
        pure = DATA / pure
    if ".." in pure.parts or pure.parts[:3] != DATA.parts:
        raise PermissionError(f"{path} is outside /mnt/data")
    return "/".join(pure.parts[3:])


class Session:
    def __init__(self, kernel: Kernel, config: SandboxConfig, turns: Turns, expire_idle: bool = True):
        self.kernel, self.config, self.turns = kernel, config, turns
        self.expire_idle = expire_idle  # else its owner decides when it ends
        self.lock = asyncio.Lock()
        self.last_used = time.monotonic()
        self.busy = False

    # Files

    async def put_file(self, name: str, data: bytes) -> str:
        """Write `data` as /mnt/data/<name>, or "<stem> (1)<suffix>" and so on if the name is taken."""
        base = PurePosixPath(name).name
        if base in ("", ".", ".."):
            base = "file"
        stem, suffix = PurePosixPath(base).stem, PurePosixPath(base).suffix
        candidate, n = base, 1
        while True:
            try:
                await self.kernel.create_file(candidate, data)
                return str(DATA / candidate)
            except FileExistsError:
                candidate, n = f"{stem} ({n}){suffix}", n + 1
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                    raise SandboxError(
                        f"{base} ({len(data)} bytes) does not fit in /mnt/data; raise "
                        "ASSISTD_SANDBOX_DATA_BYTES to allow more."
                    ) from exc
                raise

    async def read_file(self, path: str) -> bytes:
        return await self.kernel.read_file(inside_data(path))

    async def list_files(self) -> dict[str, int]:
        """Every file in /mnt/data: its path -> its size in bytes, by path."""
        found = await self.kernel.files()
        return {str(DATA / path): found[path][1] for path in sorted(found)}

    async def remove_file(self, path: str) -> None:
        await self.kernel.remove_file(inside_data(path))

    # Execution

    async def execute(self, code: str, timeout: float | None = None) -> Execution:
        # The CPU turn is taken once the session is free: a queued execution does not hold a slot.
        async with self.lock, self.turns.turn():
            self.busy = True
            try:
                return await self._execute(code, timeout or self.config.exec_timeout)
            finally:
                self.busy = False
                self.last_used = time.monotonic()

    async def _execute(self, code: str, timeout: float) -> Execution:
        before = await self.kernel.files()
        collector = OutputCollector(self.config.output_limit)
        kc = self.kernel.client
        # stop_on_error=False: an interrupted cell must not make the kernel abort the next request.
        msg_id = kc.execute(code, allow_stdin=False, store_history=True, stop_on_error=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    await self._on_timeout(collector, msg_id, timeout)
                    break
                try:
                    msg = await kc.get_iopub_msg(timeout=min(remaining, 1.0))
                except queue.Empty:
                    if not await self.kernel.alive():
                        await self._on_death(collector)
                        break
                    continue
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if msg["header"]["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                    break
                collector.feed(msg)
        except asyncio.CancelledError:
            await self.kernel.interrupt()
            raise
        await self._drain_replies(msg_id)
        result = collector.finish()
        after = await self.kernel.files()
        result.files = sorted(str(DATA / p) for p, sig in after.items() if before.get(p) != sig)
        return result

    async def _drain_replies(self, msg_id: str) -> None:
        """Read the shell replies up to this request's, so they never pile up in a long session."""
        kc = self.kernel.client
        if kc is None:
            return
        for _ in range(100):
            try:
                reply = await kc.get_shell_msg(timeout=0.5)
            except queue.Empty:
                return
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return

    async def _wait_idle(self, msg_id: str, seconds: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            try:
                msg = await self.kernel.client.get_iopub_msg(timeout=max(0.05, deadline - loop.time()))
            except queue.Empty:
                return False
            if (
                msg.get("parent_header", {}).get("msg_id") == msg_id
                and msg["header"]["msg_type"] == "status"
                and msg["content"].get("execution_state") == "idle"
            ):
                return True
        return False

    async def _on_timeout(self, collector: OutputCollector, msg_id: str, timeout: float) -> None:
        collector.result.timed_out = True
        await self.kernel.interrupt()
        if not await self._wait_idle(msg_id, 5.0):
            await self.kernel.restart()
            collector.result.restarted = True
        collector.result.error = ExecutionError(
            "TimeoutError",
            f"Execution exceeded the {timeout:g} s limit and was interrupted"
            + (
                "; the kernel did not stop, so it was restarted and earlier state is lost."
                if collector.result.restarted
                else "."
            ),
        )

    async def _on_death(self, collector: OutputCollector) -> None:
        reason = await self.kernel.exit_reason()
        await self.kernel.restart()
        collector.result.restarted = True
        collector.result.error = ExecutionError(
            "KernelDied",
            f"{reason}; a fresh kernel was started, so variables and files from before are lost.",
        )

    async def interrupt(self) -> None:
        if self.busy:
            await self.kernel.interrupt()
