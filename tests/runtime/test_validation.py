"""Create and modify bodies are held to OpenAI's limits: each violation is a 400 naming its `param`
as OpenAI does (`tools[0].function.name`, `content[1].image_url.url`), and values at the limits pass."""

import httpx
import pytest

from tests.support.errors import error_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 20


def rejected(response: httpx.Response, param: str | None) -> str:
    err = error_of(response, 400)
    assert err["type"] == "invalid_request_error"
    assert err["param"] == param, err
    return err["message"]


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def ids(client):
    """Live objects the bodies below refer to."""
    image = client.files.create(file=("pixel.png", PNG), purpose="vision")
    assistant = client.beta.assistants.create(model="m")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    message = client.beta.threads.messages.list(thread.id).data[0]
    store = client.vector_stores.create(name="limits")
    return {
        "file": image.id,
        "assistant": assistant.id,
        "thread": thread.id,
        "message": message.id,
        "store": store.id,
    }


def tool(name: str = "f") -> dict:
    return {"type": "function", "function": {"name": name}}


ASSISTANT_CASES = [
    ({"name": "n" * 257}, "name", "string too long. Expected a string with maximum length 256"),
    ({"description": "d" * 513}, "description", "Expected a string with maximum length 512"),
    ({"instructions": "i" * 256_001}, "instructions", "Expected a string with maximum length 256000"),
    ({"tools": [tool(f"f{i}") for i in range(129)]}, "tools", "array too long. Expected an array with"),
    ({"tools": [tool("bad name")]}, "tools[0].function.name", "function names must be"),
    ({"tools": [{"type": "function", "function": {"name": "f", "x": 1}}]}, "tools[0].function.x", ""),
    ({"response_format": {"type": "json_schema"}}, "response_format.json_schema", "Missing"),
    ({"response_format": {"type": "json_schema", "json_schema": {}}}, "response_format.json_schema.name", ""),
    (
        {"response_format": {"type": "json_schema", "json_schema": {"name": "has space"}}},
        "response_format.json_schema.name",
        "response format names must be",
    ),
    ({"response_format": {"type": "xml"}}, "response_format", ""),
    ({"reasoning_effort": "extreme"}, "reasoning_effort", ""),
    ({"temperature": "1"}, "temperature", ""),
    ({"top_p": 1.5}, "top_p", "decimal above maximum value. Expected a value <= 1, but got 1.5 instead"),
    ({"metadata": {"k": 5}}, "metadata.k", ""),
    (
        {"tool_resources": {"code_interpreter": {"file_ids": ["f"] * 21}}},
        "tool_resources.code_interpreter.file_ids",
        "",
    ),
    (
        {"tool_resources": {"code_interpreter": {"file_ids": ["FILE", "file-nope"]}}},
        "tool_resources.code_interpreter.file_ids[1]",
        "file-nope",
    ),
    (
        {"tool_resources": {"file_search": {"vector_store_ids": ["vs_nope"]}}},
        "tool_resources.file_search.vector_store_ids[0]",
        "vs_nope",
    ),
]


def _fill(body, ids: dict):
    """`body` with the placeholder FILE replaced by a real file id."""
    if isinstance(body, dict):
        return {k: _fill(v, ids) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill(v, ids) for v in body]
    return ids["file"] if body == "FILE" else body


@pytest.mark.parametrize(("body", "param", "words"), ASSISTANT_CASES)
def test_assistant_create_and_modify_limits(http, ids, body, param, words):
    body = _fill(body, ids)
    assert words in rejected(http.post("/assistants", json={"model": "m", **body}), param)
    assert words in rejected(http.post(f"/assistants/{ids['assistant']}", json=body), param)
    assert http.get(f"/assistants/{ids['assistant']}").json()["name"] is None  # nothing was changed


