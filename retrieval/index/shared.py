"""The embedded index shared by the processes on one data directory.

Qdrant Edge shards are files that one process at a time may open. `SharedIndex` gives every process
on a data directory the same index: the process holding the lock file `index.lock` (an flock, which
the OS frees when the process dies) opens the shards itself and serves them on the Unix socket
`index.sock` beside it; the other processes send it their calls there. When the owner goes away, the
next call of another process takes the lock and opens the shards (their write-ahead log keeps what
the owner had taken), and the others connect to the new owner.

A call is one length-prefixed pickle each way, on a connection per calling thread. The socket lets
only its owner's user in (mode 0600, set before it listens), as pickles must only come from this
user's own processes. Every write the index takes is idempotent (a point's id is fixed by its
file and chunk; deleting twice deletes once), so a call cut off by the owner's death is sent again.
"""

import contextlib
import fcntl
import os
import pickle
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from retrieval.errors import RetrievalError
from retrieval.index.base import Index

# The `Index` methods a process that does not own the index sends to the owner.
CALLS = frozenset(
    {
        "multivector",
        "upsert",
        "search",
        "score",
        "frequencies",
        "payloads",
        "file_points",
        "set_attributes",
        "delete_file",
        "delete_store",
        "has_store",
        "count",
        "flush",
    }
)
WAIT_FOR_OWNER = 15.0  # seconds a call waits for an owner to answer (one may be opening the shards)
_LENGTH = struct.Struct("!Q")


class SharedIndex:
    """An `Index` that is the local one (`open_local()`) in the owner process, and the owner's over
    its socket in the others."""

    def __init__(self, root: Path, open_local: Callable[[], Index]):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._open_local = open_local
        # A Unix socket's path is limited to 107 bytes; reaching the directory through a descriptor
        # of it keeps the address short wherever the data directory is.
        self._dir = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        self._address = f"/proc/self/fd/{self._dir}/index.sock"
        self._guard = threading.Lock()
        self._local: Index | None = None
        self._lock_file = None
        self._server: _Server | None = None
        self._connections = threading.local()
        self._take()

    @property
    def owner(self) -> bool:
        """Whether this process holds the index (and serves it to the others)."""
        return self._local is not None

    def __getattr__(self, name: str):
        if name not in CALLS:
            raise AttributeError(name)
        return partial(self._call, name)

    def _take(self) -> bool:
        """Become the owner if no process is; True if this process is the owner."""
        with self._guard:
            if self._local is not None:
                return True
            handle = open(self.root / "index.lock", "a+")  # noqa: SIM115 (the lock lives as long as it)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
            try:
                local = self._open_local()
                self._server = _Server(self._address, local)
            except BaseException:
                handle.close()
                raise
            self._lock_file, self._local = handle, local
            return True

    def _call(self, name: str, *args, **kwargs):
        if self._local is not None:
            return getattr(self._local, name)(*args, **kwargs)
        deadline = time.monotonic() + WAIT_FOR_OWNER
        while True:
            try:
                return self._ask(name, args, kwargs)
            except OSError as exc:  # no owner, or it went away mid-call
                self._disconnect()
                if self._take():
                    return getattr(self._local, name)(*args, **kwargs)
                if time.monotonic() > deadline:
                    raise RetrievalError("The vector index's owner process does not answer.") from exc
                time.sleep(0.02)

    def _ask(self, name: str, args: tuple, kwargs: dict):
        connection = getattr(self._connections, "socket", None)
        if connection is None:
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                connection.connect(self._address)
            except OSError:
                connection.close()
                raise
            self._connections.socket = connection
        _send(connection, (name, args, kwargs))
        ok, value = _receive(connection)
        if not ok:
            raise value
        return value

    def _disconnect(self) -> None:
        connection = getattr(self._connections, "socket", None)
        if connection is not None:
            connection.close()
            self._connections.socket = None

    def close(self) -> None:
        """Stop serving and close the shards (an owner); another process may then take the index."""
        self._disconnect()
        with self._guard:
            if self._server is not None:
                self._server.stop()
                self._server = None
            if self._local is not None:
                self._local.close()
                self._local = None
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None
        with contextlib.suppress(OSError):
            os.close(self._dir)


class _Server(socketserver.ThreadingUnixStreamServer):
    """The owner's side: one thread per connected caller, each call run on the local index."""

    daemon_threads = True

    def __init__(self, address: str, index: Index):
        self.index = index
        with contextlib.suppress(FileNotFoundError):
            os.unlink(address)  # a dead owner's socket
        super().__init__(address, _Handler, bind_and_activate=False)
        try:
            self.server_bind()
            os.chmod(address, 0o600)  # before it listens: no other user ever connects
            self.server_activate()
        except BaseException:
            self.server_close()
            raise
        self.address = address
        self._thread = threading.Thread(target=self.serve_forever, name="index-owner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.address)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        index = self.server.index
        while True:
            try:
                name, args, kwargs = _receive(self.request)
            except (OSError, EOFError):
                return
            try:
                if name not in CALLS:
                    raise AttributeError(name)
                reply = (True, getattr(index, name)(*args, **kwargs))
            except Exception as exc:
                reply = (False, exc)
            try:
                _send(self.request, reply)
            except (pickle.PicklingError, TypeError, AttributeError):
                _send(self.request, (False, RetrievalError(str(reply[1]))))
            except OSError:
                return


def _send(connection: socket.socket, message) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    connection.sendall(_LENGTH.pack(len(body)) + body)


def _receive(connection: socket.socket):
    (length,) = _LENGTH.unpack(_exactly(connection, _LENGTH.size))
    return pickle.loads(_exactly(connection, length))


def _exactly(connection: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = connection.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionResetError("the index owner closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
