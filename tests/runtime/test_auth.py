"""`ASSISTD_API_KEY`: when set, every /v1 request needs `Authorization: Bearer <key>`."""

import httpx
import openai
import pytest

from tests.support.server import Server


def test_key_required_when_set(tmp_path):
    with Server(tmp_path / "data", env={"ASSISTD_API_KEY": "sk-right-key-123"}) as srv:
        ok = srv.client("sk-right-key-123")
        assert ok.beta.assistants.create(model="m").object == "assistant"

        with pytest.raises(openai.AuthenticationError) as err:
            srv.client("sk-wrong-key-999").beta.assistants.list()
        assert err.value.body["code"] == "invalid_api_key"
        assert "sk-right" not in err.value.body["message"]

        missing = httpx.get(srv.base_url + "/assistants")
        assert missing.status_code == 401
        assert set(missing.json()["error"]) == {"message", "type", "param", "code"}
        assert httpx.post(srv.base_url + "/files", headers={"Authorization": "Basic abc"}).status_code == 401


def test_no_key_needed_when_unset(client):
    assert client.beta.assistants.list().object == "list"
