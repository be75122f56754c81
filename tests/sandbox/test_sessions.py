"""Sessions in real containers: state, isolation, outputs, files, hardening."""

import asyncio
import gc

import pytest

import sandbox


def test_state_persists_within_a_session_and_not_across(run_pool):
    async def body(pool):
        await pool.execute("a", "secret = 41")
        await pool.execute("a", "secret + 1")
        mine = await pool.execute("a", "print(_, In[-2])")  # IPython's _ and In keep working
        other = await pool.execute("b", "print(secret)")
        return mine, other

    mine, other = run_pool(body)
    assert mine.stdout.strip() == "42 secret + 1" and mine.error is None
    assert other.error.name == "NameError" and "secret" in other.error.value
    assert any("NameError" in line for line in other.error.traceback)
    assert "\x1b[" not in "".join(other.error.traceback)


def test_outputs_stdout_stderr_result_and_png(run_pool):
    code = (
        "import sys, matplotlib.pyplot as plt\n"
        "print('hello'); print('careful', file=sys.stderr)\n"
        "plt.plot([1, 2, 3], [3, 1, 2]); plt.title('t'); plt.show()\n"
        "6 * 7"
    )
    result = run_pool(lambda pool: pool.execute("s", code))
    assert "hello" in result.stdout and "42" in result.stdout
    assert "careful" in result.stderr
    assert len(result.images) == 1 and result.images[0].startswith(b"\x89PNG")


def test_file_in_and_file_out(run_pool):
    async def body(pool):
        path = await pool.put_file("s", "data.csv", b"x\n1\n2\n")
        again = await pool.put_file("s", "data.csv", b"x\n5\n")
        result = await pool.execute(
            "s",
            (
                "import pandas as pd\n"
                "df = pd.read_csv('/mnt/data/data.csv')\n"
                "df.assign(y=df.x * 10).to_csv('/mnt/data/out.csv', index=False)\n"
                "print(open('/mnt/data/data (1).csv').read().split())"
            ),
        )
        out = await pool.read_file("s", "/mnt/data/out.csv")
        return path, again, result, out, await pool.list_files("s")

    path, again, result, out, listing = run_pool(body)
    assert (path, again) == ("/mnt/data/data.csv", "/mnt/data/data (1).csv")
    assert result.error is None and "'5'" in result.stdout
    assert result.files == ["/mnt/data/out.csv"]
    assert out.decode().split() == ["x,y", "1,10", "2,20"]
    assert listing == {"/mnt/data/data (1).csv": 4, "/mnt/data/data.csv": 6, "/mnt/data/out.csv": 14}


def test_files_are_removed_without_following_links(run_pool, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")

    async def body(pool):
        await pool.put_file("s", "gone.txt", b"x")
        await pool.execute("s", f"import os; os.symlink({str(victim)!r}, '/mnt/data/link')")
        await pool.remove_file("s", "/mnt/data/gone.txt")
        with pytest.raises(FileNotFoundError):
            await pool.remove_file("s", "/mnt/data/link")  # a link is no file of the session's
        with pytest.raises(PermissionError):
            await pool.remove_file("s", "/mnt/data/../etc/passwd")
        return await pool.list_files("s")

    assert run_pool(body) == {} and victim.read_text() == "keep"


def test_a_session_opened_with_its_own_limits_and_no_idle_expiry(run_pool, docker_client):
    async def body(pool):
        kept = await pool.open("kept", sandbox.Limits(memory_bytes=768 * 2**20), expire_idle=False)
        await pool.execute("idle", "1")
        await asyncio.sleep(3)  # past the idle timeout: the pool ends "idle" only
        ran = await pool.execute("kept", "print(1)")
        memory = docker_client.containers.get(kept.kernel.name).attrs["HostConfig"]["Memory"]
        return pool.has_session("kept"), pool.has_session("idle"), ran.stdout, memory

    kept, idle, ran, memory = run_pool(body, idle_timeout=1.0)
    assert kept and not idle and ran == "1\n" and memory == 768 * 2**20


def test_read_outside_data_is_refused(run_pool):
    async def body(pool):
        await pool.execute("s", "1")
        try:
            await pool.read_file("s", "/mnt/data/../../etc/passwd")
        except PermissionError as exc:
            return str(exc)

    assert "outside /mnt/data" in run_pool(body)


def test_hardening_seen_from_inside(run_pool, monkeypatch):
    monkeypatch.setenv("ASSISTD_TEST_HOST_SECRET", "hunter2")
    code = (
        "import os, socket\n"
        "print('uid', os.getuid())\n"
        "print('secret', os.environ.get('ASSISTD_TEST_HOST_SECRET'))\n"
        "print('docker_sock', os.path.exists('/var/run/docker.sock') or os.path.exists('/run/docker.sock'))\n"
        "try:\n    open('/etc/hacked', 'w')\nexcept OSError as e:\n    print('rootfs', type(e).__name__)\n"
        "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2); print('net open')\n"
        "except OSError as e:\n    print('net', type(e).__name__)\n"
        "print('ifaces', sorted(n for _, n in socket.if_nameindex()))\n"
    )
    out = run_pool(lambda pool: pool.execute("s", code)).stdout
    assert "uid 1000" in out
    assert "secret None" in out
    assert "docker_sock False" in out
    assert "rootfs OSError" in out or "rootfs PermissionError" in out
    assert "net open" not in out and "ifaces ['lo']" in out


# docker-py leaks a socket inside `from_env` when the engine is unreachable; that is its bug, not ours
# (collected here, under this test's filter, rather than at the end of the session).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_docker_unreachable_is_a_clear_error(kernel_image, tmp_path, monkeypatch):
    import sandbox

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")

    async def main():
        pool = sandbox.SessionPool(sandbox.SandboxConfig.from_env(tmp_path, kernel_image))
        try:
            await pool.start()
        except sandbox.SandboxUnavailable as exc:
            return str(exc)

    assert "no Docker engine" in asyncio.run(main())
    gc.collect()
