"""One pass of a job (a run or a response): call the model, stream its answer, run the tools it asks
for, repeat until it answers, needs the client's function outputs, or hits a limit.

The loop works on a `Job` and a `Recorder` (runtime/runs/job.py), never on an API's objects: the job
gives the model options, limits, tools and prompt; the loop reports what happens (an answer starts,
text arrives with the annotations it completes, a tool call starts, its code or arguments stream,
the tool's outputs, the model call's usage) and the recorder writes it as its API shows it. The code
of a python call is decoded out of its JSON arguments as they stream; text that may still become a
citation marker or a sandbox link waits until it is whole, so an annotation leaves with the text it
covers."""

import asyncio
import logging
from dataclasses import dataclass, field

from runtime.model_client import Completion, ModelError, TextDelta, ToolCallDelta
from runtime.runs import annotations, prompt
from runtime.runs.arguments import StreamedArgument, argument
from runtime.runs.job import Job, Recorder
from runtime.runs.tools import ToolError

log = logging.getLogger("assistd.runs")

IGNORED = "ignored"  # the kind of a built-in call made past the job's max_tool_calls


class Incomplete(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Failed(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Answer:
    """The text the model is writing, and how much of it has been shown."""

    text: str = ""
    shown: int = 0


@dataclass
class Call:
    """A tool call the model is writing: its id, name and kind once known, its arguments so far, and
    its index in the job's tool calls once started."""

    id: str = ""
    name: str = ""
    kind: str = ""
    arguments: str = ""
    index: int | None = None
    code: StreamedArgument | None = None


@dataclass
class Turn:
    """What one model call produced."""

    kinds: dict
    answer: Answer | None = None
    calls: dict[int, Call] = field(default_factory=dict)  # by the model's call index
    completion: Completion | None = None

    @property
    def started(self) -> list[Call]:
        return [call for _, call in sorted(self.calls.items()) if call.index is not None]

    @property
    def written(self) -> list[Call]:
        return [call for _, call in sorted(self.calls.items()) if call.kind]


class RunLoop:
    """Drives one job from `in_progress` to its next resting state."""

    def __init__(self, engine, job: Job, recorder: Recorder):
        self.engine, self.job, self.rec = engine, job, recorder
        self.settings = engine.settings
        self.transcript = job.transcript

    async def run_to_rest(self) -> None:
        try:
            await self._loop()
        except ModelError as exc:
            self._fail(exc.code, exc.message)
        except Failed as exc:
            self._fail(exc.code, exc.message)
        except Incomplete as exc:
            self.rec.incomplete(exc.reason)

    def _fail(self, code: str, message: str) -> None:
        log.warning("job %s failed: %s", self.job.id, message)
        self.rec.failed(code, message)

    async def _loop(self) -> None:
        self.rec.started()
        await self.job.prepare()
        while True:
            if self.transcript["turns"] >= self.settings.run_max_steps:
                raise Failed(
                    "server_error",
                    f"The run took more than {self.settings.run_max_steps} model calls; "
                    "raise ASSISTD_RUN_MAX_STEPS to allow more.",
                )
            turn = await self._call_model()
            self.transcript["turns"] += 1
            if not turn.written:
                self.job.save_transcript()
                self.rec.completed()
                return
            if await self._run_tools(turn) == "requires_action":
                return

    # The prompt

    def prompt(self) -> tuple[list[dict], list[dict], dict]:
        """The next model call's messages (truncated as the job asks), tools and tool kinds."""
        limit = self.job.settings.max_tool_calls
        builtins = limit is None or self.transcript.get("tool_calls", 0) < limit
        tools, kinds = prompt.model_tools(self.job.tools, builtins)
        system = self.job.instructions(prompt.CODE_TOOL in kinds).strip()
        fixed = [{"role": "system", "content": system}] if system else []
        own = self.transcript["messages"]
        try:
            kept = prompt.truncate(
                self.job.history(),
                fixed + own,
                self.job.settings.truncation,
                self.settings.model_context_tokens,
                self.engine.count_tokens,
            )
        except prompt.ContextTooLong as exc:
            raise Failed("context_length_exceeded", str(exc)) from exc
        return fixed + kept + own, tools, kinds

    # The model call

    async def _call_model(self) -> Turn:
        messages, tools, kinds = self.prompt()
        settings = self.job.settings
        used = self.transcript.get("usage") or prompt.empty_usage()
        prompt_tokens = prompt.prompt_tokens(messages, tools, self.engine.count_tokens)
        limit = settings.max_prompt_tokens
        if limit and used["prompt_tokens"] + prompt_tokens > limit:
            raise Incomplete("max_prompt_tokens")
        max_tokens = None
        if settings.max_output_tokens:
            max_tokens = settings.max_output_tokens - used["completion_tokens"]
            if max_tokens <= 0:
                raise Incomplete("max_output_tokens")

        turn = Turn(kinds)
        stream = self.engine.model.stream_chat(
            model=settings.model,
            messages=messages,
            tools=tools or None,
            tool_choice=prompt.offered_choice(settings.tool_choice, tools) if tools else None,
            parallel_tool_calls=settings.parallel_tool_calls if tools else None,
            temperature=settings.temperature,
            top_p=settings.top_p,
            max_tokens=max_tokens,
            response_format=settings.response_format,
        )
        try:
            async for event in stream:
                if isinstance(event, TextDelta) and event.text:
                    await self._add_text(turn, event.text)
                elif isinstance(event, ToolCallDelta):
                    await self._add_call_delta(turn, event)
                elif isinstance(event, Completion):
                    turn.completion = event
        except asyncio.CancelledError:
            self.rec.save_open_work()  # keep what was said so far in the incomplete message
            raise
        completion = turn.completion
        if completion is None:
            raise ModelError("server_error", "The model stream ended without a completion.")

        usage = self._usage(completion, prompt_tokens)
        self.transcript["usage"] = prompt.add_usage(used, usage)
        self.rec.model_call_done(usage, self.transcript["usage"])
        if turn.answer is not None:
            length = completion.finish_reason == "length"
            await self._finish_answer(turn, "incomplete" if length else "completed")
        self._finish_calls(turn)
        if completion.finish_reason == "length" and settings.max_output_tokens:
            raise Incomplete("max_output_tokens")
        self.transcript["kinds"] = kinds
        return turn

    def _usage(self, completion: Completion, prompt_tokens: int) -> dict:
        """The endpoint's own count, else ours with the tokenizer that truncates the prompt."""
        if completion.usage:
            return completion.usage.as_dict()
        produced = prompt.completion_tokens(
            completion.text, [(c.name, c.arguments) for c in completion.tool_calls], self.engine.count_tokens
        )
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": produced,
            "total_tokens": prompt_tokens + produced,
        }

    # The answer

    async def _add_text(self, turn: Turn, text: str) -> None:
        """Stream a piece of the answer; the first opens its message."""
        opening = turn.answer is None
        if opening:
            turn.answer = Answer()
        turn.answer.text += text
        piece = await self._piece(turn.answer, annotations.settled(turn.answer.text))
        if opening:
            images, self.transcript["images"] = self.transcript["images"], []
            self.rec.message_started(images, piece)
        elif piece is not None:
            self.rec.text_added(*piece)

    async def _piece(self, answer: Answer, end: int) -> tuple[str, list[dict]] | None:
        """The answer from what was shown up to `end`, with the annotations of the markers and links
        it completes; None when there is nothing new to show."""
        if end <= answer.shown:
            return None
        text, start = answer.text, answer.shown
        answer.shown = end
        paths = {
            path: await self.job.export_file(path)
            for path, _, _ in annotations.sandbox_paths(text, start, end)
        }
        notes = annotations.citations(text, self.transcript["sources"], start, end)
        notes += annotations.file_paths(text, paths.get, start, end)
        return text[start:end], sorted(notes, key=lambda a: a["start_index"])

    async def _finish_answer(self, turn: Turn, status: str) -> None:
        answer, turn.answer = turn.answer, None
        piece = await self._piece(answer, len(answer.text))
        if piece is not None:
            self.rec.text_added(*piece)
        self.rec.message_finished(status)

    # Tool calls as the model writes them

    async def _add_call_delta(self, turn: Turn, delta: ToolCallDelta) -> None:
        call = turn.calls.setdefault(delta.index, Call())
        call.arguments += delta.arguments
        if not call.kind:
            if not delta.name:
                return
            if turn.answer is not None:  # the answer ends where the tool calls begin
                await self._finish_answer(turn, "completed")
            self._start_call(turn, call, delta.id, delta.name)
            self._stream_input(call, call.arguments)
        else:
            self._stream_input(call, delta.arguments)

    def _start_call(self, turn: Turn, call: Call, call_id: str, name: str) -> None:
        call.id, call.name = call_id, name
        call.kind = turn.kinds.get(name, "function")
        if call.kind != "function":
            limit = self.job.settings.max_tool_calls
            made = self.transcript.get("tool_calls", 0)
            if limit is not None and made >= limit:
                call.kind = IGNORED  # never shown; the model is told the call was not made
                return
            self.transcript["tool_calls"] = made + 1
        call.index = self.rec.tool_call_started(call.id, call.kind, name)
        if call.kind == "code_interpreter":
            call.code = StreamedArgument("code")

    def _stream_input(self, call: Call, fragment: str) -> None:
        """Show a fragment of a call's input: a function's arguments as they are, the code of a
        python call decoded out of its JSON arguments (a search's query shows with its results)."""
        if call.code:
            piece = call.code.feed(fragment)
        elif call.kind == "function":
            piece = fragment
        else:
            return
        if piece:
            self.rec.tool_input_added(call.index, piece)

    def _finish_calls(self, turn: Turn) -> None:
        """Show what the finished arguments hold of each call's code beyond what streamed."""
        for call in turn.started:
            rest = call.code.rest(call.arguments) if call.code else ""
            if rest:
                self.rec.tool_input_added(call.index, rest)
            self.rec.tool_input_done(call.index, call.arguments)

    # Running the tools

    async def _run_tools(self, turn: Turn) -> str:
        calls = turn.written
        self.transcript["messages"].append(
            {
                "role": "assistant",
                "content": turn.completion.text or None,
                "tool_calls": [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in calls
                ],
            }
        )
        waiting = []
        for call in calls:
            if call.kind == IGNORED:
                self._tool_result(call.id, "Not run: this response may make no more built-in tool calls.")
                continue
            if call.kind == "function":
                if call.name in turn.kinds:
                    waiting.append(call.index)
                else:
                    self._tool_result(call.id, f"Error: there is no tool named {call.name!r}.")
                    self.rec.tool_call_finished(call.index, None)
                continue
            try:
                output = await self._run_builtin(call)
            except ToolError as exc:
                self.rec.tool_calls_finished({"code": "server_error", "message": str(exc)})
                raise Failed("server_error", str(exc)) from exc
            self._tool_result(call.id, output)
        self.job.save_transcript()
        if waiting:
            self.rec.tool_calls_waiting(waiting)
            return "requires_action"
        self.rec.tool_calls_finished()
        return "continue"

    def _tool_result(self, call_id: str, output: str) -> None:
        self.transcript["messages"].append({"role": "tool", "tool_call_id": call_id, "content": output})

    async def _run_builtin(self, call: Call) -> str:
        tools = self.engine.tools
        if call.kind == "code_interpreter":
            code = argument(call.arguments, "code")
            self.rec.tool_call_running(call.index, code)
            result = await self.job.run_code(code)
            self.rec.tool_call_finished(call.index, result)
            self.transcript["images"].extend(result.image_file_ids)
            return result.model_text
        query = argument(call.arguments, "query")
        self.rec.tool_call_running(call.index, query)
        result = await tools.search(self.job.tools.search, query)
        call_index = len(self.transcript["sources"])
        self.transcript["sources"].append(
            [{"file_id": h["file_id"], "filename": h["filename"]} for h in result.hits]
        )
        self.rec.tool_call_finished(call.index, result)
        return tools.search_text(result, call_index)
