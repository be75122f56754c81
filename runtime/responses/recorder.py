"""Writes a response's progress as the Responses API shows it: the run loop's happenings (the
`Recorder` of runtime/runs/job.py) become output items and `response.*` stream events, in OpenAI's
order, so the SDKs' stream helpers accumulate them.

`response.created` comes first, then `response.in_progress`. An answer is a `message` item:
`output_item.added`, `content_part.added` (an empty `output_text`), one `output_text.delta` per
piece with `output_text.annotation.added` after the piece a citation closes, then
`output_text.done`, `content_part.done`, `output_item.done`. A citation marker the model copied
leaves the text and becomes a `file_citation` whose `index` is where it stood. A function call is a
`function_call` item whose arguments stream as `function_call_arguments.delta` up to `.done`; the
response completes when the model waits for function outputs (the client answers in a new response).
A search is a `file_search_call` item: `.in_progress`, `.searching` (its query), `.completed` (its
results). The response ends with `response.completed`, `response.incomplete` or `response.failed`.

Every event leaves through `emit`, which alone numbers them (`sequence_number`) and publishes them
on the stream of the response's id. A stored response is saved when it is created and when it
ends; one made in a conversation appends its input and output items to it as it ends (before the
final event, so a client that reads the conversation next finds them).

A python call is a `code_interpreter_call` item `{id: ci_..., status, container_id, code, outputs}`
in the response's container (runtime/containers.py). `tool_call_started` adds it (`status: in_progress`,
`code: ""`, `outputs: null`) and emits `response.code_interpreter_call.in_progress`;
`tool_input_added` emits `response.code_interpreter_call_code.delta`; `tool_input_done` emits
`response.code_interpreter_call_code.done` (the whole code); `tool_call_running` sets `status:
interpreting` and emits `response.code_interpreter_call.interpreting`; `tool_call_finished` sets
the `CodeResult` as `outputs` (`{type: logs, logs}` and `{type: image, url}` for each image, the
url the stored image file's content at the address the client used; they leave only when `include`
asks for `code_interpreter_call.outputs`), `status: completed`, and emits
`response.code_interpreter_call.completed` then `output_item.done`.
Images never open the answer (`message_started` ignores them); links to `sandbox:/mnt/data/NAME`
become `container_file_citation` annotations `{container_id, file_id (the container file),
filename, start_index, end_index}` on the text, which keeps them.
"""

import posixpath

from runtime.ids import new_id, now
from runtime.responses import conversations
from runtime.responses.objects import RESPONSE, item_out, response_out, usage_out
from runtime.runs.events import Event, EventHub
from runtime.runs.tools import CodeResult, SearchResult
from runtime.store import Store


