"""A response as the run loop sees it (the `Job` of runtime/runs/job.py): its model options and
limits from the request, its tools (the client's functions, file_search over the tool's vector
stores), and its prompt: the instructions, then the items before it (earlier responses or the
conversation) and its input, as chat messages.

A response runs its loop in one pass (function calls end it; the client answers in a new response),
so its transcript lives only as long as the pass."""

from runtime.files import read_file
from runtime.responses.items import chat_messages
from runtime.runs.job import JobSettings, JobTools, SearchSettings
from runtime.runs.transcript import new_transcript


def _tool_choice(choice) -> str | dict:
    if isinstance(choice, str):
        return choice
    name = "file_search" if choice["type"] == "file_search" else choice["name"]
    return {"type": "function", "function": {"name": name}}


def _response_format(text: dict) -> dict | None:
    fmt = text["format"]
    if fmt["type"] == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "description", "strict") if fmt.get(k) is not None}
        return {"type": "json_schema", "json_schema": schema}
    return {"type": "json_object"} if fmt["type"] == "json_object" else None


def job_tools(tools: list[dict]) -> JobTools:
    out = JobTools()
    for tool in tools:
        if tool["type"] == "function":
            out.functions.append({k: tool[k] for k in ("name", "description", "parameters", "strict")})
        else:
            out.search = SearchSettings(
                tool["vector_store_ids"], tool["max_num_results"], tool["ranking_options"], tool["filters"]
            )
    return out


class ResponseJob:
    def __init__(self, engine, response: dict, items: list[dict]):
        self.id = response["id"]
        self.code_session = response["id"]
        self.transcript = new_transcript(self.id, {})
        sent = response["_sent"]
        self.settings = JobSettings(
            model=response["model"],
            temperature=sent.get("temperature"),
            top_p=sent.get("top_p"),
            tool_choice=_tool_choice(response["tool_choice"]),
            parallel_tool_calls=response["parallel_tool_calls"],
            response_format=_response_format(response["text"]),
            truncation={"type": response["truncation"]},
            max_output_tokens=response["max_output_tokens"],
            max_tool_calls=response["max_tool_calls"],
        )
        self.tools = job_tools(response["tools"])
        self._instructions = response["instructions"] or ""
        self._history = chat_messages(
            items, lambda file_id: read_file(engine.settings, engine.store, file_id)
        )

    def save_transcript(self) -> None:
        """Nothing to keep: the pass ends with the response."""

    async def prepare(self) -> None:
        """The tools need nothing before the first model call."""

    def instructions(self, code_offered: bool) -> str:
        return self._instructions

    def history(self) -> list[dict]:
        return self._history

    def code_files(self) -> list[dict]:
        return []
