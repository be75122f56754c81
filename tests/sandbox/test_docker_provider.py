"""The Docker provider seen from the host: what the code writes stays in the container's capped tmpfs
volumes and capped log, the kernel's connection files are the sandbox user's alone, the processes
Docker starts run under seccomp and no-new-privileges, the containers carry their labels and limits,
a pool closed while kernels start leaves none of them, and whatever an earlier process left
(containers, volumes, connection directories) is reaped at start-up."""

import asyncio
import gc
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sandbox import SandboxConfig, SessionPool
from sandbox.config import MiB
from sandbox.docker_provider import CONN_BYTES, LEGACY_CONN_PREFIX, LOG_BYTES, RUNSC_EXTRA_PIDS

SPRAY = r"""
import json, os
written = []
places = {line.split()[4] for line in open("/proc/self/mountinfo")}
places |= {"/", "/etc", "/opt", "/opt/kernel", "/root", "/run", "/srv", "/usr/local", "/var/tmp", "/var/lib"}
places |= {os.getcwd(), os.path.expanduser("~")}
for place in sorted(places):
    try:
        with open(os.path.join(place, MARKER), "w") as f:
            f.write("x")
        written.append(place)
    except OSError:
        pass
print(json.dumps(sorted(written)))
"""
FLOOD = "import os\nfor _ in range(64):\n    os.write(1, b'x' * 2**16)"  # 4 MiB to the container's stdout


def kernel_of(pool, key: str):
    return pool._sessions[key].kernel


def names_under(root: Path, name: str) -> list[str]:
    """Paths under `root` (not crossing into other mounts) whose name contains `name`."""
    found = []
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not os.path.ismount(os.path.join(top, d))]
        found += [os.path.join(top, n) for n in dirs + files if name in n]
    return found


def test_nothing_written_inside_reaches_the_host_disk(run_pool, docker_client, tmp_path):
    marker = f"assistd-leak-{os.getpid()}-{time.monotonic_ns()}"

    async def body(pool):
        written = await pool.execute("s", f"MARKER = {marker!r}\n{SPRAY}")
        await pool.execute("s", FLOOD)
        kernel = kernel_of(pool, "s")
        container = docker_client.containers.get(kernel.name)
        volumes = {m["Destination"]: Path(m["Source"]) for m in container.attrs["Mounts"]}
        in_volumes = {inside: (source / marker).exists() for inside, source in volumes.items()}
        graph = container.attrs["GraphDriver"]["Data"]
        docker_root = Path(docker_client.info()["DockerRootDir"])
        elsewhere = []
        for root in (
            Path(graph["UpperDir"]).parent,  # the writable layer and overlayfs' work dir
            docker_root / "containers" / container.id,
            docker_root / "volumes",  # the disk under each volume, not the tmpfs mounted on it
            Path(tempfile.gettempdir()),
            tmp_path,
        ):
            elsewhere += names_under(root, marker)
        log_bytes = os.path.getsize(container.attrs["LogPath"])
        declared = pool.provider.writable(pool.config.limits)
        return written, declared, in_volumes, elsewhere, log_bytes, kernel.name

    written, declared, in_volumes, elsewhere, log_bytes, name = run_pool(body)
    assert json.loads(written.stdout) == sorted(declared)  # the code could write in its declared places only
    assert all(in_volumes[place] for place in declared)  # where the host does see it
    assert elsewhere == []
    assert log_bytes < LOG_BYTES + 64 * 1024  # the container's log: one capped file
    assert not any(name in entry for entry in os.listdir(tempfile.gettempdir()))


def test_connection_files_are_the_sandbox_users_alone(run_pool, docker_client):
    async def body(pool):
        await pool.execute("s", "1")
        container = docker_client.containers.get(kernel_of(pool, "s").name)
        conn = Path(next(m["Source"] for m in container.attrs["Mounts"] if m["Destination"] == "/conn"))
        # No other account can even reach it if some directory above it shuts them out.
        shut = any(not os.stat(parent).st_mode & stat.S_IXOTH for parent in conn.parents)
        return os.stat(conn), {p.name: p.lstat() for p in conn.iterdir()}, os.statvfs(conn), shut

    root, entries, statvfs, shut_out = run_pool(body)
    assert statvfs.f_blocks * statvfs.f_frsize == CONN_BYTES  # its own capped tmpfs
    assert (root.st_uid, root.st_mode & 0o777) == (1000, 0o700)  # jupyter_client adds the sticky bit
    assert (entries["kernel.json"].st_uid, stat.S_IMODE(entries["kernel.json"].st_mode)) == (1000, 0o600)
    sockets = {name for name, st in entries.items() if stat.S_ISSOCK(st.st_mode)}
    assert sockets == {f"kernel-{n}" for n in range(1, 6)}
    assert all(st.st_uid == 1000 and st.st_mode & 0o077 == 0 for st in entries.values())
    assert shut_out


