"""Shared test fixtures: the Docker requirement rule used by every Docker test."""

import os

import pytest


def docker_client_or_skip():
    """Return a docker client; skip when no engine answers, or fail when REQUIRE_DOCKER=1."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
        return client
    except Exception as exc:  # any failure to reach the engine
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail(f"REQUIRE_DOCKER=1 but no Docker engine answers: {exc}")
        pytest.skip(f"no Docker engine: {exc}")


@pytest.fixture(scope="session")
def docker_client():
    client = docker_client_or_skip()
    yield client
    client.close()
