"""Code sessions reached from another process on this machine.

A thread's runs go to the process holding its kernel (runtime/work.py), but a container is used by
whichever process a request reaches. So each process serves the code sessions it holds on a Unix
socket of its own, `<data dir>/sessions/<process id>.sock`, and a process that is to use a session
another process holds (`placements`) calls that process there (runtime/code_sandbox.py). Calls and
answers are pickled (`multiprocessing.connection`) and authenticated with a key only this user can
read (`sessions/host.key`, mode 0600). A process that is gone refuses the connection (`Gone`): the
caller then starts the session afresh itself, as after an idle expiry.
"""

import asyncio
import contextlib
import os
import secrets
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path


class Gone(Exception):
    """The process holding the session does not answer: it stopped."""


class SessionHost:
    def __init__(self, directory: Path, worker_id: str):
        directory.mkdir(parents=True, exist_ok=True)
        self.worker_id = worker_id
        # A Unix socket's path is limited to 107 bytes; a descriptor of the directory keeps it short.
        self._dir = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        self._key = _key(directory)
        self._listener: Listener | None = None
        self._idle: dict[str, list[Connection]] = {}
        self._guard = threading.Lock()
        # Calls wait as long as the code they run: threads of their own, not the loop's default ones.
        self._callers = ThreadPoolExecutor(max_workers=32, thread_name_prefix="session-call")

    def _address(self, worker_id: str) -> str:
        return f"/proc/self/fd/{self._dir}/{worker_id}.sock"

    # This process's sessions, served

    def serve(self, handle: Callable[[str, tuple], Awaitable], loop: asyncio.AbstractEventLoop) -> None:
        """Answer the other processes' calls with `handle(method, args)`, run on `loop`."""
        self._listener = Listener(self._address(self.worker_id), family="AF_UNIX", authkey=self._key)
        accepting = threading.Thread(target=self._accept_forever, args=(handle, loop), daemon=True)
        accepting.start()

    def _accept_forever(self, handle, loop) -> None:
        while self._listener is not None:
            try:
                connection = self._listener.accept()
            except Exception:  # closed, or a caller without the key
                continue
            threading.Thread(target=self._answer, args=(connection, handle, loop), daemon=True).start()

    @staticmethod
    def _answer(connection: Connection, handle, loop) -> None:
        with connection:
            while True:
                try:
                    method, args = connection.recv()
                except (EOFError, OSError):
                    return
                try:
                    reply = (True, asyncio.run_coroutine_threadsafe(handle(method, args), loop).result())
                except Exception as exc:
                    reply = (False, exc)
                try:
                    connection.send(reply)
                except OSError:
                    return
                except Exception as exc:  # an answer that does not pickle
                    connection.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))

    # Another process's sessions, called

    async def ask(self, worker_id: str, method: str, args: tuple):
        """`method(*args)` in process `worker_id`; raises `Gone` if it does not answer. The call
        waits in a thread of its own (it lasts as long as the code it runs)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._callers, self._call, worker_id, method, args)

    def _call(self, worker_id: str, method: str, args: tuple):
        with self._guard:
            idle = self._idle.setdefault(worker_id, [])
            connection = idle.pop() if idle else None
        try:
            if connection is None:
                connection = Client(self._address(worker_id), family="AF_UNIX", authkey=self._key)
            connection.send((method, args))
            ok, value = connection.recv()
        except (EOFError, OSError) as exc:
            if connection is not None:
                connection.close()
            raise Gone(worker_id) from exc
        with self._guard:
            self._idle.setdefault(worker_id, []).append(connection)
        if not ok:
            raise value
        return value

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._guard:
            for connection in (c for idle in self._idle.values() for c in idle):
                connection.close()
            self._idle.clear()
        self._callers.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(OSError):
            os.close(self._dir)


def _key(directory: Path) -> bytes:
    """The processes' shared key, made by the first of them (written whole before it is seen)."""
    path = directory / "host.key"
    if not path.exists():
        draft = directory / f"host.key.{os.getpid()}"
        draft.write_bytes(secrets.token_bytes(32))
        draft.chmod(0o600)
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return path.read_bytes()
