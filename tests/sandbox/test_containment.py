"""The containment battery, seen from inside the sandbox and through the pool, so it holds for any provider.

Every place the code can write is one the provider declares, capped in bytes and in files (read with
statvfs, then filled with one big file and with many small ones); the code holds no privilege (no
setuid program, no capability, no core dump; no-new-privileges and seccomp on); it sees no process
but its own; and links or FIFOs it lays in /mnt/data never lead the host's file operations out of it.
"""

import asyncio
import errno
import json

import pytest

from sandbox.config import MiB, file_cap

# Small places, so that filling them is quick; /conn, the Docker provider's own, stays 1 MiB.
SMALL = {"data_bytes": 4 * MiB, "tmp_bytes": 4 * MiB, "shm_bytes": 2 * MiB, "home_bytes": 4 * MiB}
PAGE = 4096

MOUNTS = r"""
import json, os, stat
found = []
for line in open("/proc/self/mountinfo"):
    fields = line.split()
    path = fields[4].replace("\\040", " ")
    if "rw" not in fields[5].split(","):
        continue
    entry = {"path": path}
    try:
        st = os.statvfs(path)
        entry.update(bytes=st.f_blocks * st.f_frsize, files=st.f_files)
    except OSError:
        pass
    if os.path.isdir(path):
        try:
            os.close(os.open(os.path.join(path, ".probe"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            os.unlink(os.path.join(path, ".probe"))
            entry["writable"] = True
        except OSError:
            entry["writable"] = False
    else:  # a file mounted over another, as /proc/keys is masked with /dev/null
        entry["writable"] = os.access(path, os.W_OK)
        entry["device"] = stat.S_ISCHR(os.stat(path).st_mode)
    found.append(entry)
print(json.dumps(found))
"""

FILL = r"""
import json, os

def fill(place):
    written, big = 0, os.path.join(place, "big.bin")
    try:
        with open(big, "wb", buffering=0) as f:
            while True:
                written += f.write(b"x" * 2**20)
    except OSError as e:
        big_error = e.errno
    os.unlink(big)
    made = []
    try:
        while True:
            with open(os.path.join(place, f"small-{len(made)}"), "wb") as f:
                made.append(f.name)
                f.write(b"x")
    except OSError as e:
        small_error = e.errno
    for name in made:
        os.unlink(name)
    return {"bytes": written, "big_error": big_error, "files": len(made), "small_error": small_error}

print(json.dumps({place: fill(place) for place in PLACES}))
"""

PRIVILEGES = r"""
import ctypes, json, os, resource, stat
libc = ctypes.CDLL(None, use_errno=True)
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
setuid, file_caps = [], []
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev")]
    for name in files:
        path = os.path.join(root, name)
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode) and mode & (stat.S_ISUID | stat.S_ISGID):
            setuid.append(path)
        if stat.S_ISREG(mode) and mode & 0o111:
            try:
                os.getxattr(path, "security.capability", follow_symlinks=False)
                file_caps.append(path)
            except OSError:
                pass
print(json.dumps({
    "caps": {k: int(v, 16) for k, v in status.items() if k.startswith("Cap")},
    "no_new_privs": libc.prctl(39, 0, 0, 0, 0),  # PR_GET_NO_NEW_PRIVS
    "seccomp": libc.prctl(21, 0, 0, 0, 0),  # PR_GET_SECCOMP
    "setuid": setuid,
    "file_caps": file_caps,
    "hard_limits": {n: resource.getrlimit(getattr(resource, f"RLIMIT_{n}"))[1] for n in ("CORE", "MSGQUEUE")},
}))
"""

PROCESSES = r"""
import json, os
seen = {}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        ppid = int(next(l for l in open(f"/proc/{pid}/status") if l.startswith("PPid:")).split()[1])
    except (OSError, StopIteration):
        continue
    seen[int(pid)] = {"cmdline": cmdline, "ppid": ppid}
print(json.dumps(seen))
"""


def inside(result) -> dict | list:
    assert result.error is None, result.error
    return json.loads(result.stdout)


def test_every_writable_place_is_declared_and_capped(run_pool):
    async def body(pool):
        found = inside(await pool.execute("s", MOUNTS))
        return found, pool.provider.writable(pool.config.limits)

    found, declared = run_pool(body, **SMALL)
    writable = {e["path"]: e for e in found if e["writable"] and "device" not in e}
    assert set(writable) == set(declared)  # nothing writable beyond the declared places
    for path, size in declared.items():
        assert size <= writable[path]["bytes"] < size + PAGE, path
        assert writable[path]["files"] == file_cap(size), path
    # Files mounted over others (masked /proc entries) may be writable only as character devices.
    assert all(e["device"] for e in found if "device" in e and e["writable"])


