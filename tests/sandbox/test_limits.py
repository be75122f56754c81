"""Faults and abuse stay inside one session: timeouts, crashes, bombs, floods, disk fill, expiry, limits."""

import asyncio

import pytest

import sandbox

NEIGHBOUR_CHECK = "print(sum(range(10)))"


async def with_neighbour(pool, attack: str, timeout: float = 20):
    """Run `attack` in one session while a neighbour keeps working; return both results."""
    await pool.execute("neighbour", "ready = True")
    attacked = asyncio.create_task(pool.execute("attacker", attack, timeout=timeout))
    await asyncio.sleep(1.0)
    during = await pool.execute("neighbour", NEIGHBOUR_CHECK, timeout=10)
    result = await attacked
    after = await pool.execute("neighbour", "print(ready)", timeout=10)
    return result, during, after


def neighbour_fine(during, after) -> bool:
    return during.stdout.strip() == "45" and after.stdout.strip() == "True"


def test_infinite_loop_times_out_and_session_survives(run_pool):
    async def body(pool):
        result, during, after = await with_neighbour(pool, "x = 5\nwhile True: pass", timeout=3)
        again = await pool.execute("attacker", "print(x)")
        return result, during, after, again

    result, during, after, again = run_pool(body)
    assert result.timed_out and result.error.name == "TimeoutError"
    assert neighbour_fine(during, after)
    assert again.stdout.strip() == "5" and not again.restarted  # interrupted, state kept


def test_a_long_execution_does_not_hold_its_turn(run_pool):
    """With a single CPU turn, a neighbour still runs while a long cell is going."""

    async def body(pool):
        await pool.execute("quick", "1")
        await pool.execute("slow", "1")
        slow = asyncio.create_task(pool.execute("slow", "import time; time.sleep(3); print('done')"))
        await asyncio.sleep(0.5)
        quick = await pool.execute("quick", NEIGHBOUR_CHECK, timeout=10)
        return quick, slow.done(), await slow

    quick, slow_done_by_then, slow = run_pool(body, exec_slots=1)
    assert quick.stdout.strip() == "45" and not slow_done_by_then
    assert slow.stdout.strip() == "done"


def test_crash_restarts_the_kernel(run_pool):
    async def body(pool):
        await pool.execute("s", "x = 1")
        crash = await pool.execute("s", "import os; os._exit(3)")
        after = await pool.execute("s", "print('alive'); print('x' in globals())")
        return crash, after

    crash, after = run_pool(body)
    assert crash.restarted and crash.error.name == "KernelDied" and "lost" in crash.error.value
    assert after.stdout.split() == ["alive", "False"]


def test_memory_bomb_is_killed_and_neighbour_is_fine(run_pool):
    async def body(pool):
        return await with_neighbour(pool, "blocks = []\nwhile True: blocks.append(bytearray(50 * 2**20))")

    result, during, after = run_pool(body, memory_bytes=256 * 1024 * 1024)
    assert result.restarted or (result.error and result.error.name == "MemoryError")
    assert neighbour_fine(during, after)


def test_fork_bomb_is_contained(run_pool, runtime):
    bomb = (
        "import os, time\n"
        "children = 0\n"
        "try:\n"
        "    for _ in range(10000):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30); os._exit(0)\n"
        "        children += 1\n"
        "except OSError as e:\n"
        "    print('stopped after', children, type(e).__name__)\n"
    )

    async def body(pool):
        return await with_neighbour(pool, bomb, timeout=20)

    result, during, after = run_pool(body, pids_limit=64)
    if runtime == "runc":
        assert "stopped after" in result.stdout
        assert int(result.stdout.split()[2]) < 64
    else:  # gVisor's ptrace platform spends host pids on the sandbox itself: it dies and is replaced
        assert "stopped after" in result.stdout or result.restarted
    assert neighbour_fine(during, after)


def test_disk_fill_is_capped(run_pool):
    fill = (
        "n = 0\n"
        "try:\n"
        "    with open('/mnt/data/big.bin', 'wb') as f:\n"
        "        while True:\n"
        "            f.write(b'x' * 2**20); n += 1\n"
        "except OSError as e:\n"
        "    print('stopped at', n, 'MiB', type(e).__name__)\n"
    )

    async def body(pool):
        return await with_neighbour(pool, fill)

    result, during, after = run_pool(body, data_bytes=64 * 1024 * 1024)
    assert "stopped at" in result.stdout and int(result.stdout.split()[2]) <= 64
    assert neighbour_fine(during, after)


def test_an_upload_larger_than_data_is_a_clear_error(run_pool):
    async def body(pool):
        with pytest.raises(sandbox.SandboxError) as err:
            await pool.put_file("s", "big.bin", b"x" * (5 * 2**20))
        return str(err.value), await pool.list_files("s")

    message, listing = run_pool(body, data_bytes=4 * 2**20)
    assert "ASSISTD_SANDBOX_DATA_BYTES" in message and listing == {}  # nothing half-written left


def test_output_flood_is_truncated(run_pool):
    async def body(pool):
        return await with_neighbour(pool, "for i in range(300000): print('flood line', i)")

    result, during, after = run_pool(body)
    assert len(result.stdout) < 70 * 1024 and "output truncated" in result.stdout
    assert neighbour_fine(during, after)


def test_idle_sessions_expire(run_pool):
    async def body(pool):
        await pool.execute("s", "x = 1")
        kernel = pool._sessions["s"].kernel
        await asyncio.sleep(3)
        removed = not pool.has_session("s") and not await kernel.alive()
        return removed, await pool.execute("s", "print('x' in globals())")

    removed, fresh = run_pool(body, idle_timeout=1.0)
    assert removed and fresh.stdout.strip() == "False"


def test_session_limit(run_pool):
    async def body(pool):
        await pool.execute("a", "1")
        await pool.execute("b", "1")
        with pytest.raises(sandbox.SessionLimitError) as err:
            await pool.execute("c", "1")
        await pool.close_session("a")
        ok = await pool.execute("c", "print('c')")
        return str(err.value), ok

    message, ok = run_pool(body, max_sessions=2)
    assert "ASSISTD_SANDBOX_MAX_SESSIONS" in message and ok.stdout.strip() == "c"


def test_interrupt_stops_a_running_execution(run_pool):
    async def body(pool):
        await pool.execute("s", "v = 7")  # the session's kernel is up, so the next cell starts at once
        task = asyncio.create_task(pool.execute("s", "import time\ntime.sleep(60)"))
        await asyncio.sleep(1)
        await pool.interrupt("s")
        result = await asyncio.wait_for(task, 10)
        return result, await pool.execute("s", "print(v)")

    result, after = run_pool(body)
    assert result.error.name == "KeyboardInterrupt" and after.stdout.strip() == "7"


def test_warm_pool_hands_out_started_kernels(kernel_image, tmp_path):
    async def main():
        pool = sandbox.SessionPool(sandbox.SandboxConfig.from_env(tmp_path, kernel_image, warm_pool=1))
        await pool.start()
        try:
            for _ in range(300):  # the warm kernel starts in the background
                if pool._warm:
                    break
                await asyncio.sleep(0.1)
            prestarted = [kernel.name for kernel in pool._warm]
            result = await pool.execute("new-thread", "print('first')")
            return prestarted, result, pool._sessions["new-thread"].kernel.name
        finally:
            await pool.close()

    prestarted, result, used = asyncio.run(main())
    assert result.stdout.strip() == "first"
    assert prestarted == [used]  # the session got the kernel started before it was asked for
