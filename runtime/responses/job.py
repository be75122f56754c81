"""A response as the run loop sees it (the `Job` of runtime/runs/job.py): its model options and
limits from the request, its tools (the client's functions, file_search over the tool's vector
stores, python in its container: runtime/containers.py), and its prompt: the instructions, then
the items before it (earlier responses or the conversation) and its input, as chat messages.

A response runs its loop in one pass (function calls end it; the client answers in a new response),
so its transcript lives only as long as the pass."""

from runtime.errors import APIError
from runtime.files import read_file
from runtime.responses.items import chat_messages
from runtime.runs.job import JobSettings, JobTools, SearchSettings
from runtime.runs.loop import Failed
from runtime.runs.tools import CodeResult
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
        if tool["type"] == "code_interpreter":
            out.code = True
        elif tool["type"] == "function":
            out.functions.append({k: tool[k] for k in ("name", "description", "parameters", "strict")})
        else:
            out.search = SearchSettings(
                tool["vector_store_ids"], tool["max_num_results"], tool["ranking_options"], tool["filters"]
            )
    return out


class ResponseJob:
    def __init__(self, engine, containers, response: dict, items: list[dict]):
        self.id = response["id"]
        self.engine, self.containers = engine, containers
        self.container_id = response.get("_container_id")
        code_tool = next((t for t in response["tools"] if t["type"] == "code_interpreter"), None)
        container = code_tool["container"] if code_tool else None
        self._code_file_ids = container.get("file_ids", []) if isinstance(container, dict) else []
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
        """The container's kernel runs, holding the `auto` tool's files, before the first model call."""
        if self.container_id is None:
            return
        files = [self.engine.store.get("file", file_id) for file_id in self._code_file_ids]
        try:
            await self.containers.ensure(self.containers.usable(self.container_id))
            await self.containers.provide(self.container_id, [f for f in files if f is not None])
        except APIError as exc:
            raise Failed("server_error", exc.message) from exc

    def instructions(self, code_offered: bool) -> str:
        files = self.containers.user_files(self.container_id) if code_offered else []
        if not files:
            return self._instructions
        listing = "\n".join(f"- {f['path']}" for f in files)
        return f"{self._instructions}\n\nFiles available to the python tool:\n{listing}"

    def history(self) -> list[dict]:
        return self._history

    async def run_code(self, code: str) -> CodeResult:
        """Run in the container; what the code wrote becomes container files. It is active from the
        start (a long execution does not let it expire) to the end."""
        self.containers.touch(self.container_id)
        result = await self.engine.tools.run_code(self.container_id, [], code)
        await self.containers.sync(self.container_id)
        self.containers.touch(self.container_id)
        return result

    async def export_file(self, path: str) -> str | None:
        found = await self.containers.file_for_path(self.container_id, path)
        return found["id"] if found else None
