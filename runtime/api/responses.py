"""`/v1/responses`: create (optionally streamed), retrieve, delete, cancel, and a response's input
items. Only the parameters assistd implements are accepted; any other is a 400 naming it."""

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import Field, field_validator, model_validator

from runtime.api.containers import MemoryLimit, NetworkPolicy, check_network_policy
from runtime.api.deps import StoreDep
from runtime.api.items import InputItem, items_in
from runtime.api.pagination import Paging, page
from runtime.api.schemas import Body, Metadata, Temperature, TopP
from runtime.api.vector_stores import Filter
from runtime.errors import InvalidRequest
from runtime.responses.objects import INCLUDABLE, INPUT_ITEM, response_out

router = APIRouter(tags=["responses"])


class FunctionToolParam(Body):
    type: Literal["function"]
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", v):
            raise ValueError(
                "function names must be 1-64 characters of a-z, A-Z, 0-9, underscores and dashes"
            )
        return v


class HybridSearch(Body):
    embedding_weight: float = Field(ge=0)
    text_weight: float = Field(ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> "HybridSearch":
        if self.embedding_weight + self.text_weight <= 0:
            raise ValueError("embedding_weight and text_weight cannot both be 0")
        return self


class RankingOptions(Body):
    ranker: Literal["auto", "default-2024-11-15"] | None = None
    score_threshold: float | None = Field(None, ge=0, le=1)
    hybrid_search: HybridSearch | None = None


class FileSearchToolParam(Body):
    type: Literal["file_search"]
    vector_store_ids: Annotated[list[str], Field(max_length=2)]
    max_num_results: int | None = Field(None, ge=1, le=50)
    ranking_options: RankingOptions | None = None
    filters: Filter | None = None


class AutoContainerParam(Body):
    type: Literal["auto"]
    file_ids: Annotated[list[str], Field(max_length=50)] | None = None
    memory_limit: MemoryLimit | None = None
    network_policy: NetworkPolicy | None = None


class CodeInterpreterToolParam(Body):
    type: Literal["code_interpreter"]
    container: str | AutoContainerParam


Tool = Annotated[
    FunctionToolParam | FileSearchToolParam | CodeInterpreterToolParam, Field(discriminator="type")
]


class TextFormatText(Body):
    type: Literal["text"]


class TextFormatJSONObject(Body):
    type: Literal["json_object"]


class TextFormatJSONSchema(Body):
    type: Literal["json_schema"]
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


class TextParam(Body):
    format: Annotated[
        TextFormatText | TextFormatJSONObject | TextFormatJSONSchema, Field(discriminator="type")
    ] = TextFormatText(type="text")


class ToolChoiceFunction(Body):
    type: Literal["function"]
    name: str


class ToolChoiceBuiltin(Body):
    type: Literal["file_search", "code_interpreter"]


class ConversationRef(Body):
    id: str


class PromptParam(Body):
    id: str
    version: str | None = None
    variables: dict[str, str] | None = None


class StreamOptions(Body):
    include_obfuscation: bool | None = None


class ResponseCreate(Body):
    model: str | None = None
    input: Annotated[list[InputItem], Field(max_length=10_000)] | str | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    conversation: str | ConversationRef | None = None
    prompt: PromptParam | None = None
    store: bool | None = None
    background: bool | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    tools: Annotated[list[Tool], Field(max_length=128)] | None = None
    tool_choice: Literal["none", "auto", "required"] | ToolChoiceFunction | ToolChoiceBuiltin | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | None = Field(None, ge=16)
    max_tool_calls: int | None = Field(None, ge=0)
    include: list[Literal[INCLUDABLE]] | None = None
    metadata: Metadata = None
    text: TextParam | None = None
    temperature: Temperature = None
    top_p: TopP = None
    truncation: Literal["auto", "disabled"] | None = None
    user: str | None = None
    safety_identifier: str | None = Field(None, max_length=64)
    prompt_cache_key: str | None = None
    service_tier: Literal["auto", "default"] | None = None

    def request(self) -> dict:
        """The request as plain data: what was sent, items validated."""
        out = self.model_dump(exclude_none=True, by_alias=True, exclude={"input"})
        if isinstance(self.input, list):
            out["input"] = items_in(self.input)
        elif self.input is not None:
            out["input"] = self.input
        return out


def _responses(request: Request):
    return request.app.state.responses


Include = Annotated[list[str] | None, Query(alias="include[]")]


def _check_include(include: list[str] | None) -> list[str]:
    for value in include or []:
        if value not in INCLUDABLE:
            raise InvalidRequest(
                f"Invalid value for 'include[]': '{value}'. Supported: {', '.join(INCLUDABLE)}.",
                param="include",
            )
    return include or []


@router.post("/responses")
async def create_response(body: ResponseCreate, request: Request):
    for index, tool in enumerate(body.tools or []):
        if isinstance(tool, CodeInterpreterToolParam) and not isinstance(tool.container, str):
            check_network_policy(tool.container.network_policy, f"tools[{index}].container.network_policy")
    started = await _responses(request).create(body.request(), str(request.base_url).rstrip("/"))
    if body.stream:
        return StreamingResponse(started.events(), media_type="text/event-stream")
    return await started.result()


@router.get("/responses/{response_id}")
def retrieve_response(
    response_id: str,
    request: Request,
    store: StoreDep,
    include: Include = None,
    stream: bool = False,
    starting_after: int = -1,
):
    """The response; or, for a background one, its events after `starting_after` (all of them by
    default) and those still to come, from whichever process runs it."""
    include = _check_include(include)
    with store.tx() as tx:
        response = _responses(request).get(tx, response_id)
    if not stream:
        return response_out(response, include)
    if not response["background"]:
        raise InvalidRequest(
            "Only responses created with background=true can be streamed again.", param="stream"
        )
    hub = request.app.state.engine.hub
    if hub.last(response_id) < 0:  # written more than ASSISTD_EVENTS_KEEP_SECONDS ago, and pruned
        raise InvalidRequest(
            f"The events of response '{response_id}' are no longer kept; retrieve it without stream.",
            param="stream",
        )
    return StreamingResponse(hub.stream(response_id, starting_after), media_type="text/event-stream")


@router.delete("/responses/{response_id}")
def delete_response(response_id: str, request: Request) -> dict:
    return _responses(request).delete(response_id)


@router.post("/responses/{response_id}/cancel")
async def cancel_response(response_id: str, request: Request) -> dict:
    return await _responses(request).cancel(response_id)


@router.get("/responses/{response_id}/input_items")
def list_input_items(
    response_id: str, request: Request, store: StoreDep, params: Paging, include: Include = None
) -> dict:
    _check_include(include)
    with store.tx() as tx:
        _responses(request).get(tx, response_id)
        return page(tx, INPUT_ITEM, response_id, params)