class ResponseRecorder:
    """Builds and announces one response."""

    def __init__(
        self,
        store: Store,
        hub: EventHub,
        response: dict,
        input_items: list[dict],
        base_url: str = "",
        first_seq: int = 0,
    ):
        self.store, self.hub, self.response = store, hub, response
        self.base_url = base_url  # the server's address as the client reached it, for image urls
        self.input_items = input_items
        self.include = response["_include"]
        self._seq = first_seq  # a response taken over by a worker goes on from the events so far
        self._message: dict | None = None  # the answer being written
        self._filenames: dict[str, str] = {}  # of the files this response's searches found

    @property
    def response_id(self) -> str:
        return self.response["id"]

    def emit(self, name: str, data: dict) -> None:
        self.hub.publish(self.response_id, Event(name, {"type": name, **data, "sequence_number": self._seq}))
        self._seq += 1

    def _announce(self, name: str) -> None:
        self.emit(name, {"response": response_out(self.response, self.include)})

    # The response's course

    def created(self) -> None:
        """The response exists (stored when it is to be kept)."""
        if self.response["store"]:
            with self.store.tx() as tx:
                tx.insert(RESPONSE, self.response)
                for item in self.input_items:
                    tx.insert("response.item", item, parent=self.response_id)
        self._announce("response.created")

    def queued(self) -> None:
        """A background response waits for its turn (it starts at once here)."""
        self._announce("response.queued")

    def started(self) -> None:
        if self.response["status"] != "in_progress":
            self.response["status"] = "in_progress"
            self.save_open_work()
        self._announce("response.in_progress")

    def completed(self) -> None:
        self._end("completed")

    def failed(self, code: str, message: str) -> None:
        self._end("failed", error={"code": code, "message": message})

    def incomplete(self, reason: str) -> None:
        self._end("incomplete", incomplete_details={"reason": reason})

    def cancelled(self) -> None:
        self._end("cancelled")

    def _end(self, status: str, **changes) -> None:
        self._close_open_items("incomplete" if status != "completed" else "completed")
        self.response.update(status=status, **changes)
        if status == "completed":
            self.response["completed_at"] = now()
        conversation = (self.response.get("conversation") or {}).get("id")
        with self.store.tx() as tx:
            if self.response["store"]:
                tx.put(RESPONSE, self.response)
            if conversation and status in ("completed", "incomplete"):
                conversations.append_items(tx, conversation, [*self.input_items, *self.response["output"]])
        self._announce(f"response.{status}")

    def save_open_work(self) -> None:
        if self.response["store"]:
            self.store.put(RESPONSE, self.response)

    def model_call_done(self, usage: dict, total: dict) -> None:
        self.response["usage"] = usage_out(total)

    # Output items

    def _add_item(self, item: dict) -> int:
        self.response["output"].append(item)
        index = len(self.response["output"]) - 1
        self.emit("response.output_item.added", {"output_index": index, "item": item_out(item, self.include)})
        return index

    def _item_done(self, index: int) -> None:
        item = self.response["output"][index]
        self.emit("response.output_item.done", {"output_index": index, "item": item_out(item, self.include)})

    def _close_open_items(self, status: str) -> None:
        """End the answer and the calls the response leaves unfinished."""
        if self._message is not None:
            self.message_finished(status)
        for index, item in enumerate(self.response["output"]):
            if item["status"] in ("in_progress", "searching", "interpreting"):
                item["status"] = "incomplete"
                self._item_done(index)

    # The answer

    def message_started(self, image_file_ids: list[str], first: tuple[str, list[dict]] | None) -> None:
        item = {
            "id": new_id("message"),
            "type": "message",
            "status": "in_progress",
            "content": [],
            "role": "assistant",
        }
        index = self._add_item(item)
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        item["content"].append(part)
        self._message = {"index": index, "item": item, "part": part, "removed": 0, "seen": 0}
        self.emit(
            "response.content_part.added",
            {"item_id": item["id"], "output_index": index, "content_index": 0, "part": dict(part)},
        )
        if first is not None:
            self.text_added(*first)

    def text_added(self, text: str, annotations: list[dict]) -> None:
        """A piece of the answer; its citation markers leave the text and become annotations."""
        message, part = self._message, self._message["part"]
        start, kept, notes = message["seen"], "", []
        at = 0
        for note in annotations:
            first, last = note["start_index"] - start, note["end_index"] - start
            kept += text[at:first]
            index = len(part["text"]) + len(kept)
            if note["type"] == "file_citation":
                file_id = note["file_citation"]["file_id"]
                notes.append(
                    {
                        "type": "file_citation",
                        "file_id": file_id,
                        "filename": self._filenames.get(file_id, ""),
                        "index": index,
                    }
                )
                at = last
            else:
                notes.append(
                    {
                        "type": "container_file_citation",
                        "container_id": self.response["_container_id"],
                        "file_id": note["file_path"]["file_id"],
                        "filename": posixpath.basename(note["text"]),
                        "start_index": index,
                        "end_index": index + last - first,
                    }
                )
                at = first
        kept += text[at:]
        message["seen"] += len(text)
        ids = {"item_id": message["item"]["id"], "output_index": message["index"], "content_index": 0}
        if kept:
            part["text"] += kept
            self.emit("response.output_text.delta", {**ids, "delta": kept, "logprobs": []})
        for note in notes:
            part["annotations"].append(note)
            self.emit(
                "response.output_text.annotation.added",
                {**ids, "annotation_index": len(part["annotations"]) - 1, "annotation": note},
            )

    def message_finished(self, status: str) -> None:
        message, self._message = self._message, None
        item, part = message["item"], message["part"]
        ids = {"item_id": item["id"], "output_index": message["index"], "content_index": 0}
        self.emit("response.output_text.done", {**ids, "text": part["text"], "logprobs": []})
        self.emit("response.content_part.done", {**ids, "part": part})
        item["status"] = status
        self._item_done(message["index"])

    # Tool calls

    def tool_call_started(self, call_id: str, kind: str, name: str) -> int:
        if kind == "file_search":
            item = {
                "id": new_id("file_search_call"),
                "type": "file_search_call",
                "status": "in_progress",
                "queries": [],
                "results": None,
            }
            index = self._add_item(item)
            self.emit("response.file_search_call.in_progress", {"output_index": index, "item_id": item["id"]})
            return index
        if kind == "code_interpreter":
            item = {
                "id": new_id("code_interpreter_call"),
                "type": "code_interpreter_call",
                "status": "in_progress",
                "container_id": self.response["_container_id"],
                "code": "",
                "outputs": None,
            }
            index = self._add_item(item)
            self._code_event(".in_progress", index)
            return index
        item = {
            "id": new_id("function_call"),
            "type": "function_call",
            "status": "in_progress",
            "arguments": "",
            "call_id": call_id,
            "name": name,
        }
        return self._add_item(item)

    def _code_event(self, name: str, index: int, **data) -> None:
        item_id = self.response["output"][index]["id"]
        self.emit(
            f"response.code_interpreter_call{name}", {"output_index": index, "item_id": item_id, **data}
        )

    def tool_input_added(self, index: int, text: str) -> None:
        item = self.response["output"][index]
        if item["type"] == "code_interpreter_call":
            item["code"] += text
            self._code_event("_code.delta", index, delta=text)
            return
        item["arguments"] += text
        self.emit(
            "response.function_call_arguments.delta",
            {"item_id": item["id"], "output_index": index, "delta": text},
        )

    def tool_input_done(self, index: int, arguments: str) -> None:
        item = self.response["output"][index]
        if item["type"] == "code_interpreter_call":
            self._code_event("_code.done", index, code=item["code"])
        if item["type"] != "function_call":
            return
        item.update(arguments=arguments, status="completed")
        self.emit(
            "response.function_call_arguments.done",
            {"item_id": item["id"], "output_index": index, "name": item["name"], "arguments": arguments},
        )
        self._item_done(index)

    def tool_call_running(self, index: int, tool_input: str) -> None:
        item = self.response["output"][index]
        if item["type"] == "code_interpreter_call":
            item["status"] = "interpreting"
            self._code_event(".interpreting", index)
            return
        item.update(queries=[tool_input], status="searching")
        self.emit("response.file_search_call.searching", {"output_index": index, "item_id": item["id"]})

    def tool_call_finished(self, index: int, result: CodeResult | SearchResult | None) -> None:
        item = self.response["output"][index]
        if isinstance(result, CodeResult):
            outputs = [{"type": "logs", "logs": result.logs}] if result.logs else []
            outputs += [
                {"type": "image", "url": f"{self.base_url}/v1/files/{file_id}/content"}
                for file_id in result.image_file_ids
            ]
            item.update(status="completed", outputs=outputs)
            self._code_event(".completed", index)
            self._item_done(index)
            return
        if not isinstance(result, SearchResult):
            return  # a function call that named no tool: its item is done already
        item.update(
            status="completed",
            results=[
                {
                    "file_id": hit["file_id"],
                    "filename": hit["filename"],
                    "score": hit["score"],
                    "text": hit["text"],
                    "attributes": hit.get("attributes") or {},
                }
                for hit in result.hits
            ],
        )
        self._filenames.update((hit["file_id"], hit["filename"]) for hit in result.hits)
        self.emit("response.file_search_call.completed", {"output_index": index, "item_id": item["id"]})
        self._item_done(index)

    def tool_calls_finished(self, error: dict | None = None) -> None:
        """The calls' items are done one by one; a failed tool fails the response next."""

    def tool_calls_waiting(self, indexes: list[int]) -> None:
        """The client runs its functions and answers in a new response: this one is complete."""
        self.completed()