def test_no_place_takes_more_than_its_bytes_or_files(run_pool):
    async def body(pool):
        declared = pool.provider.writable(pool.config.limits)
        filled = inside(await pool.execute("s", f"PLACES = {sorted(declared)!r}\n{FILL}", timeout=120))
        after = await pool.execute("s", "print('still here')")
        return declared, filled, after

    declared, filled, after = run_pool(body, **SMALL)
    for path, size in declared.items():
        one = filled[path]
        assert one["big_error"] == errno.ENOSPC and size / 2 < one["bytes"] <= size, (path, one)
        assert one["small_error"] == errno.ENOSPC, (path, one)
        # The root and what the kernel keeps there (its sockets, IPython's profile) take a few.
        assert file_cap(size) - 40 < one["files"] < file_cap(size), (path, one)
    assert after.stdout.strip() == "still here"


def test_the_code_holds_no_privilege(run_pool, runtime):
    found = inside(run_pool(lambda pool: pool.execute("s", PRIVILEGES, timeout=120)))
    assert found["setuid"] == [] and found["file_caps"] == []
    assert found["caps"] and all(value == 0 for value in found["caps"].values()), found["caps"]
    assert found["no_new_privs"] == 1
    assert found["hard_limits"] == {"CORE": 0, "MSGQUEUE": 0}  # no core files, no message queues
    # Under gVisor the code's system calls reach gVisor's kernel, not the host's; gVisor runs under
    # seccomp on the host (tests/sandbox/test_docker_provider.py checks the process from outside).
    assert found["seccomp"] == 2 or runtime == "runsc"


def test_no_other_process_is_visible(run_pool):
    marker = "assistd-neighbour-marker"

    async def body(pool):
        sleeper = f"[sys.executable, '-c', 'import time; time.sleep(60)', {marker!r}]"
        await pool.execute("neighbour", f"import subprocess, sys\np = subprocess.Popen({sleeper})")
        seen = inside(await pool.execute("s", PROCESSES))
        return seen, inside(await pool.execute("s", "print(os.getpid())"))

    seen, own = run_pool(body)
    seen = {int(pid): info for pid, info in seen.items()}
    assert not any(marker in p["cmdline"] or "pytest" in p["cmdline"] for p in seen.values())
    assert "launch_new_instance" in seen[1]["cmdline"]  # pid 1 is this sandbox's kernel
    for pid in seen:  # and every process descends from it
        while pid != 1:
            pid = seen[pid]["ppid"]
            assert pid in seen
    assert own in seen


def test_links_and_fifos_in_data_never_lead_the_host_out(run_pool, tmp_path):
    victim = tmp_path / "victim.csv"  # a host path the code names, hoping the host writes there
    lay = (
        "import os\n"
        "os.symlink('/etc/passwd', '/mnt/data/passwd.txt')\n"
        "os.symlink('/', '/mnt/data/root')\n"
        f"os.symlink({str(victim)!r}, '/mnt/data/upload.csv')\n"
        "os.mkfifo('/mnt/data/pipe')\n"
        "deep = '/mnt/data/deep' + '/d' * 100\n"
        "os.makedirs(deep); open(deep + '/bottom.txt', 'w').write('x')\n"
        "open('/mnt/data/plain.txt', 'w').write('plain')\n"
    )

    async def body(pool):
        laid = await pool.execute("s", lay)
        refused = []
        for path in ("/mnt/data/passwd.txt", "/mnt/data/root/etc/passwd", "/mnt/data/pipe", "/mnt/data/deep"):
            with pytest.raises(FileNotFoundError):
                await asyncio.wait_for(pool.read_file("s", path), 10)
            refused.append(path)
        placed = await pool.put_file("s", "upload.csv", b"a,b\n")
        return laid, refused, placed, await pool.list_files("s"), await pool.read_file("s", "plain.txt")

    laid, refused, placed, listing, plain = run_pool(body)
    assert laid.error is None and laid.files == ["/mnt/data/plain.txt"]  # links and FIFOs are not files
    assert len(refused) == 4
    assert placed == "/mnt/data/upload (1).csv" and not victim.exists()
    assert list(listing) == ["/mnt/data/plain.txt", "/mnt/data/upload (1).csv"]
    assert plain == b"plain"