def test_assistant_values_at_the_limits_are_accepted(client):
    schema = {"name": "a-Z_0" * 12 + "abcd", "schema": {"type": "object"}, "strict": True}
    assistant = client.beta.assistants.create(
        model="m",
        name="n" * 256,
        description="d" * 512,
        instructions="i" * 256_000,
        tools=[tool(f"f{i}") for i in range(128)],
        response_format={"type": "json_schema", "json_schema": schema},
        reasoning_effort="low",
    )
    assert len(assistant.instructions) == 256_000 and len(assistant.tools) == 128
    assert assistant.response_format.json_schema.name == schema["name"]
    assert assistant.tools[0].function.description is None


@pytest.mark.parametrize(
    ("part", "words"),
    [
        ({"type": "image_url", "image_url": {"url": ""}}, "http(s) URL or a data URL"),
        ({"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}, "http(s) URL"),
        ({"type": "image_url", "image_url": {"url": "https://"}}, "http(s) URL"),
        ({"type": "image_url", "image_url": {"url": "https://e.com/a.png", "detail": "max"}}, ""),
    ],
)
def test_image_url_parts_need_an_http_or_data_url(http, ids, part, words):
    thread = ids["thread"]
    content = [{"type": "text", "text": "look"}, part]
    param = "content[1].image_url." + ("detail" if "detail" in part["image_url"] else "url")
    body = {"role": "user", "content": content}
    assert words in rejected(http.post(f"/threads/{thread}/messages", json=body), param)
    wrapped = {"messages": [{"role": "user", "content": "a"}, body]}
    assert words in rejected(http.post("/threads", json=wrapped), f"messages[1].{param}")
    run = {"assistant_id": ids["assistant"], "additional_messages": [body]}
    assert words in rejected(
        http.post(f"/threads/{thread}/runs", json=run), f"additional_messages[0].{param}"
    )
    both = {"assistant_id": ids["assistant"], "thread": {"messages": [body]}}
    assert words in rejected(http.post("/threads/runs", json=both), f"thread.messages[0].{param}")


def test_image_parts_that_are_accepted(client, ids):
    message = client.beta.threads.messages.create(
        ids["thread"],
        role="user",
        content=[
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "http://example.com/a.png"}},
            {"type": "image_file", "image_file": {"file_id": ids["file"]}},
        ],
    )
    assert [c.type for c in message.content] == ["image_url", "image_url", "image_file"]


def test_files_a_message_names_must_exist(http, ids):
    url = f"/threads/{ids['thread']}/messages"
    content = [{"type": "text", "text": "x"}, {"type": "image_file", "image_file": {"file_id": "file-nope"}}]
    assert "file-nope" in rejected(
        http.post(url, json={"role": "user", "content": content}), "content[1].image_file.file_id"
    )
    attachments = [{"file_id": ids["file"], "tools": []}, {"file_id": "file-gone", "tools": []}]
    body = {"role": "user", "content": "x", "attachments": attachments}
    assert "file-gone" in rejected(http.post(url, json=body), "attachments[1].file_id")
    both = {"assistant_id": ids["assistant"], "thread": {"messages": [body]}}
    rejected(http.post("/threads/runs", json=both), "thread.messages[0].attachments[1].file_id")
    resources = {"code_interpreter": {"file_ids": ["file-nope"]}}
    both = {"assistant_id": ids["assistant"], "thread": {"tool_resources": resources}}
    rejected(http.post("/threads/runs", json=both), "thread.tool_resources.code_interpreter.file_ids[0]")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_prompt_tokens": 255}, "max_prompt_tokens"),
        ({"max_completion_tokens": 1}, "max_completion_tokens"),
        ({"tools": [tool(f"f{i}") for i in range(21)]}, "tools"),
        ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"stream": "yes"}, "stream"),
    ],
)
def test_run_bodies(http, ids, body, param):
    thread = ids["thread"]
    rejected(http.post(f"/threads/{thread}/runs", json={"assistant_id": ids["assistant"], **body}), param)
    rejected(http.post("/threads/runs", json={"assistant_id": ids["assistant"], **body}), param)
    assert http.get(f"/threads/{thread}/runs").json()["data"] == []


