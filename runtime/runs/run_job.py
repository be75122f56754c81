"""A run as the run loop sees it (the `Job` of runtime/runs/job.py): the run's model options and
limits, the thread's earlier messages as the prompt, the tool resources of the assistant, the thread
and the run, and the thread's own sandbox session.

Files attached to the thread's messages for file_search go into the thread's vector store before
the first model call; files attached for code_interpreter join the assistant's and the thread's."""

from runtime.files import read_file
from runtime.runs import prompt
from runtime.runs.job import JobSettings, JobTools, SearchSettings
from runtime.runs.tools import CodeResult
from runtime.runs.transcript import TRANSCRIPT, new_transcript

SESSION_RESET = "[The code session was reset: variables and files from earlier runs are gone.]"


def _tool_choice(choice) -> str | dict | None:
    """A run's `tool_choice` in chat-completions form."""
    if choice is None or isinstance(choice, str):
        return choice
    name = prompt.tool_function(choice["type"], (choice.get("function") or {}).get("name"))
    return {"type": "function", "function": {"name": name}}


class RunJob:
    def __init__(self, engine, run: dict):
        self.engine, self.store, self.run = engine, engine.store, run
        self.id = run["id"]
        self.code_session = run["thread_id"]
        self.transcript = self.store.get(TRANSCRIPT, self.id, parent=self.id) or new_transcript(self.id, {})
        self.transcript.setdefault("usage", run.get("usage"))  # a transcript from before it counted
        fmt = run.get("response_format")
        self.settings = JobSettings(
            model=run["model"],
            temperature=run.get("temperature"),
            top_p=run.get("top_p"),
            tool_choice=_tool_choice(run.get("tool_choice")),
            parallel_tool_calls=run.get("parallel_tool_calls"),
            response_format=fmt if isinstance(fmt, dict) else None,
            truncation=run.get("truncation_strategy") or {"type": "auto"},
            max_prompt_tokens=run.get("max_prompt_tokens"),
            max_output_tokens=run.get("max_completion_tokens"),
        )
        self.tools = self._tools()

    def save_transcript(self) -> None:
        self.store.put(TRANSCRIPT, self.transcript, parent=self.id)

    # Tools and their resources

    def _resources(self) -> list[dict]:
        assistant = self.store.get("assistant", self.run["assistant_id"]) or {}
        thread = self.store.get("thread", self.run["thread_id"]) or {}
        override = self.transcript.get("tool_resources") or {}
        return [assistant.get("tool_resources") or {}, thread.get("tool_resources") or {}, override]

    def _tools(self) -> JobTools:
        tools = JobTools()
        for tool in self.run["tools"]:
            if tool["type"] == "code_interpreter":
                tools.code = True
            elif tool["type"] == "function":
                tools.functions.append(tool["function"])
            elif tool["type"] == "file_search" and tools.search is None:
                options = tool.get("file_search") or {}
                ranking = options.get("ranking_options") or {}
                tools.search = SearchSettings(
                    self._vector_store_ids(),
                    options.get("max_num_results") or 20,
                    {
                        "ranker": ranking.get("ranker", "default_2024_08_21"),
                        "score_threshold": ranking.get("score_threshold", 0.0),
                    },
                )
        return tools

    def _vector_store_ids(self) -> list[str]:
        ids: list[str] = []
        for resources in self._resources():
            ids += (resources.get("file_search") or {}).get("vector_store_ids", [])
        return list(dict.fromkeys(ids))

    def _attached(self, tool_type: str) -> list[str]:
        """Ids of the files attached to the thread's messages for `tool_type`."""
        return [
            attachment["file_id"]
            for message in self.store.all("thread.message", self.run["thread_id"])
            for attachment in message.get("attachments") or []
            if any(t["type"] == tool_type for t in attachment.get("tools", []))
        ]

    def code_files(self) -> list[dict]:
        ids: list[str] = []
        for resources in self._resources():
            ids += (resources.get("code_interpreter") or {}).get("file_ids", [])
        ids += self._attached("code_interpreter")
        files = [self.store.get("file", file_id) for file_id in dict.fromkeys(ids)]
        return [f for f in files if f is not None]

    async def run_code(self, code: str) -> CodeResult:
        """Run in the thread's session; where an earlier one is gone (expired, or its process
        stopped), the model is told it starts afresh."""
        engine = self.engine
        reset = engine.work.placed(self.code_session) is not None and not await engine.sandbox.is_open(
            self.code_session
        )
        result = await engine.tools.run_code(self.code_session, self.code_files(), code)
        engine.work.place(self.code_session)
        if reset:
            result.model_text = f"{SESSION_RESET}\n{result.model_text}"
        return result

    async def export_file(self, path: str) -> str | None:
        return await self.engine.tools.export_file(self.code_session, path, self.transcript["exports"])

    async def prepare(self) -> None:
        """Files attached for file_search go into the thread's own vector store before the model runs."""
        if self.tools.search is None:
            return
        file_ids = self._attached("file_search")
        if file_ids:
            thread_id = self.run["thread_id"]
            await self.engine.vector_stores.attach_to_thread(thread_id, list(dict.fromkeys(file_ids)))
            self.tools.search.vector_store_ids = self._vector_store_ids()

    # Prompt

    def instructions(self, code_offered: bool) -> str:
        text = self.run.get("instructions") or ""
        code_files = self.code_files() if code_offered else []
        if code_files:
            listing = "\n".join(f"- /mnt/data/{f['filename']}" for f in code_files)
            text += f"\n\nFiles available to the python tool:\n{listing}"
        return text

    def history(self) -> list[dict]:
        settings = self.engine.settings
        return [
            prompt.chat_message(m, lambda file_id: read_file(settings, self.store, file_id))
            for m in self.store.all("thread.message", self.run["thread_id"])
            if m.get("run_id") != self.id
        ]
