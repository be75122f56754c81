"""`DockerProvider`: kernels in hardened local Docker containers; `DockerKernel`: one of them.

Nothing the code does reaches the host's disk: the root filesystem is read-only, every place the code
can write (/mnt/data, /tmp, /dev/shm, the home directory and /conn, the kernel's connection directory)
is a tmpfs volume of its own, capped in bytes and files, labelled with the container and removed with
it, and the container's log is capped too. The kernel listens on ZMQ `ipc://` sockets in /conn, so it
needs no network at all (`--network none`); under gVisor, runsc's `--host-uds=create` lets the host
reach them. The kernel writes its own connection file there (0600, random key) in a 0700 volume, both
the sandbox user's, under Docker's root-only directory: no other account on the host can read the key
or reach the sockets. The host reaches /conn and /mnt/data through `MountedDir`s.
"""

import asyncio
import hashlib
import json
import logging
import queue
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import NoReturn

import docker
import docker.errors
from docker.types import LogConfig, Ulimit
from jupyter_client.asynchronous import AsyncKernelClient

from sandbox.config import Limits, MiB, SandboxConfig, file_cap
from sandbox.errors import SandboxUnavailable
from sandbox.mounted_dir import MountedDir, NotMounted
from sandbox.provider import Kernel, Provider

