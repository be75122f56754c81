"""Bad input gets OpenAI-style errors with the right status, and changes nothing."""

import httpx
import openai
import pytest

from tests.support.errors import error_of as _error


def test_malformed_json(server):
    r = httpx.post(
        server.base_url + "/assistants", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert "JSON" in _error(r, 400)["message"]
    r = httpx.post(
        server.base_url + "/assistants", content=b"[1, 2]", headers={"content-type": "application/json"}
    )
    _error(r, 400)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "model"),
        ({"model": 5}, "model"),
        ({"model": "m", "temperature": "hot"}, "temperature"),
        ({"model": "m", "temperature": 3}, "temperature"),
        ({"model": "m", "tools": [{"type": "web_browser"}]}, "tools[0]"),
        (
            {"model": "m", "tools": [{"type": "function", "function": {"name": "bad name!"}}]},
            "tools[0].function.name",
        ),
        ({"model": "m", "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"model": "m", "metadata": {"k" * 65: "v"}}, "metadata"),
        ({"model": "m", "metadata": {"k": "v" * 513}}, "metadata"),
        ({"model": "m", "surprise": 1}, "surprise"),
    ],
)
def test_invalid_assistant_bodies(server, body, param):
    err = _error(httpx.post(server.base_url + "/assistants", json=body), 400)
    assert err["type"] == "invalid_request_error"
    assert err["param"] == param


def test_metadata_at_the_limits_is_accepted(client):
    metadata = {("k" * 62) + f"{i:02d}": "v" * 512 for i in range(16)}
    assert client.beta.assistants.create(model="m", metadata=metadata).metadata == metadata


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=x", "limit"),
        ("order=up", "order"),
        ("after=asst_unknown", "after"),
        ("before=asst_unknown", "before"),
    ],
)
def test_bad_list_parameters(server, query, param):
    assert _error(httpx.get(f"{server.base_url}/assistants?{query}"), 400)["param"] == param


def test_unknown_ids_are_404(server, client):
    thread = client.beta.threads.create()
    for path in [
        "/assistants/asst_x",
        "/threads/thread_x",
        f"/threads/{thread.id}/messages/msg_x",
        "/threads/thread_x/messages",
        "/files/file-x",
        "/files/file-x/content",
    ]:
        assert _error(httpx.get(server.base_url + path), 404)["type"] == "invalid_request_error"
    assert _error(httpx.delete(server.base_url + "/assistants/asst_x"), 404)
    assert _error(httpx.get(server.base_url + "/no/such/route"), 404)


def test_rejected_update_changes_nothing(client):
    created = client.beta.assistants.create(model="m", name="keep", metadata={"a": "1"})
    with pytest.raises(openai.BadRequestError):
        client.beta.assistants.update(created.id, name="changed", temperature=9)
    with pytest.raises(openai.BadRequestError):
        client.beta.assistants.update(
            created.id, name="changed", tool_resources={"code_interpreter": {"file_ids": ["file-nope"]}}
        )
    assert client.beta.assistants.retrieve(created.id).model_dump() == created.model_dump()


def test_bad_message_bodies(server, client):
    thread = client.beta.threads.create()
    url = f"{server.base_url}/threads/{thread.id}/messages"
    assert _error(httpx.post(url, json={"role": "system", "content": "x"}), 400)["param"] == "role"
    assert _error(httpx.post(url, json={"role": "user", "content": []}), 400)["param"] == "content"
    err = _error(
        httpx.post(url, json={"role": "user", "content": "x", "attachments": [{"file_id": "file-zz"}]}), 400
    )
    assert "file-zz" in err["message"]
    assert client.beta.threads.messages.list(thread.id).data == []


def test_upload_without_file_part(server):
    r = httpx.post(server.base_url + "/files", data={"purpose": "assistants"}, files={"other": ("a", b"a")})
    assert _error(r, 400)["param"] == "file"
    r = httpx.post(server.base_url + "/files", json={"purpose": "assistants"})
    _error(r, 400)
