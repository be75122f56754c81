"""Assistants through the official SDK: create, retrieve, update, list both ways, delete."""

import openai
import pytest

TOOLS = [
    {"type": "code_interpreter"},
    {"type": "file_search", "file_search": {"max_num_results": 5}},
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
]


def test_create_retrieve_update_delete(client):
    created = client.beta.assistants.create(
        model="test-model",
        name="Analyst",
        description="crunches numbers",
        instructions="Be brief.",
        tools=TOOLS,
        metadata={"team": "data"},
        temperature=0.2,
        top_p=0.9,
        response_format={"type": "json_object"},
    )
    assert created.id.startswith("asst_") and created.object == "assistant"
    assert isinstance(created.created_at, int) and created.created_at > 1_700_000_000
    assert [t.type for t in created.tools] == ["code_interpreter", "file_search", "function"]
    assert created.tools[1].file_search.max_num_results == 5
    assert created.tools[1].file_search.ranking_options.score_threshold == 0.0
    assert created.tools[2].function.parameters["required"] == ["city"]
    assert created.response_format.type == "json_object"
    assert (created.temperature, created.top_p) == (0.2, 0.9)

    fetched = client.beta.assistants.retrieve(created.id)
    assert fetched.model_dump() == created.model_dump()

    updated = client.beta.assistants.update(created.id, name="Renamed", metadata={"team": "ml"})
    assert updated.name == "Renamed" and updated.metadata == {"team": "ml"}
    assert updated.instructions == "Be brief." and len(updated.tools) == 3  # untouched fields kept

    deleted = client.beta.assistants.delete(created.id)
    assert deleted.deleted and deleted.id == created.id
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.retrieve(created.id)


def test_defaults(client):
    created = client.beta.assistants.create(model="m")
    assert created.name is None and created.tools == [] and created.metadata == {}
    assert created.response_format == "auto" and created.temperature == 1.0


def test_pagination_both_ways(server, tmp_path):
    client = server.client()
    ids = [client.beta.assistants.create(model="m", name=f"p{i}").id for i in range(7)]
    newest_first = list(reversed(ids))

    walked = [a.id for a in client.beta.assistants.list(limit=2) if a.id in ids]
    assert walked == newest_first  # auto-pagination follows `after` over several pages

    asc = [a.id for a in client.beta.assistants.list(limit=3, order="asc") if a.id in ids]
    assert asc == ids

    first = client.beta.assistants.list(limit=3, order="asc", after=ids[1])
    assert [a.id for a in first.data] == ids[2:5] and first.has_more
    assert first.first_id == ids[2] and first.last_id == ids[4]

    before = client.beta.assistants.list(limit=2, order="asc", before=ids[4])
    assert [a.id for a in before.data] == ids[2:4] and before.has_more

    before_desc = client.beta.assistants.list(limit=10, order="desc", before=ids[4])
    assert [a.id for a in before_desc.data] == list(reversed(ids[5:]))
    assert not before_desc.has_more

    empty = client.beta.assistants.list(limit=5, order="asc", after=ids[-1])
    assert empty.data == [] and not empty.has_more
