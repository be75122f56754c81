"""Request fields shared by several resources: metadata, tools, tool resources, response formats.

Limits follow OpenAI: metadata holds at most 16 pairs, keys up to 64 characters, values up to 512.
"""

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator


class Body(BaseModel):
    """Base for request bodies: unknown fields are rejected as OpenAI does."""

    model_config = ConfigDict(extra="forbid")


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


Metadata = Annotated[dict[str, str] | None, AfterValidator(_check_metadata)]
Temperature = Annotated[float | None, Field(ge=0, le=2)]
TopP = Annotated[float | None, Field(ge=0, le=1)]


class RankingOptions(Body):
    """The Assistants `file_search` tool's ranking options: `score_threshold` is required there."""

    ranker: Literal["auto", "default_2024_08_21"] = "default_2024_08_21"
    score_threshold: float = Field(ge=0, le=1)


class FileSearchOptions(Body):
    max_num_results: int | None = Field(None, ge=1, le=50)
    ranking_options: RankingOptions | None = None


class FunctionDefinition(Body):
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
        return {
            "type": "function",
            "function": {
                "name": fn.name,
                "description": fn.description,
                "parameters": fn.parameters
                if fn.parameters is not None
                else {"type": "object", "properties": {}},
                "strict": bool(fn.strict),
            },
        }
    return {"type": "code_interpreter"}


def tools_out(tools: list | None) -> list[dict]:
    return [tool_out(t) for t in tools or []]


class ChunkingStrategyStatic(Body):
    max_chunk_size_tokens: int
    chunk_overlap_tokens: int


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
    name: str
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class ResponseFormatObject(Body):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JSONSchemaFormat | None = None


ResponseFormat = Literal["auto"] | ResponseFormatObject | None


def response_format_out(value: Any) -> Any:
    if isinstance(value, ResponseFormatObject):
        return value.model_dump(by_alias=True, exclude_none=True)
    return value if value is not None else "auto"