log = logging.getLogger("assistd.sandbox")
LABEL = "assistd.sandbox"
OWNER_LABEL = "assistd.sandbox.owner"
USER = (1000, 1000)  # the image's sandbox user
KERNEL_OPTIONS = [
    "--IPKernelApp.matplotlib=inline",
    # In/Out and _ stay; only the history database (on the container's tmpfs, gone with it) is off:
    # writing it cost 0.7 ms of CPU per execution. The 0.5 ms sleep after each execution lets output
    # reach IOPub before the reply; sessions wait for IOPub's idle status instead, which comes last.
    "--HistoryManager.enabled=False",
    "--Kernel._execute_sleep=0",
]
PORTS = {"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}
# ipykernel's launcher with umask 077, so the sockets (and all the code writes) are the user's alone.
# Without a connection file to load, the kernel draws its own key and writes one once its sockets listen.
KERNEL_CMD = [
    "python",
    "-c",
    "import os; os.umask(0o077); from ipykernel.kernelapp import launch_new_instance; launch_new_instance()",
    "-f",
    "/conn/kernel.json",
    "--transport=ipc",
    "--ip=/conn/kernel",
    *(f"--{name.removesuffix('_port')}={port}" for name, port in PORTS.items()),
    *KERNEL_OPTIONS,
]
CONN_BYTES = 1 * MiB
# What the kernel's processes write to their stdout and stderr (ipykernel echoes cell output there) is
# Docker's container log, on the host's disk: one file, cut back to nothing past this size.
LOG_BYTES = 1 * MiB
# Each writable place's volume: its name suffix and its tmpfs options besides size and file cap.
VOLUMES = {
    "/mnt/data": ("data", "uid=1000,gid=1000,mode=0755,nosuid,nodev"),
    "/tmp": ("tmp", "mode=1777,nosuid,nodev,noexec"),
    "/dev/shm": ("shm", "mode=1777,nosuid,nodev,noexec"),
    "/home/sandbox": ("home", "uid=1000,gid=1000,mode=0700,nosuid,nodev,noexec"),
    "/conn": ("conn", "uid=1000,gid=1000,mode=0700,nosuid,nodev,noexec"),
}
# gVisor's own threads and processes count against the container's pids limit (about 55 for an idle
# kernel here, against 12 under runc), so under runsc the limit grows by this much.
RUNSC_EXTRA_PIDS = 64
# Connection directories of earlier versions, which lived in the host's temp dir.
LEGACY_CONN_PREFIX = "assistd-kernel-"


class DockerProvider(Provider):
    def __init__(self, config: SandboxConfig):
        self.config = config
        # Containers are labelled with their state dir, so a process reaps its own leftovers only.
        self.owner = owner_of(config.state_dir)
        self.client: docker.DockerClient | None = None

    async def open(self) -> None:
        try:
            self.client = await asyncio.to_thread(docker.from_env)
            await asyncio.to_thread(self.client.ping)
        except docker.errors.DockerException as exc:
            await self.close()
            raise SandboxUnavailable(f"no Docker engine answers: {exc}") from exc

    async def reap(self) -> int:
        return await asyncio.to_thread(reap, self.client, self.owner)

    def writable(self, limits: Limits) -> dict[str, int]:
        return {**limits.writable(), "/conn": CONN_BYTES}

    async def start(self, limits: Limits) -> "DockerKernel":
        kernel = DockerKernel(self, limits)
        await kernel.start()
        return kernel

    async def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


class DockerKernel(Kernel):
    def __init__(self, provider: DockerProvider, limits: Limits):
        self.provider, self.limits = provider, limits
        self.name = ""
        self.container = None
        self.volumes: list = []
        self.data: MountedDir | None = None
        self.conn: MountedDir | None = None
        self.client: AsyncKernelClient | None = None

    # Start

    def _run_container(self) -> None:
        config, client, limits = self.provider.config, self.provider.client, self.limits
        labels = {LABEL: "1", OWNER_LABEL: self.provider.owner}
        sizes = self.provider.writable(limits)
        binds, mountpoints = {}, {}
        for inside, size in sizes.items():
            suffix, options = VOLUMES[inside]
            options = f"size={size},nr_inodes={file_cap(size)},{options}"
            volume = client.volumes.create(
                name=f"{self.name}-{suffix}",
                driver="local",
                labels=labels,
                driver_opts={"type": "tmpfs", "device": "tmpfs", "o": options},
            )
            self.volumes.append(volume)
            binds[volume.name] = {"bind": inside, "mode": "rw"}
            mountpoints[inside] = volume.attrs["Mountpoint"]
        self.container = client.containers.run(
            config.image,
            KERNEL_CMD,
            name=self.name,
            detach=True,
            user=f"{USER[0]}:{USER[1]}",
            network_mode="none",
            read_only=True,
            volumes=binds,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=limits.pids_limit + (RUNSC_EXTRA_PIDS if config.runtime == "runsc" else 0),
            mem_limit=limits.memory_bytes,
            memswap_limit=limits.memory_bytes,
            nano_cpus=int(limits.cpus * 1e9),
            ulimits=[
                Ulimit(name="fsize", soft=limits.file_bytes, hard=limits.file_bytes),
                Ulimit(name="nofile", soft=1024, hard=1024),
                Ulimit(name="msgqueue", soft=0, hard=0),  # no POSIX message queues: memory outside any cap
                Ulimit(name="core", soft=0, hard=0),  # no core dumps, which a host's handler may keep on disk
            ],
            log_config=LogConfig(type="json-file", config={"max-size": str(LOG_BYTES), "max-file": "1"}),
            environment={
                "HOME": "/home/sandbox",
                "MPLBACKEND": "module://matplotlib_inline.backend_inline",
                "MPLCONFIGDIR": "/tmp/matplotlib",
                "PYTHONDONTWRITEBYTECODE": "1",
            },
            labels=labels,
            runtime=None if config.runtime == "runc" else config.runtime,
            working_dir="/mnt/data",
        )
        self.data = MountedDir(mountpoints["/mnt/data"], sizes["/mnt/data"], USER)
        self.conn = MountedDir(mountpoints["/conn"], sizes["/conn"], USER)

    async def start(self) -> None:
        """Start a container and connect to its kernel; on any failure or cancellation (say, by a
        closing pool) nothing is left behind: no container, volume or open socket."""
        self.name = f"assistd-kernel-{secrets.token_hex(6)}"
        try:
            await self._start()
        except BaseException:
            await self.remove()
            raise

    async def _start(self) -> None:
        run = asyncio.ensure_future(asyncio.to_thread(self._run_container))
        try:
            await asyncio.shield(run)  # a cancelled caller still waits for the container to exist
        except asyncio.CancelledError:
            await asyncio.gather(run, return_exceptions=True)
            raise
        except docker.errors.DockerException as exc:
            raise SandboxUnavailable(f"could not start a kernel container: {exc}") from exc
        except NotMounted as exc:  # the container stopped at once and Docker unmounted its volumes
            await self._fail(f"{exc} ({await self.exit_reason()})")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.provider.config.start_timeout
        key = await self._wait_connection_file(deadline)
        self.client = AsyncKernelClient()
        self.client.load_connection_info(
            {
                **PORTS,
                "transport": "ipc",
                "ip": f"{self.conn.path}/kernel",
                "key": key,
                "signature_scheme": "hmac-sha256",
            }
        )
        self.client.start_channels(hb=False)
        await self._wait_ready(deadline)

    async def _wait_connection_file(self, deadline: float) -> str:
        """The key from the connection file the kernel writes once its sockets listen."""
        loop = asyncio.get_running_loop()
        checked = loop.time()
        while loop.time() < deadline:
            try:
                return json.loads(self.conn.read("kernel.json"))["key"]
            except (FileNotFoundError, ValueError, KeyError):  # not there yet, or half written
                pass
            if loop.time() - checked > 0.5:
                checked = loop.time()
                if not await self.alive():
                    await self._fail(await self.exit_reason())
            await asyncio.sleep(0.01)
        await self._fail(f"no connection file in {self.provider.config.start_timeout:g} s")

    async def _wait_ready(self, deadline: float) -> None:
        """Ask for kernel_info until the shell answers and IOPub is connected.

        Liveness comes from the container's state, not the heartbeat: under gVisor or a loaded host a
        kernel can take longer than a heartbeat period to start, which is not death.
        """
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            self.client.kernel_info()
            try:
                reply = await self.client.get_shell_msg(timeout=0.5)
                if reply["msg_type"] == "kernel_info_reply":
                    # A status message on IOPub shows it is subscribed too (sessions skip stale ones).
                    await self.client.get_iopub_msg(timeout=0.5)
                    return
            except queue.Empty:
                pass
            if not await self.alive():
                await self._fail(await self.exit_reason())
        await self._fail(f"no answer in {self.provider.config.start_timeout:g} s")

    async def _fail(self, problem: str) -> NoReturn:
        logs = await asyncio.to_thread(self._logs)
        raise SandboxUnavailable(f"the kernel did not become ready: {problem}; container log: {logs}")

    def _logs(self) -> str:
        try:
            return self.container.logs(tail=20).decode(errors="replace")
        except docker.errors.DockerException:
            return ""

    # While running

    async def alive(self) -> bool:
        def check() -> bool:
            if self.container is None:  # removed
                return False
            try:
                self.container.reload()
                return self.container.status == "running"
            except docker.errors.DockerException:
                return False

        return await asyncio.to_thread(check)

    async def exit_reason(self) -> str:
        def reason() -> str:
            if self.container is None:  # removed
                return "the kernel container is gone"
            try:
                self.container.reload()
                state = self.container.attrs["State"]
            except docker.errors.DockerException:
                return "the kernel container is gone"
            if state.get("OOMKilled"):
                return "the kernel ran out of memory"
            return f"the kernel exited with code {state.get('ExitCode')}"

        return await asyncio.to_thread(reason)

    async def interrupt(self) -> None:
        def kill() -> None:
            try:
                self.container.kill(signal="SIGINT")
            except docker.errors.DockerException:
                pass

        await asyncio.to_thread(kill)

    # Files

    async def create_file(self, name: str, data: bytes) -> None:
        await asyncio.to_thread(self.data.create, name, data)

    async def read_file(self, path: str) -> bytes:
        return await asyncio.to_thread(self.data.read, path)

    async def remove_file(self, path: str) -> None:
        await asyncio.to_thread(self.data.remove, path)

    async def files(self) -> dict[str, tuple[int, int]]:
        return self.data.files()  # a few calls on a tmpfs: cheaper inline than through a thread

    # End

    async def restart(self) -> None:
        """A new container: the old one's tmpfs volumes, /mnt/data with them, go when it does."""
        await self.remove()
        await self.start()

    async def remove(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
            self.client = None
        container, self.container = self.container, None
        volumes, self.volumes = self.volumes, []
        for mounted in (self.data, self.conn):
            if mounted is not None:
                mounted.close()
        self.data = self.conn = None

        def remove_all() -> None:
            if container is not None:
                _quietly(container.remove, force=True)
            for volume in volumes:  # after their container, which holds them while it exists
                _quietly(volume.remove, force=True)

        await asyncio.to_thread(remove_all)


def _quietly(fn, *args, **kwargs) -> None:
    try:
        fn(*args, **kwargs)
    except docker.errors.DockerException:
        pass


def owner_of(state_dir: Path) -> str:
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]


def reap_leftovers(state_dir: Path) -> int:
    """Remove what the process that used `state_dir` left (it stopped): for a process that never
    started a pool of its own. Nothing when no Docker engine answers."""
    try:
        client = docker.from_env()
    except docker.errors.DockerException:
        return 0
    try:
        return reap(client, owner_of(state_dir))
    except docker.errors.DockerException:
        return 0
    finally:
        client.close()


def reap(client: docker.DockerClient, owner: str) -> int:
    """Remove the containers and volumes `owner` left behind (an earlier process with the same data
    dir), and connection directories earlier versions left in the host's temp dir; the container count."""
    mine = {"label": [LABEL, f"{OWNER_LABEL}={owner}"]}
    containers = client.containers.list(all=True, filters=mine)
    for container in containers:
        _quietly(container.remove, force=True)
    for volume in client.volumes.list(filters=mine):
        _quietly(volume.remove, force=True)
    _reap_legacy_conn_dirs(client)
    return len(containers)


def _reap_legacy_conn_dirs(client: docker.DockerClient) -> None:
    """Earlier versions kept each kernel's sockets in `<temp dir>/<container name>`, any owner's; one
    whose container is gone (and is not being made: older than a minute) is an orphan."""
    temp = Path(tempfile.gettempdir())
    dirs = [p for p in temp.glob(f"{LEGACY_CONN_PREFIX}*") if p.is_dir() and not p.is_symlink()]
    if not dirs:
        return
    live = {c.name for c in client.containers.list(all=True, filters={"label": LABEL})}
    for path in dirs:
        if path.name not in live and time.time() - path.lstat().st_mtime > 60:
            shutil.rmtree(path, ignore_errors=True)
            log.info("removed %s, the connection directory of a kernel gone since", path)
