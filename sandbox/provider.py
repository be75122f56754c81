"""The seam between sessions and the place their kernels run.

A `Provider` starts `Kernel`s: one Jupyter kernel each, in an environment of its own with the
`Limits` it was started with and a /mnt/data beside it. The pool and its sessions use nothing but
these two interfaces and the kernel's `client`, so another place to run kernels (a pod per session,
reached through a kernel shim over HTTP) is one more provider beside `DockerProvider`, and the
containment tests run against it unchanged.
"""

import abc
from typing import Protocol

from sandbox.config import Limits


class KernelClient(Protocol):
    """The part of jupyter_client's `AsyncKernelClient` that sessions use."""

    def execute(self, code: str, **options) -> str: ...
    def kernel_info(self) -> str: ...
    async def get_iopub_msg(self, timeout: float | None = None) -> dict: ...
    async def get_shell_msg(self, timeout: float | None = None) -> dict: ...


class Kernel(abc.ABC):
    """One started kernel and its files, as a session sees it.

    File paths are relative to /mnt/data ("out.csv", "plots/a.png"), already checked by the session
    to stay inside it. The code in the kernel owns those files: a provider reads and writes them
    without following anything the code could have put there (links, FIFOs), and reports what is
    missing or not a regular file as `FileNotFoundError`.
    """

    name: str
    client: KernelClient

    @abc.abstractmethod
    async def alive(self) -> bool: ...

    @abc.abstractmethod
    async def exit_reason(self) -> str:
        """Why the kernel stopped, in words for the user ("the kernel ran out of memory")."""

    @abc.abstractmethod
    async def interrupt(self) -> None: ...

    @abc.abstractmethod
    async def restart(self) -> None:
        """Replace the kernel by a fresh one with the same limits; its state and files may be lost."""

    @abc.abstractmethod
    async def remove(self) -> None:
        """Stop the kernel and free everything it held; safe to call twice."""

    @abc.abstractmethod
    async def create_file(self, name: str, data: bytes) -> None:
        """Write a new file; `FileExistsError` if anything has that name already."""

    @abc.abstractmethod
    async def read_file(self, path: str) -> bytes: ...

    @abc.abstractmethod
    async def remove_file(self, path: str) -> None: ...

    @abc.abstractmethod
    async def files(self) -> dict[str, tuple[int, int]]:
        """Every regular file under /mnt/data: relative path -> (mtime in ns, size)."""


class Provider(abc.ABC):
    """Starts kernels and cleans up after them."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Reach the backend; `SandboxUnavailable` when it does not answer."""

    @abc.abstractmethod
    async def reap(self) -> int:
        """Remove the kernels, and all they held, that an earlier process of this server left behind."""

    @abc.abstractmethod
    async def start(self, limits: Limits) -> Kernel:
        """A started kernel, ready to execute; `SandboxUnavailable` if it cannot be had."""

    @abc.abstractmethod
    def writable(self, limits: Limits) -> dict[str, int]:
        """Every place a kernel started with `limits` can write, with its size in bytes; each holds at
        most `file_cap(size)` files. `limits.writable()` plus whatever the provider itself needs."""

    @abc.abstractmethod
    async def close(self) -> None: ...