def test_run_include_is_checked(http, ids):
    url = f"/threads/{ids['thread']}/runs?include[]=step_details.everything"
    assert "include[]" in rejected(http.post(url, json={"assistant_id": ids["assistant"]}), "include[]")


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/threads/{thread}", {"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        (
            "/threads/{thread}",
            {"tool_resources": {"code_interpreter": {"file_ids": ["x"] * 21}}},
            "tool_resources.code_interpreter.file_ids",
        ),
        ("/threads/{thread}/messages/{message}", {"metadata": {"k" * 65: "v"}}, "metadata"),
        ("/threads/{thread}/messages/{message}", {"metadata": {"k": "v" * 513}}, "metadata"),
        ("/vector_stores/{store}", {"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        (
            "/vector_stores/{store}",
            {"expires_after": {"anchor": "last_active_at", "days": 366}},
            "expires_after.days",
        ),
        ("/vector_stores", {"file_ids": ["file-x"] * 501}, "file_ids"),
        ("/vector_stores", {"name": 5}, "name"),
    ],
)
def test_modify_bodies(http, ids, path, body, param):
    rejected(http.post(path.format(**ids), json=body), param)


def test_missing_body_is_named(http, ids):
    response = http.post("/assistants", content=b"", headers={"content-type": "application/json"})
    message = rejected(response, None)
    assert "None" not in message and "body" in message


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("/assistants", "GET, POST"), ("/assistants/{assistant}", "GET, POST, DELETE"), ("/threads", "POST")],
)
def test_unsupported_method_says_what_is_allowed(http, ids, path, allowed):
    response = http.request("OPTIONS", path.format(**ids))
    assert error_of(response, 405)["type"] == "invalid_request_error"
    assert response.headers["allow"] == allowed


def test_attribute_keys_in_files_and_filters(client, http):
    doc = client.files.create(file=("harbour.txt", b"The harbour has a lighthouse."), purpose="assistants")
    store = client.vector_stores.create(name="attributes")
    attributes = {"team name": "blue", "$cost": 3, "ünï/x": True}
    added = client.vector_stores.files.create_and_poll(
        vector_store_id=store.id, file_id=doc.id, attributes=attributes
    )
    assert added.status == "completed" and added.attributes == attributes
    for key, value in attributes.items():
        flt = {"type": "eq", "key": key, "value": value}
        hits = client.vector_stores.search(store.id, query="lighthouse", filters=flt).data
        assert [hit.file_id for hit in hits] == [doc.id], key

    search = f"/vector_stores/{store.id}/search"
    for key in ['a"b', "a\\b", "a.b"]:
        flt = {"type": "and", "filters": [{"type": "eq", "key": key, "value": 1}]}
        assert "key" in rejected(http.post(search, json={"query": "x", "filters": flt}), "filters")
    files = f"/vector_stores/{store.id}/files"
    too_many = {f"k{i}": i for i in range(17)}
    rejected(http.post(f"{files}/{doc.id}", json={"attributes": too_many}), "attributes")
    rejected(http.post(f"{files}/{doc.id}", json={"attributes": {"k" * 65: 1}}), "attributes")
    rejected(http.post(f"{files}/{doc.id}", json={"attributes": {"k": "v" * 513}}), "attributes")
    rejected(http.post(f"{files}/{doc.id}", json={"attributes": {"k": [1]}}), "attributes.k")
    batches = f"/vector_stores/{store.id}/file_batches"
    rejected(http.post(batches, json={"file_ids": [doc.id], "attributes": too_many}), "attributes")
    body = {"files": [{"file_id": doc.id}, {"file_id": doc.id, "attributes": too_many}]}
    rejected(http.post(batches, json=body), "files[1].attributes")
    rejected(http.post(batches, json={"file_ids": [doc.id] * 2001}), "file_ids")
    assert client.vector_stores.files.retrieve(doc.id, vector_store_id=store.id).attributes == attributes


