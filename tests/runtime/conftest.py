"""Runtime fixtures: a real server process per test module and an official `openai` client for it."""


import pytest

from tests.support.server import Server



@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with Server(tmp_path_factory.mktemp("assistd") / "data") as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return server.client()
