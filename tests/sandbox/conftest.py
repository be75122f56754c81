"""Sandbox fixtures: the kernel image (built once, a no-op after) and a pool factory."""

import asyncio
from pathlib import Path

import pytest

import sandbox

CACHE = Path.home() / ".cache" / "assistd"


@pytest.fixture(scope="session")
def kernel_image(docker_client) -> str:
    return sandbox.ensure_image(CACHE, lambda line: print("image:", line))


@pytest.fixture
def run_pool(kernel_image, tmp_path):
    """`run_pool(body, **limits)` runs `await body(pool)` with a started pool, then closes it."""

    def run(body, **limits):
        async def main():
            config = sandbox.SandboxConfig.from_env(tmp_path / "state", kernel_image, warm_pool=0, **limits)
            pool = sandbox.SessionPool(config)
            await pool.start()
            try:
                return await body(pool)
            finally:
                await pool.close()

        return asyncio.run(main())

    return run
