"""Request fields shared by several resources: metadata, tools, tool resources, response formats.

Limits follow OpenAI's: metadata holds at most 16 pairs, keys up to 64 characters, values up to 512;
a `name` up to 256 characters, a `description` up to 512, `instructions` up to 256,000; at most 128
tools on an assistant and 20 on a run. Bodies are validated strictly, as OpenAI does: a number sent
as a string, or a field OpenAI does not know (at any depth), is a 400 naming it.
"""

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator


class Body(BaseModel):
    """Base for request bodies: unknown fields and loosely typed values are rejected as OpenAI does."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _check_metadata(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return value
    if len(value) > 16:
        raise ValueError("metadata can have at most 16 key-value pairs")
    for key, item in value.items():
        if len(key) > 64:
            raise ValueError(f"metadata key '{key[:20]}...' is longer than 64 characters")
        if len(item) > 512:
            raise ValueError(f"metadata value for '{key}' is longer than 512 characters")
    return value


def _integral(value: Any) -> Any:
    """JSON has one number type: 3.0 is the integer 3 (a boolean or a string still is not)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Integer = Annotated[int, BeforeValidator(_integral)]
Metadata = Annotated[dict[str, str] | None, AfterValidator(_check_metadata)]
Name = Annotated[str, Field(max_length=256)] | None
Description = Annotated[str, Field(max_length=512)] | None
Instructions = Annotated[str, Field(max_length=256_000)] | None
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None
Temperature = Annotated[float | None, Field(ge=0, le=2)]
TopP = Annotated[float | None, Field(ge=0, le=1)]


class RankingOptions(Body):
    """The Assistants `file_search` tool's ranking options: `score_threshold` is required there."""

    ranker: Literal["auto", "default_2024_08_21"] = "default_2024_08_21"
    score_threshold: float = Field(ge=0, le=1)


class FileSearchOptions(Body):
    max_num_results: int | None = Field(None, ge=1, le=50)
    ranking_options: RankingOptions | None = None


def _identifier(what: str):
    """A name OpenAI restricts to 1-64 characters of a-z, A-Z, 0-9, underscores and dashes."""

    def check(value: str) -> str:
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", value):
            raise ValueError(f"{what} must be 1-64 characters of a-z, A-Z, 0-9, underscores and dashes")
        return value

    return Annotated[str, AfterValidator(check)]


class FunctionDefinition(Body):
    name: _identifier("function names")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None

    @field_validator("parameters")
    @classmethod
    def _schema(cls, v: dict | None) -> dict | None:
        if v is not None and v.get("type", "object") != "object":
            raise ValueError("function parameters must be a JSON schema of type 'object'")
        return v


class CodeInterpreterTool(Body):
    type: Literal["code_interpreter"]


class FileSearchTool(Body):
    type: Literal["file_search"]
    file_search: FileSearchOptions | None = None


class FunctionTool(Body):
    type: Literal["function"]
    function: FunctionDefinition


Tool = Annotated[CodeInterpreterTool | FileSearchTool | FunctionTool, Field(discriminator="type")]
Tools = Annotated[list[Tool], Field(max_length=128)]
RunTools = Annotated[list[Tool], Field(max_length=20)]


def tool_out(tool: CodeInterpreterTool | FileSearchTool | FunctionTool) -> dict:
    """A tool as OpenAI returns it, with defaults filled in."""
    if isinstance(tool, FileSearchTool):
        options = tool.file_search or FileSearchOptions()
        ranking = options.ranking_options or RankingOptions(score_threshold=0.0)
        out = {"ranking_options": ranking.model_dump()}
        if options.max_num_results is not None:
            out["max_num_results"] = options.max_num_results
        return {"type": "file_search", "file_search": out}
    if isinstance(tool, FunctionTool):
        fn = tool.function
        function = {
            "name": fn.name,
            "parameters": fn.parameters
            if fn.parameters is not None
            else {"type": "object", "properties": {}},
            "strict": bool(fn.strict),
        }
        if fn.description is not None:  # unset, it is left out: OpenAI's schema has no null for it
            function = {"description": fn.description, **function}
        return {"type": "function", "function": function}
    return {"type": "code_interpreter"}


def tools_out(tools: list | None) -> list[dict]:
    return [tool_out(t) for t in tools or []]


class ChunkingStrategyStatic(Body):
    max_chunk_size_tokens: Integer
    chunk_overlap_tokens: Integer


class ChunkingStrategy(Body):
    type: Literal["auto", "static"]
    static: ChunkingStrategyStatic | None = None


class NewVectorStore(Body):
    file_ids: Annotated[list[str], Field(max_length=10000)] = []
    chunking_strategy: ChunkingStrategy | None = None
    metadata: Metadata = None


class CodeInterpreterResources(Body):
    file_ids: Annotated[list[str], Field(max_length=20)] = []


class FileSearchResources(Body):
    vector_store_ids: Annotated[list[str], Field(max_length=1)] = []
    vector_stores: Annotated[list[NewVectorStore], Field(max_length=1)] = []


class ToolResources(Body):
    code_interpreter: CodeInterpreterResources | None = None
    file_search: FileSearchResources | None = None


class JSONSchemaFormat(Body):
    name: _identifier("response format names")
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class TextFormat(Body):
    type: Literal["text"]


class JSONObjectFormat(Body):
    type: Literal["json_object"]


class JSONSchemaResponseFormat(Body):
    type: Literal["json_schema"]
    json_schema: JSONSchemaFormat


ResponseFormatObject = Annotated[
    TextFormat | JSONObjectFormat | JSONSchemaResponseFormat, Field(discriminator="type")
]
ResponseFormat = Literal["auto"] | ResponseFormatObject | None


def response_format_out(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, exclude_none=True)
    return value if value is not None else "auto"
