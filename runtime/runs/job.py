"""What the run loop works on, in no API's terms, so one loop drives a run and a response.

A `Job` is one run (Assistants) or one response (Responses) as the loop sees it: the options of its
model calls and its limits, the tools it offers, its prompt (instructions, then the history before
it; the loop adds its own exchanges and truncates), where its tools act (a sandbox session, vector
stores) and the loop's own state kept between passes (its transcript). A `Recorder` hears what
happens (the job started, text arrived, a tool call started, streamed, ran, finished, the job ended)
and writes it as its API shows it. Each surface implements both: runs in `runtime/runs/run_job.py`
and `runtime/runs/recorder.py`, responses in `runtime/responses/`.
"""

from dataclasses import dataclass, field
from typing import Protocol

from runtime.runs.tools import CodeResult, SearchResult


@dataclass
class SearchSettings:
    """Where and how the file_search tool searches; `ranking_options` is echoed as the surface shows it."""

    vector_store_ids: list[str]
    max_num_results: int = 20
    ranking_options: dict = field(default_factory=dict)
    filters: dict | None = None

    @property
    def score_threshold(self) -> float:
        return self.ranking_options.get("score_threshold") or 0.0


@dataclass
class JobTools:
    """The tools a job offers: the built-in python and file_search tools, and the client's functions
    (chat-completions function definitions: name, description, parameters, strict)."""

    code: bool = False
    search: SearchSettings | None = None
    functions: list[dict] = field(default_factory=list)


@dataclass
class JobSettings:
    """The options of a job's model calls and its limits (None: no limit).

    `tool_choice` and `response_format` are in chat-completions form; `truncation` is
    `{"type": "auto"}`, `{"type": "last_messages", "last_messages": n}` or `{"type": "disabled"}`
    (the prompt must fit the context window whole)."""

    model: str
    temperature: float | None = None
    top_p: float | None = None
    tool_choice: str | dict | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict | None = None
    truncation: dict = field(default_factory=lambda: {"type": "auto"})
    max_prompt_tokens: int | None = None
    max_output_tokens: int | None = None
    max_tool_calls: int | None = None


class Job(Protocol):
    id: str
    settings: JobSettings
    tools: JobTools
    transcript: dict  # the loop's own state (runtime/runs/transcript.py)

    def save_transcript(self) -> None: ...

    async def prepare(self) -> None:
        """Make the job's tools ready before its first model call."""

    def instructions(self, code_offered: bool) -> str:
        """The system text (empty for none)."""

    def history(self) -> list[dict]:
        """The chat messages before this job's own exchanges, oldest first."""

    async def run_code(self, code: str) -> CodeResult:
        """Run a python call's code where the job's code runs (a thread's session, a container)."""

    async def export_file(self, path: str) -> str | None:
        """The id a link to `sandbox:/mnt/data/...` cites (None: no such file): a stored file for a
        run, a container file for a response."""


class Recorder(Protocol):
    """What happens to a job, in the order it happens. A call's `index` is the handle
    `tool_call_started` returned; a call's result is a `CodeResult`, a `SearchResult`, or None for a
    call that named no tool."""

    def started(self) -> None: ...
    def completed(self) -> None: ...
    def failed(self, code: str, message: str) -> None: ...
    def incomplete(self, reason: str) -> None:
        """The job stopped at a limit: `max_prompt_tokens` or `max_output_tokens`."""

    def model_call_done(self, usage: dict, total: dict) -> None:
        """One model call's usage, and the job's total so far."""

    def message_started(self, image_file_ids: list[str], first: tuple[str, list[dict]] | None) -> None:
        """The model began an answer, `first` its first piece if one is ready to show (text and
        annotations, as `text_added` takes them)."""

    def text_added(self, text: str, annotations: list[dict]) -> None: ...
    def message_finished(self, status: str) -> None: ...
    def tool_call_started(self, call_id: str, kind: str, name: str) -> int: ...
    def tool_input_added(self, index: int, text: str) -> None: ...
    def tool_input_done(self, index: int, arguments: str) -> None: ...
    def tool_call_running(self, index: int, tool_input: str) -> None: ...
    def tool_call_finished(self, index: int, result: CodeResult | SearchResult | None) -> None: ...
    def tool_calls_finished(self, error: dict | None = None) -> None: ...
    def tool_calls_waiting(self, indexes: list[int]) -> None:
        """The job stops for the client's outputs to these function calls."""

    def save_open_work(self) -> None:
        """Keep what the open answer and calls hold so far (the job is being stopped)."""
