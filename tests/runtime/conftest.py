"""Runtime fixtures: a real server process per test module and an official `openai` client for it.

API tests run once on SQLite and once on PostgreSQL when `ASSISTD_TEST_POSTGRES_URL` names a
database (scripts/test starts one); under CI a missing PostgreSQL is a failure, not a skip.
"""

import os

import pytest

from tests.support.server import Server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory):
    env = {}
    if request.param == "postgresql":
        url = os.environ.get("ASSISTD_TEST_POSTGRES_URL")
        if not url:
            if os.environ.get("CI"):
                pytest.fail("CI needs ASSISTD_TEST_POSTGRES_URL (scripts/test starts PostgreSQL)")
            pytest.skip("ASSISTD_TEST_POSTGRES_URL is not set")
        env["ASSISTD_DATABASE_URL"] = url
    with Server(tmp_path_factory.mktemp("assistd") / "data", env=env) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return server.client()
