"""`KernelContainer`: one hardened container running an ipykernel, and the host's client to it.

The kernel listens on ZMQ `ipc://` sockets in a host directory bind-mounted at /conn, so it needs
no network at all (`--network none`); under gVisor, runsc's `--host-uds=create` lets the host reach
those sockets. /mnt/data is a size-capped tmpfs volume that the host reads and writes at the
volume's mount point. This object owns the container's start, liveness, interrupt and removal.
"""

import asyncio
import json
import os
import queue
import secrets
import shutil
import tempfile
from pathlib import Path

import docker
import docker.errors
from docker.types import Ulimit
from jupyter_client.asynchronous import AsyncKernelClient

from sandbox.config import SandboxConfig
from sandbox.errors import SandboxUnavailable

LABEL = "assistd.sandbox"
OWNER_LABEL = "assistd.sandbox.owner"
KERNEL_OPTIONS = [
    "--IPKernelApp.matplotlib=inline",
    # In/Out and _ stay; only the history database (on the container's tmpfs, gone with it) is off:
    # writing it cost 0.7 ms of CPU per execution. The 0.5 ms sleep after each execution lets output
    # reach IOPub before the reply; sessions wait for IOPub's idle status instead, which comes last.
    "--HistoryManager.enabled=False",
    "--Kernel._execute_sleep=0",
]
KERNEL_CMD = ["python", "-m", "ipykernel_launcher", "-f", "/conn/kernel.json", *KERNEL_OPTIONS]
PORTS = {"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}
# gVisor's own threads and processes count against the container's pids limit (about 55 for an idle
# kernel here, against 12 under runc), so under runsc the limit grows by this much.
RUNSC_EXTRA_PIDS = 64


class KernelContainer:
    def __init__(self, client: docker.DockerClient, config: SandboxConfig, owner: str):
        self.client, self.config, self.owner = client, config, owner
        self.name = f"assistd-kernel-{secrets.token_hex(6)}"
        # UNIX socket paths must stay under ~100 bytes, so the socket dir lives in the temp dir.
        self.conn_dir = Path(tempfile.gettempdir()) / self.name
        self.container = None
        self.volume = None
        self.data_path: Path | None = None
        self.kc: AsyncKernelClient | None = None

    # Start

    def _run_container(self, key: str) -> None:
        config = self.config
        labels = {LABEL: "1", OWNER_LABEL: self.owner}
        if self.volume is None:
            self.volume = self.client.volumes.create(
                name=f"{self.name}-data",
                driver="local",
                labels=labels,
                driver_opts={
                    "type": "tmpfs",
                    "device": "tmpfs",
                    "o": f"size={config.data_bytes},uid=1000,gid=1000,mode=0755",
                },
            )
        shutil.rmtree(self.conn_dir, ignore_errors=True)
        self.conn_dir.mkdir(parents=True)
        os.chmod(self.conn_dir, 0o777)
        info = {
            **PORTS,
            "transport": "ipc",
            "ip": "/conn/kernel",
            "key": key,
            "signature_scheme": "hmac-sha256",
            "kernel_name": "python3",
        }
        (self.conn_dir / "kernel.json").write_text(json.dumps(info))
        self.container = self.client.containers.run(
            config.image,
            KERNEL_CMD,
            name=self.name,
            detach=True,
            user="1000:1000",
            network_mode="none",
            read_only=True,
            tmpfs={
                "/tmp": f"size={config.tmp_bytes},mode=1777",
                "/home/sandbox": "size=64m,uid=1000,gid=1000,mode=0700",
            },
            volumes={
                str(self.conn_dir): {"bind": "/conn", "mode": "rw"},
                self.volume.name: {"bind": "/mnt/data", "mode": "rw"},
            },
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=config.pids_limit + (RUNSC_EXTRA_PIDS if config.runtime == "runsc" else 0),
            mem_limit=config.memory_bytes,
            memswap_limit=config.memory_bytes,
            nano_cpus=int(config.cpus * 1e9),
            ulimits=[
                Ulimit(name="fsize", soft=config.file_bytes, hard=config.file_bytes),
                Ulimit(name="nofile", soft=1024, hard=1024),
            ],
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
        self.volume.reload()
        self.data_path = Path(self.volume.attrs["Mountpoint"])

    async def start(self) -> "KernelContainer":
        """Start the container and connect to its kernel; on any failure or cancellation (say, by a
        closing pool) nothing is left behind: no container, volume or open socket."""
        try:
            await self._start(secrets.token_hex(16))
        except BaseException:
            await self.remove()
            raise
        return self

    async def _start(self, key: str) -> None:
        run = asyncio.ensure_future(asyncio.to_thread(self._run_container, key))
        try:
            await asyncio.shield(run)  # a cancelled caller still waits for the container to exist
        except asyncio.CancelledError:
            await asyncio.gather(run, return_exceptions=True)
            raise
        except docker.errors.DockerException as exc:
            raise SandboxUnavailable(f"could not start a kernel container: {exc}") from exc
        self.kc = AsyncKernelClient()
        self.kc.load_connection_info(
            {
                **PORTS,
                "transport": "ipc",
                "ip": str(self.conn_dir / "kernel"),
                "key": key,
                "signature_scheme": "hmac-sha256",
            }
        )
        self.kc.start_channels(hb=False)
        problem = await self._wait_ready()
        if problem:
            logs = await asyncio.to_thread(self._logs)
            raise SandboxUnavailable(f"the kernel did not become ready: {problem}; container log: {logs}")

    async def _wait_ready(self) -> str | None:
        """Ask for kernel_info until the shell answers and IOPub is connected; the problem, if any.

        Liveness comes from the container's state, not the heartbeat: under gVisor or a loaded host a
        kernel can take longer than a heartbeat period to start, which is not death.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.start_timeout
        while loop.time() < deadline:
            self.kc.kernel_info()
            try:
                reply = await self.kc.get_shell_msg(timeout=0.5)
                if reply["msg_type"] == "kernel_info_reply":
                    # A status message on IOPub shows it is subscribed too (sessions skip stale ones).
                    await self.kc.get_iopub_msg(timeout=0.5)
                    return None
            except queue.Empty:
                pass
            if not await self.alive():
                return await self.exit_reason()
        return f"no answer in {self.config.start_timeout:g} s"

    def _logs(self) -> str:
        try:
            return self.container.logs(tail=20).decode(errors="replace")
        except docker.errors.DockerException:
            return ""

    # While running

    async def alive(self) -> bool:
        def check() -> bool:
            try:
                self.container.reload()
                return self.container.status == "running"
            except docker.errors.DockerException:
                return False

        return await asyncio.to_thread(check)

    async def exit_reason(self) -> str:
        def reason() -> str:
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

    # End

    async def stop_kernel(self) -> None:
        """Remove the container but keep /mnt/data, so a fresh kernel can start on the same files."""
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        container, self.container = self.container, None
        if container is not None:
            await asyncio.to_thread(_quietly, container.remove, force=True)

    async def restart(self) -> "KernelContainer":
        await self.stop_kernel()
        return await self.start()

    async def remove(self) -> None:
        await self.stop_kernel()
        volume, self.volume = self.volume, None
        if volume is not None:
            await asyncio.to_thread(_quietly, volume.remove, force=True)
        shutil.rmtree(self.conn_dir, ignore_errors=True)


def _quietly(fn, *args, **kwargs) -> None:
    try:
        fn(*args, **kwargs)
    except docker.errors.DockerException:
        pass


def reap(client: docker.DockerClient, owner: str) -> int:
    """Remove the containers and volumes `owner` left behind (an earlier process with the same data dir)."""
    mine = {"label": [LABEL, f"{OWNER_LABEL}={owner}"]}
    containers = client.containers.list(all=True, filters=mine)
    for container in containers:
        _quietly(container.remove, force=True)
    for volume in client.volumes.list(filters=mine):
        _quietly(volume.remove, force=True)
    return len(containers)
