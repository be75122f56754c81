"""Threads and messages through the official SDK."""

import openai
import pytest


def test_thread_with_initial_messages(client):
    thread = client.beta.threads.create(
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "text", "text": "second"}]},
        ],
        metadata={"user": "u1"},
    )
    assert thread.id.startswith("thread_") and thread.object == "thread" and thread.metadata == {"user": "u1"}
    messages = client.beta.threads.messages.list(thread.id, order="asc").data
    assert [m.role for m in messages] == ["user", "assistant"]
    assert [m.content[0].text.value for m in messages] == ["first", "second"]
    assert all(m.thread_id == thread.id and m.object == "thread.message" for m in messages)


def test_message_content_parts_and_attachments(client):
    image = client.files.create(file=("pixel.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 20), purpose="vision")
    data = client.files.create(file=("data.csv", b"a,b\n1,2\n"), purpose="assistants")
    thread = client.beta.threads.create()
    message = client.beta.threads.messages.create(
        thread.id,
        role="user",
        content=[
            {"type": "text", "text": "look"},
            {"type": "image_file", "image_file": {"file_id": image.id}},
            {"type": "image_url", "image_url": {"url": "https://example.com/x.png", "detail": "low"}},
        ],
        attachments=[{"file_id": data.id, "tools": [{"type": "code_interpreter"}]}],
        metadata={"k": "v"},
    )
    assert message.id.startswith("msg_") and message.status == "completed"
    assert [c.type for c in message.content] == ["text", "image_file", "image_url"]
    assert message.content[1].image_file.file_id == image.id
    assert message.content[2].image_url.detail == "low"
    assert message.attachments[0].file_id == data.id
    assert message.attachments[0].tools[0].type == "code_interpreter"

    assert client.beta.threads.messages.retrieve(message.id, thread_id=thread.id).id == message.id
    updated = client.beta.threads.messages.update(message.id, thread_id=thread.id, metadata={"k": "w"})
    assert updated.metadata == {"k": "w"}
    assert client.beta.threads.messages.delete(message.id, thread_id=thread.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.retrieve(message.id, thread_id=thread.id)


def test_message_pagination(client):
    thread = client.beta.threads.create()
    ids = [client.beta.threads.messages.create(thread.id, role="user", content=f"m{i}").id for i in range(5)]
    assert [m.id for m in client.beta.threads.messages.list(thread.id, limit=2)] == list(reversed(ids))
    page = client.beta.threads.messages.list(thread.id, limit=2, order="asc", before=ids[3])
    assert [m.id for m in page.data] == ids[1:3]
    assert client.beta.threads.messages.list(thread.id, run_id="run_none").data == []


def test_thread_update_and_delete_removes_messages(client):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    message_id = client.beta.threads.messages.list(thread.id).data[0].id
    assert client.beta.threads.update(thread.id, metadata={"a": "1"}).metadata == {"a": "1"}
    assert client.beta.threads.retrieve(thread.id).metadata == {"a": "1"}
    assert client.beta.threads.delete(thread.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.retrieve(thread.id)
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.retrieve(message_id, thread_id=thread.id)


def test_tool_resources_reference_real_files(client):
    data = client.files.create(file=("x.txt", b"x"), purpose="assistants")
    thread = client.beta.threads.create(tool_resources={"code_interpreter": {"file_ids": [data.id]}})
    assert thread.tool_resources.code_interpreter.file_ids == [data.id]
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.create(tool_resources={"code_interpreter": {"file_ids": ["file-missing"]}})
    assert "file-missing" in err.value.body["message"]
