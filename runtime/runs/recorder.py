"""Writes a run's progress as the Assistants API shows it: every change to the run, its steps and its
messages is stored and published as the matching stream event, in OpenAI's order.

The run loop reports what happens in terms of no particular API (the `Recorder` of
runtime/runs/job.py): the model started an answer, wrote text, started a tool call, streamed its
input, the tool gave outputs, the call finished. This recorder turns those happenings into
Assistants objects (`thread.message`, `thread.run.step`) and their events with OpenAI's granularity:
an answer is a message-creation step naming its message, then `thread.message.created` with no
content, one delta per piece whose parts each carry their `index` (an annotation goes out with the
text it covers); a tool call opens a tool-calls step with no calls, its first step delta introduces
it (id, type, empty input), later deltas stream its code or arguments and its outputs; every array
element in a delta carries its `index`. The events leave through `emit`."""

from runtime.ids import new_id, now
from runtime.runs.events import Event, EventHub
from runtime.runs.tools import CodeResult, SearchResult
from runtime.store import Store

TERMINAL = {"completed", "failed", "cancelled", "incomplete", "expired"}
# The loop's limit names as a run's `incomplete_details.reason` gives them.
INCOMPLETE_REASONS = {"max_output_tokens": "max_completion_tokens"}


def _new_call(call_id: str, kind: str, name: str) -> dict:
    """A tool call as its first delta shows it: id, type and empty input."""
    body = {
        "code_interpreter": {"input": "", "outputs": []},
        "file_search": {},
        "function": {"name": name, "arguments": "", "output": None},
    }[kind]
    return {"id": call_id, "type": kind, kind: body}


def _results(hits: list[dict]) -> list[dict]:
    """Search hits as a file_search step shows its results."""
    return [
        {
            "file_id": hit["file_id"],
            "file_name": hit["filename"],
            "score": hit["score"],
            "content": [{"type": "text", "text": hit["text"]}],
        }
        for hit in hits
    ]


