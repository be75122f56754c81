"""One pass of a run: call the model, stream its answer, run the tools it asks for, repeat until it
answers, needs the client's function outputs, or hits a limit."""

import asyncio
import json
import logging
from dataclasses import dataclass

from runtime.model_client import Completion, ModelError, TextDelta
from runtime.runs import annotations, prompt
from runtime.runs.recorder import RunRecorder, add_usage
from runtime.runs.tools import ToolError

log = logging.getLogger("assistd.runs")


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
    """The assistant message being streamed, with its step."""

    message: dict | None = None
    step: dict | None = None
    index: int = 0


@dataclass
class Turn:
    """What one model call produced."""

    message: dict | None
    completion: Completion


class RunLoop:
    """Drives one run from `in_progress` to its next resting state."""

    def __init__(self, engine, recorder: RunRecorder):
        self.engine, self.rec = engine, recorder
        self.settings = engine.settings
        self.transcript = engine.transcript(recorder.run_id)

    @property
    def run(self) -> dict:
        return self.rec.run

    async def run_to_rest(self) -> None:
        try:
            await self._loop()
        except ModelError as exc:
            self._fail(exc.code, exc.message)
        except Failed as exc:
            self._fail(exc.code, exc.message)
        except Incomplete as exc:
            self.rec.stop_open_work("cancelled", "max_tokens")
            self.rec.set_run("incomplete", incomplete_details={"reason": exc.reason})

    def _fail(self, code: str, message: str) -> None:
        log.warning("run %s failed: %s", self.rec.run_id, message)
        self.rec.stop_open_work("failed", "run_failed")
        self.rec.set_run("failed", last_error={"code": code, "message": message})

    async def _loop(self) -> None:
        self.rec.set_run("in_progress")
        await self.engine.prepare_thread(self.run)
        while True:
            if self.transcript["turns"] >= self.settings.run_max_steps:
                raise Failed(
                    "server_error",
                    f"The run took more than {self.settings.run_max_steps} model calls; "
                    "raise ASSISTD_RUN_MAX_STEPS to allow more.",
                )
            turn = await self._call_model()
            self.transcript["turns"] += 1
            calls = turn.completion.tool_calls
            if not calls:
                self.engine.save_transcript(self.transcript)
                self.rec.set_run("completed")
                return
            if await self._run_tools(turn) == "requires_action":
                return

    # The model call

    async def _call_model(self) -> Turn:
        messages, tools, kinds = self.engine.build_prompt(self.run, self.transcript)
        used = self.run.get("usage") or {}
        estimate = prompt.prompt_tokens(messages, tools, self.engine.count_tokens)
        limit = self.run.get("max_prompt_tokens")
        if limit and used.get("prompt_tokens", 0) + estimate > limit:
            raise Incomplete("max_prompt_tokens")
        max_tokens = None
        if self.run.get("max_completion_tokens"):
            max_tokens = self.run["max_completion_tokens"] - used.get("completion_tokens", 0)
            if max_tokens <= 0:
                raise Incomplete("max_completion_tokens")

        answer = Answer()
        stream = self.engine.model.stream_chat(
            model=self.run["model"],
            messages=messages,
            tools=tools or None,
            tool_choice=prompt.model_tool_choice(self.run.get("tool_choice")) if tools else None,
            parallel_tool_calls=self.run.get("parallel_tool_calls") if tools else None,
            temperature=self.run.get("temperature"),
            top_p=self.run.get("top_p"),
            max_tokens=max_tokens,
            response_format=self._response_format(),
        )
        completion = None
        try:
            async for event in stream:
                if isinstance(event, TextDelta) and event.text:
                    self._add_text(answer, event.text)
                elif isinstance(event, Completion):
                    completion = event
        except asyncio.CancelledError:
            if answer.message is not None:  # keep what was said so far in the incomplete message
                self.rec.save_message(answer.message)
            raise
        if completion is None:
            raise ModelError("server_error", "The model stream ended without a completion.")
        message, text_index, step = answer.message, answer.index, answer.step

        usage = completion.usage.as_dict() if completion.usage else None
        self.rec.set_run(usage=add_usage(self.run.get("usage"), usage))
        if message is not None:
            await self._finish_message(message, text_index, completion)
            step["usage"] = usage if not completion.tool_calls else None
            self.rec.end_step(step, "completed" if completion.finish_reason != "length" else "cancelled")
        if completion.finish_reason == "length" and self.run.get("max_completion_tokens"):
            raise Incomplete("max_completion_tokens")
        self.transcript["last_usage"] = usage
        self.transcript["kinds"] = kinds
        return Turn(message, completion)

    def _add_text(self, answer: "Answer", text: str) -> None:
        """Stream a piece of the answer, opening its step and message at the first piece."""
        if answer.message is None:
            images = [
                {"type": "image_file", "image_file": {"file_id": f, "detail": "auto"}}
                for f in self.transcript["images"]
            ]
            self.transcript["images"] = []
            answer.step = self.rec.new_step(
                "message_creation", {"type": "message_creation", "message_creation": {"message_id": ""}}
            )
            answer.message = self.rec.new_message(
                images + [{"type": "text", "text": {"value": "", "annotations": []}}]
            )
            answer.index = len(images)
            answer.step["step_details"]["message_creation"]["message_id"] = answer.message["id"]
            self.rec.save_step(answer.step)
        answer.message["content"][answer.index]["text"]["value"] += text
        self.rec.message_delta(answer.message, answer.index, text)

    def _response_format(self):
        fmt = self.run.get("response_format")
        return fmt if isinstance(fmt, dict) else None

    async def _finish_message(self, message: dict, index: int, completion: Completion) -> None:
        text = message["content"][index]["text"]["value"]
        paths = {
            path: await self.engine.export_sandbox_file(self.run, path, self.transcript)
            for path, _, _ in annotations.sandbox_paths(text)
        }
        notes = annotations.citations(text, self.transcript["sources"]) + annotations.file_paths(
            text, paths.get
        )
        message["content"][index]["text"]["annotations"] = sorted(notes, key=lambda a: a["start_index"])
        message["attachments"] = [
            {"file_id": file_id, "tools": [{"type": "code_interpreter"}]}
            for file_id in paths.values()
            if file_id
        ]
        if completion.finish_reason == "length":
            self.rec.end_message(message, "incomplete", "max_tokens")
        else:
            self.rec.end_message(message, "completed")

    # Tools

    async def _run_tools(self, turn: Turn) -> str:
        completion, kinds = turn.completion, self.transcript["kinds"]
        calls = completion.tool_calls
        details: list[dict] = []
        for call in calls:
            kind = kinds.get(call.name)
            if kind == "code_interpreter":
                details.append(
                    {
                        "id": call.id,
                        "type": "code_interpreter",
                        "code_interpreter": {"input": _argument(call.arguments, "code"), "outputs": []},
                    }
                )
            elif kind == "file_search":
                details.append(
                    {
                        "id": call.id,
                        "type": "file_search",
                        "file_search": {
                            "ranking_options": self.engine.ranking_options(self.run),
                            "results": [],
                        },
                    }
                )
            else:
                details.append(
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments, "output": None},
                    }
                )
        step = self.rec.new_step("tool_calls", {"type": "tool_calls", "tool_calls": details})
        step["usage"] = self.transcript.get("last_usage")
        self.transcript["messages"].append(
            {
                "role": "assistant",
                "content": completion.text or None,
                "tool_calls": [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in calls
                ],
            }
        )

        waiting = []
        for index, detail in enumerate(details):
            if detail["type"] == "function":
                if detail["function"]["name"] not in kinds:
                    self._tool_result(
                        detail["id"], f"Error: there is no tool named {detail['function']['name']!r}."
                    )
                    detail["function"]["output"] = ""
                    continue
                waiting.append(detail)
                continue
            try:
                output = await self._run_builtin(detail)
            except ToolError as exc:
                self.rec.end_step(
                    self.rec.save_step(step), "failed", {"code": "server_error", "message": str(exc)}
                )
                raise Failed("server_error", str(exc)) from exc
            self._tool_result(detail["id"], output)
            self.rec.save_step(step)
            self.rec.step_delta(step, {"type": "tool_calls", "tool_calls": [{"index": index, **detail}]})
        self.engine.save_transcript(self.transcript)

        if waiting:
            self.rec.save_step(step)
            self.rec.set_run(
                "requires_action",
                required_action={
                    "type": "submit_tool_outputs",
                    "submit_tool_outputs": {
                        "tool_calls": [
                            {
                                "id": d["id"],
                                "type": "function",
                                "function": {
                                    "name": d["function"]["name"],
                                    "arguments": d["function"]["arguments"],
                                },
                            }
                            for d in waiting
                        ]
                    },
                },
            )
            return "requires_action"
        self.rec.end_step(step, "completed")
        return "continue"

    def _tool_result(self, call_id: str, output: str) -> None:
        self.transcript["messages"].append({"role": "tool", "tool_call_id": call_id, "content": output})

    async def _run_builtin(self, detail: dict) -> str:
        if detail["type"] == "code_interpreter":
            code = detail["code_interpreter"]["input"]
            result = await self.engine.tools.run_code(self.run, code)
            detail["code_interpreter"]["outputs"] = result.outputs
            self.transcript["images"].extend(result.image_file_ids)
            return result.model_text
        query = self._pending_query(detail["id"])
        options = detail["file_search"]["ranking_options"]
        results = await self.engine.tools.search(self.run, query, options["score_threshold"])
        call_index = len(self.transcript["sources"])
        self.transcript["sources"].append(
            [{"file_id": r["file_id"], "filename": r["file_name"]} for r in results]
        )
        detail["file_search"]["results"] = results
        return self.engine.tools.search_text(query, call_index, results)

    def _pending_query(self, call_id: str) -> str:
        for call in self.transcript["messages"][-1]["tool_calls"]:
            if call["id"] == call_id:
                return _argument(call["function"]["arguments"], "query")
        return ""


def _argument(arguments: str, name: str) -> str:
    """The named string argument of a built-in tool call; a model that sent bare text meant the value."""
    try:
        parsed = json.loads(arguments)
    except (json.JSONDecodeError, TypeError):
        return arguments or ""
    if isinstance(parsed, dict):
        value = parsed.get(name)
        if value is None and len(parsed) == 1:
            value = next(iter(parsed.values()))
        return value if isinstance(value, str) else json.dumps(value) if value is not None else ""
    return parsed if isinstance(parsed, str) else arguments