@pytest.mark.parametrize(
    "field",
    [
        '"temperature": NaN',
        '"tools": [{"type": "function", "function": {"name": "f", "parameters": {"x": NaN}}}]',
        '"top_p": -Infinity',
        '"response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"x": 1e400}}}',
        '"name": "\\ud800"',
        '"metadata": {"\\udfff": "v"}',
        '"name": "a\\u0000b"',
        '"metadata": {"k\\u0000": "v"}',
    ],
)
def test_bodies_python_reads_but_json_cannot_hold_are_rejected(http, field):
    before = http.get("/assistants", params={"limit": 100}).json()["data"]
    text = '{"model": "m", ' + field + "}"
    response = http.post("/assistants", content=text.encode(), headers={"content-type": "application/json"})
    assert "Invalid JSON body" in rejected(response, None)
    assert http.get("/assistants", params={"limit": 100}).json()["data"] == before


def test_emoji_and_words_like_nan_pass(client):
    assistant = client.beta.assistants.create(model="m", name="😀 NaN Infinity", metadata={"k": "e400"})
    assert client.beta.assistants.retrieve(assistant.id).name == "😀 NaN Infinity"


def test_integers_may_be_written_with_a_zero_fraction_but_not_as_text_or_booleans(http, ids):
    store = http.post("/vector_stores", json={"expires_after": {"anchor": "last_active_at", "days": 3.0}})
    assert store.status_code == 200 and store.json()["expires_after"]["days"] == 3
    for days, param in [
        (2.5, "expires_after.days"),
        ("3", "expires_after.days"),
        (True, "expires_after.days"),
    ]:
        rejected(
            http.post("/vector_stores", json={"expires_after": {"anchor": "last_active_at", "days": days}}),
            param,
        )
    static = {"type": "static", "static": {"max_chunk_size_tokens": 400.0, "chunk_overlap_tokens": False}}
    rejected(
        http.post("/vector_stores", json={"chunking_strategy": static}),
        "chunking_strategy.static.chunk_overlap_tokens",
    )


def test_the_union_member_that_fits_best_explains_the_error(http, ids):
    store = f"/vector_stores/{ids['store']}/search"
    assert "empty array" in rejected(http.post(store, json={"query": []}), "query")
    assert "array too long" in rejected(http.post(store, json={"query": ["q"] * 11}), "query")
    url = f"/threads/{ids['thread']}/messages"
    part = {"type": "image_url", "image_url": {"url": "https://e.com/a.png", "size": 1}}
    message = rejected(http.post(url, json={"role": "user", "content": [part]}), "content[0].image_url.size")
    assert message.startswith("Unrecognized request argument")


def test_upload_expiry_policy_is_checked(server, http):
    with server.client() as sdk:  # the SDK's own encoding of expires_after
        kept = sdk.files.create(
            file=("a.txt", b"a"), purpose="batch", expires_after={"anchor": "created_at", "seconds": 3600}
        )
    assert kept.expires_at is None  # accepted, but files are kept until deleted
    for fields, param in [
        ({"expires_after[anchor]": "created_at", "expires_after[seconds]": "60"}, "expires_after.seconds"),
        ({"expires_after[anchor]": "now", "expires_after[seconds]": "3600"}, "expires_after.anchor"),
        ({"expires_after": '{"anchor": "created_at", "seconds": 2592001}'}, "expires_after.seconds"),
        ({"expires_after": '{"anchor": "created_at"}'}, "expires_after.seconds"),
        ({"expires_after": '{"anchor": "created_at", "seconds": 3600, "x": 1}'}, "expires_after.x"),
        ({"expires_after": "[]"}, "expires_after"),
    ]:
        response = http.post("/files", data={"purpose": "batch", **fields}, files={"file": ("a.txt", b"a")})
        rejected(response, param)