class RunRecorder:
    """Stores and announces one run's objects."""

    def __init__(self, store: Store, hub: EventHub, run: dict):
        self.store, self.hub, self.run = store, hub, run
        self._message: dict | None = None  # the answer being written, with its step
        self._message_step: dict | None = None
        self._tool_step: dict | None = None  # the tool calls being made

    @property
    def run_id(self) -> str:
        return self.run["id"]

    def emit(self, name: str, data: dict) -> None:
        self.hub.publish(self.run_id, Event(name, data))

    def reload(self) -> dict:
        self.run = self.store.get("thread.run", self.run_id, parent=self.run["thread_id"]) or self.run
        return self.run

    def set_run(self, status: str | None = None, **changes) -> dict:
        run = self.reload()
        if status:
            run["status"] = status
            stamp = {
                "in_progress": "started_at",
                "completed": "completed_at",
                "failed": "failed_at",
                "cancelled": "cancelled_at",
            }.get(status)
            if stamp and not (status == "in_progress" and run.get("started_at")):
                run[stamp] = now()
            if status != "requires_action":
                run["required_action"] = None
        run.update(changes)
        self.store.put("thread.run", run, parent=run["thread_id"])
        self.run = run
        if status:
            self.emit(f"thread.run.{status}", run)
        return run

    # The run's course

    def started(self) -> None:
        self.set_run("in_progress")

    def completed(self) -> None:
        self.set_run("completed")

    def failed(self, code: str, message: str) -> None:
        self.stop_open_work("failed", "run_failed")
        self.set_run("failed", last_error={"code": code, "message": message})

    def incomplete(self, reason: str) -> None:
        self.stop_open_work("cancelled", "max_tokens")
        self.set_run("incomplete", incomplete_details={"reason": INCOMPLETE_REASONS.get(reason, reason)})

    def model_call_done(self, usage: dict, total: dict) -> None:
        """Count one model call's usage on the run and on the step it produced."""
        self.set_run(usage=total)
        step = self._tool_step or self._message_step
        if step is not None:
            step["usage"] = usage

    # The answer

    def message_started(self, image_file_ids: list[str], first: tuple[str, list[dict]] | None) -> None:
        """The model began an answer, `first` its first piece if one is ready to show (text and
        annotations, as `text_added` takes them); images the run's code showed lead it. The step and
        the message are stored with their events and those of the first piece, in one transaction:
        sooner to a stream in another process."""
        message_id = new_id("thread.message")
        step = self._step(
            "message_creation", {"type": "message_creation", "message_creation": {"message_id": message_id}}
        )
        self._message = {
            "id": message_id,
            "object": "thread.message",
            "created_at": now(),
            "thread_id": self.run["thread_id"],
            "status": "in_progress",
            "incomplete_details": None,
            "completed_at": None,
            "incomplete_at": None,
            "role": "assistant",
            "content": [],
            "assistant_id": self.run["assistant_id"],
            "run_id": self.run_id,
            "attachments": [],
            "metadata": {},
        }
        objects = [
            ("thread.run.step", step, self.run_id),
            ("thread.message", self._message, self.run["thread_id"]),
        ]
        with self.hub.storing(self.run_id, objects):
            self._message_step = self._step_started(step)
            self.emit("thread.message.created", self._message)
            self.emit("thread.message.in_progress", self._message)
            for file_id in image_file_ids:
                part = {"type": "image_file", "image_file": {"file_id": file_id, "detail": "auto"}}
                self._message["content"].append(part)
                self._message_delta({"index": len(self._message["content"]) - 1, **part})
            if first is not None:
                self.text_added(*first)

    def text_added(self, text: str, annotations: list[dict]) -> None:
        """A piece of the answer, with the annotations of the spans it completes."""
        content = self._message["content"]
        if not content or content[-1]["type"] != "text":
            content.append({"type": "text", "text": {"value": "", "annotations": []}})
        part = content[-1]["text"]
        part["value"] += text
        first = len(part["annotations"])
        part["annotations"].extend(annotations)
        numbered = [{"index": first + i, **note} for i, note in enumerate(annotations)]
        self._message_delta(
            {"index": len(content) - 1, "type": "text", "text": {"value": text, "annotations": numbered}}
        )

    def message_finished(self, status: str = "completed") -> None:
        """The answer is over (`incomplete`: cut at the token limit); files it links to become its
        attachments."""
        message, step = self._message, self._message_step
        self._message = self._message_step = None
        files = [
            note["file_path"]["file_id"]
            for part in message["content"]
            if part["type"] == "text"
            for note in part["text"]["annotations"]
            if note["type"] == "file_path"
        ]
        message["attachments"] = [
            {"file_id": file_id, "tools": [{"type": "code_interpreter"}]} for file_id in dict.fromkeys(files)
        ]
        self._end_message(message, status, "max_tokens" if status == "incomplete" else None)
        self._end_step(step, "completed" if status == "completed" else "cancelled")

    def _message_delta(self, part: dict) -> None:
        self.emit(
            "thread.message.delta",
            {"id": self._message["id"], "object": "thread.message.delta", "delta": {"content": [part]}},
        )

    # Tool calls

    def tool_call_started(self, call_id: str, kind: str, name: str) -> int:
        """The model began a call (kind: code_interpreter, file_search or function); returns its index."""
        if self._tool_step is None:
            self._tool_step = self._new_step("tool_calls", {"type": "tool_calls", "tool_calls": []})
        calls = self._tool_step["step_details"]["tool_calls"]
        calls.append(_new_call(call_id, kind, name))
        self._step_delta(len(calls) - 1, _new_call(call_id, kind, name))
        return len(calls) - 1

    def tool_input_added(self, index: int, text: str) -> None:
        """More of a call's input: the code of a code_interpreter call, a function's arguments."""
        call = self._tool_step["step_details"]["tool_calls"][index]
        field = {"code_interpreter": "input", "function": "arguments"}[call["type"]]
        call[call["type"]][field] += text
        self._step_delta(index, {"type": call["type"], call["type"]: {field: text}})

    def tool_input_done(self, index: int, arguments: str) -> None:
        """The model finished writing the call (its input streamed already)."""

    def tool_call_running(self, index: int, tool_input: str) -> None:
        """A built-in call runs; a code call's input is the code its arguments hold."""
        call = self._tool_step["step_details"]["tool_calls"][index]
        if call["type"] == "code_interpreter":
            call["code_interpreter"]["input"] = tool_input

    def tool_call_finished(self, index: int, result: CodeResult | SearchResult | None) -> None:
        """A call's result (code outputs, search results, a function that named no tool) joins its
        details; code outputs also stream, each with its index."""
        call = self._tool_step["step_details"]["tool_calls"][index]
        if isinstance(result, CodeResult):
            outputs = [{"type": "logs", "logs": result.logs}] if result.logs else []
            outputs += [{"type": "image", "image": {"file_id": f}} for f in result.image_file_ids]
            call["code_interpreter"]["outputs"] = outputs
        elif isinstance(result, SearchResult):
            call["file_search"].update(ranking_options=result.ranking_options, results=_results(result.hits))
        else:
            call["function"]["output"] = ""
        self.save_step(self._tool_step)
        if isinstance(result, CodeResult) and outputs:
            outputs = [{"index": i, **output} for i, output in enumerate(outputs)]
            self._step_delta(index, {"type": call["type"], call["type"]: {"outputs": outputs}})

    def tool_calls_finished(self, error: dict | None = None) -> None:
        step, self._tool_step = self._tool_step, None
        self._end_step(step, "failed" if error else "completed", error)

    def tool_calls_waiting(self, indexes: list[int]) -> None:
        """The run stops for the client's outputs to these function calls (the step stays open)."""
        step, self._tool_step = self._tool_step, None
        self.save_step(step)
        calls = step["step_details"]["tool_calls"]
        waiting = [
            {
                "id": calls[i]["id"],
                "type": "function",
                "function": {
                    "name": calls[i]["function"]["name"],
                    "arguments": calls[i]["function"]["arguments"],
                },
            }
            for i in indexes
        ]
        self.set_run(
            "requires_action",
            required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": waiting}},
        )

    def _step_delta(self, index: int, call_delta: dict) -> None:
        self.emit(
            "thread.run.step.delta",
            {
                "id": self._tool_step["id"],
                "object": "thread.run.step.delta",
                "delta": {
                    "step_details": {"type": "tool_calls", "tool_calls": [{"index": index, **call_delta}]}
                },
            },
        )

    # Steps and messages in the store

    def _new_step(self, step_type: str, details: dict) -> dict:
        step = self._step(step_type, details)
        with self.hub.storing(self.run_id, [("thread.run.step", step, self.run_id)]):
            return self._step_started(step)

    def _step(self, step_type: str, details: dict) -> dict:
        return {
            "id": new_id("thread.run.step"),
            "object": "thread.run.step",
            "created_at": now(),
            "run_id": self.run_id,
            "assistant_id": self.run["assistant_id"],
            "thread_id": self.run["thread_id"],
            "type": step_type,
            "status": "in_progress",
            "cancelled_at": None,
            "completed_at": None,
            "expired_at": None,
            "failed_at": None,
            "last_error": None,
            "step_details": details,
            "usage": None,
            "metadata": {},
        }

    def _step_started(self, step: dict) -> dict:
        self.emit("thread.run.step.created", step)
        self.emit("thread.run.step.in_progress", step)
        return step

    def save_step(self, step: dict) -> dict:
        self.store.put("thread.run.step", step, parent=self.run_id)
        return step

    def _end_step(self, step: dict, status: str, last_error: dict | None = None) -> dict:
        step["status"] = status
        stamp = {
            "completed": "completed_at",
            "failed": "failed_at",
            "cancelled": "cancelled_at",
            "expired": "expired_at",
        }[status]
        step[stamp] = now()
        step["last_error"] = last_error
        self.save_step(step)
        self.emit(f"thread.run.step.{status}", step)
        return step

    def _end_message(self, message: dict, status: str, reason: str | None = None) -> dict:
        message["status"] = status
        if status == "completed":
            message["completed_at"] = now()
        else:
            message["incomplete_at"] = now()
            message["incomplete_details"] = {"reason": reason}
        self.store.put("thread.message", message, parent=self.run["thread_id"])
        self.emit(f"thread.message.{status}", message)
        return message

    def save_open_work(self) -> None:
        """Store what the open message and steps hold so far (a run stopped mid-answer keeps it)."""
        if self._message is not None:
            self.store.put("thread.message", self._message, parent=self.run["thread_id"])
        for step in (self._message_step, self._tool_step):
            if step is not None:
                self.save_step(step)

    def open_steps(self) -> list[dict]:
        return [s for s in self.store.all("thread.run.step", self.run_id) if s["status"] == "in_progress"]

    def open_messages(self) -> list[dict]:
        return self.store.all(
            "thread.message", self.run["thread_id"], where={"run_id": self.run_id, "status": "in_progress"}
        )

    def stop_open_work(self, step_status: str, message_reason: str) -> None:
        """Close steps and messages left open when a run ends early (keeping what they hold so far)."""
        self.save_open_work()
        self._message = self._message_step = self._tool_step = None
        for step in self.open_steps():
            self._end_step(step, step_status)
        for message in self.open_messages():
            self._end_message(message, "incomplete", message_reason)
