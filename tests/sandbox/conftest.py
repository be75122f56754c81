"""Sandbox fixtures: the kernel image (built once, a no-op after) and a pool factory per runtime.

Every `run_pool` test runs under runc and, when Docker lists gVisor's runsc as a runtime, under runsc.
Its pools use the Docker provider; tests that use nothing but the pool and `pool.provider`'s interface
(test_containment.py, test_limits.py) would run against another provider made here.
"""

import asyncio
import os
import shutil
from pathlib import Path

import pytest

import sandbox

CACHE = Path.home() / ".cache" / "assistd"


@pytest.fixture(scope="session")
def kernel_image(docker_client) -> str:
    return sandbox.ensure_image(CACHE, lambda line: print("image:", line))


@pytest.fixture(params=["runc", "runsc"])
def runtime(request, docker_client) -> str:
    if request.param not in docker_client.info().get("Runtimes", {}):
        if shutil.which(request.param) and os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail(f"{request.param} is installed but not a Docker runtime (see scripts/setup.sh)")
        pytest.skip(f"{request.param} is not a Docker runtime here")
    return request.param


@pytest.fixture
def run_pool(kernel_image, tmp_path, runtime):
    """`run_pool(body, **limits)` runs `await body(pool)` with a started pool, then closes it."""

    def run(body, **limits):
        async def main():
            config = sandbox.SandboxConfig.from_env(
                tmp_path / "state", kernel_image, warm_pool=0, runtime=runtime, **limits
            )
            pool = sandbox.SessionPool(config)
            await pool.start()
            try:
                return await body(pool)
            finally:
                await pool.close()

        return asyncio.run(main())

    return run
