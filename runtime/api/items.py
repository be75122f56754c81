"""Input items of the Responses and Conversations APIs as request bodies: messages (a string or
parts), function calls and their outputs, and file search calls given back as input.

Supported parts: `input_text`; `input_image` by `image_url` (a URL or a data URL, passed to the
model) or by `file_id` (a stored image, sent as a data URL); an assistant's `output_text` and
`refusal`. `input_file` is refused with a 400 (search files through a `file_search` tool's vector
stores instead), as is any item type not listed here (`item_reference`, `reasoning`, ...).
"""

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from runtime.api.schemas import Body


class InputText(Body):
    type: Literal["input_text"]
    text: str


class InputImage(Body):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto"] = "auto"

    @model_validator(mode="after")
    def _one_source(self):
        if (self.image_url is None) == (self.file_id is None):
            raise ValueError("an input_image needs exactly one of 'image_url' and 'file_id'")
        return self


class OutputText(Body):
    type: Literal["output_text"]
    text: str
    annotations: list[dict[str, Any]] = []
    logprobs: list[dict[str, Any]] | None = None


class Refusal(Body):
    type: Literal["refusal"]
    refusal: str


class InputFile(Body):
    type: Literal["input_file"]

    @model_validator(mode="before")
    @classmethod
    def _refused(cls, value):
        raise ValueError(
            "input_file parts are not supported; put the file in a vector store and give the "
            "response a file_search tool"
        )


def _part_kind(value: Any) -> str | None:
    return value.get("type") if isinstance(value, dict) else getattr(value, "type", None)


Part = Annotated[
    Annotated[InputText, Tag("input_text")]
    | Annotated[InputImage, Tag("input_image")]
    | Annotated[OutputText, Tag("output_text")]
    | Annotated[Refusal, Tag("refusal")]
    | Annotated[InputFile, Tag("input_file")],
    Discriminator(_part_kind),
]
ASSISTANT_PARTS = ("output_text", "refusal", "input_text")


class MessageItem(Body):
    type: Literal["message"] = "message"
    id: str | None = None
    role: Literal["user", "assistant", "system", "developer"]
    content: Annotated[list[Part], Field(max_length=1000)] | str
    status: Literal["in_progress", "completed", "incomplete"] | None = None

    @model_validator(mode="after")
    def _parts_fit_role(self):
        if isinstance(self.content, str):
            return self
        for part in self.content:
            if (self.role == "assistant") != (part.type in ASSISTANT_PARTS) and part.type != "input_text":
                raise ValueError(f"a '{self.role}' message cannot hold '{part.type}' content")
        return self


class FunctionCallItem(Body):
    type: Literal["function_call"]
    id: str | None = None
    call_id: str = Field(min_length=1, max_length=64)
    name: str
    arguments: str
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class FunctionCallOutputItem(Body):
    type: Literal["function_call_output"]
    id: str | None = None
    call_id: str = Field(min_length=1, max_length=64)
    output: Annotated[str, Field(max_length=10_485_760)] | list[InputText]
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class FileSearchResultItem(Body):
    file_id: str
    filename: str
    text: str
    score: float | None = None
    attributes: dict[str, Any] | None = None


class FileSearchCallItem(Body):
    type: Literal["file_search_call"]
    id: str
    queries: list[str]
    status: Literal["in_progress", "searching", "completed", "incomplete", "failed"]
    results: list[FileSearchResultItem] | None = None


class CodeOutputLogs(Body):
    type: Literal["logs"]
    logs: str


class CodeOutputImage(Body):
    type: Literal["image"]
    url: str


class CodeInterpreterCallItem(Body):
    type: Literal["code_interpreter_call"]
    id: str
    container_id: str
    code: str | None
    status: Literal["in_progress", "completed", "incomplete", "interpreting", "failed"]
    outputs: list[Annotated[CodeOutputLogs | CodeOutputImage, Field(discriminator="type")]] | None = None


def _item_kind(value: Any) -> str | None:
    kind = value.get("type", "message") if isinstance(value, dict) else getattr(value, "type", None)
    return kind or "message"


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[FileSearchCallItem, Tag("file_search_call")]
    | Annotated[CodeInterpreterCallItem, Tag("code_interpreter_call")],
    Discriminator(_item_kind),
]


def items_in(items: list) -> list[dict]:
    """Validated items as plain dicts (unset optional fields left out)."""
    return [item.model_dump(exclude_none=True) for item in items]