def test_docker_starts_the_sandbox_under_seccomp_and_no_new_privileges(run_pool, docker_client):
    """The process Docker starts: the kernel under runc, gVisor's sandbox (its kernel) under runsc."""

    async def body(pool):
        await pool.execute("s", "1")
        pid = docker_client.containers.get(kernel_of(pool, "s").name).attrs["State"]["Pid"]
        return dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())

    status = run_pool(body)
    assert status["NoNewPrivs"].strip() == "1" and status["Seccomp"].strip() == "2"


def test_containers_carry_our_labels_and_limits(run_pool, docker_client, runtime):
    async def body(pool):
        await pool.execute("s", "1")
        return docker_client.containers.get(kernel_of(pool, "s").name), pool.provider.owner

    container, owner = run_pool(body, memory_bytes=512 * MiB, pids_limit=64)
    host = container.attrs["HostConfig"]
    assert container.labels["assistd.sandbox.owner"] == owner
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"][0]
    extra = RUNSC_EXTRA_PIDS if runtime == "runsc" else 0  # room for gVisor's own threads
    assert host["Memory"] == 512 * MiB and host["PidsLimit"] == 64 + extra
    assert {u["Name"]: u["Hard"] for u in host["Ulimits"]}["msgqueue"] == 0
    # Every mount is one of its tmpfs volumes: no host directory, no Docker tmpfs without a file cap.
    assert not host.get("Tmpfs") and all(m["Type"] == "volume" for m in container.attrs["Mounts"])
    assert container.attrs["Config"]["User"] == "1000:1000"


def test_orphans_from_an_earlier_process_are_reaped(run_pool, kernel_image, tmp_path, docker_client):
    earlier_process = (  # starts a session, then dies without cleaning up
        "import asyncio, os, sys, sandbox\n"
        "async def main():\n"
        "    config = sandbox.SandboxConfig.from_env(sys.argv[1], sys.argv[2], warm_pool=0)\n"
        "    pool = sandbox.SessionPool(config)\n"
        "    await pool.start()\n"
        "    await pool.execute('s', '1')\n"
        "    print(pool.provider.owner, flush=True)\n"
        "    os._exit(0)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", earlier_process, str(tmp_path / "state"), kernel_image],
        capture_output=True,
        text=True,
        timeout=120,
    )
    owner = done.stdout.strip()
    assert owner, done.stderr
    mine = {"label": f"assistd.sandbox.owner={owner}"}
    assert len(docker_client.containers.list(filters=mine)) == 1
    assert len(docker_client.volumes.list(filters=mine)) == 5
    # Earlier versions kept connection directories in the temp dir: an old orphan goes, a new one stays.
    temp = Path(tempfile.gettempdir())
    orphan, young = (temp / f"{LEGACY_CONN_PREFIX}{os.urandom(6).hex()}" for _ in range(2))
    for path in (orphan, young):
        path.mkdir()
        (path / "kernel.json").write_text("{}")
    os.utime(orphan, (time.time() - 600, time.time() - 600))

    async def body(pool):
        return docker_client.containers.list(all=True, filters=mine)

    try:
        assert run_pool(body) == []
        assert docker_client.volumes.list(filters=mine) == []
        assert not orphan.exists() and young.exists()
    finally:
        for path in (orphan, young):
            if path.exists():
                (path / "kernel.json").unlink()
                path.rmdir()


def test_closing_while_kernels_start_leaves_nothing(kernel_image, tmp_path, docker_client):
    async def main():
        pool = SessionPool(SandboxConfig.from_env(tmp_path, kernel_image, warm_pool=2))
        await pool.start()
        mine = {"label": f"assistd.sandbox.owner={pool.provider.owner}"}
        for _ in range(100):  # close once the containers exist, before their kernels answer
            if docker_client.containers.list(filters=mine):
                break
            await asyncio.sleep(0.05)
        await pool.close()
        return mine

    mine = asyncio.run(main())
    gc.collect()  # an unclosed kernel client would warn here (warnings are errors)
    assert docker_client.containers.list(all=True, filters=mine) == []
    assert docker_client.volumes.list(filters=mine) == []
