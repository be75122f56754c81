"""Runtime fixtures: a real server process per test module and an official `openai` client for it,
and the scripted model a module's servers call (`slow N ...` streams an answer over N seconds;
a module that needs another script defines its own).

API tests run once on SQLite and once on PostgreSQL when `ASSISTD_TEST_POSTGRES_URL` names a
database (scripts/test starts one); under CI a missing PostgreSQL is a failure, not a skip.
"""

import pytest

from tests.support.scripted_model import ScriptedModel, slow_or_default
from tests.support.server import Server, database_env


@pytest.fixture(scope="module")
def model():
    with ScriptedModel(script=slow_or_default) as m:
        yield m


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory):
    with Server(tmp_path_factory.mktemp("assistd") / "data", env=database_env(request.param)) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return server.client()
