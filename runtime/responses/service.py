"""The Responses surface's service: checks a request against what is stored, builds the response,
and drives it with the engine's run loop; reads, deletes and lists what is stored.

A response is driven by a task of its own, started by the request: a streamed request follows its
events on the engine's hub (stream id = response id) until the final one, a plain request waits for
the task and returns the response. Driving it is one function (`_drive`) taking the response and
its history, so a job queue can take it over.

An assistant can stand for a stored configuration: `prompt: {"id": "asst_..."}` gives the response
the assistant's model, instructions (with `{{name}}` replaced by the prompt's string `variables`),
tools (its function tools, file_search over its vector stores, code_interpreter in an `auto`
container given its code interpreter files), temperature, top_p and
response format; fields of the request take precedence."""

import asyncio
import logging

from runtime.containers import CONTAINER
from runtime.errors import InvalidRequest, NotFound, not_found
from runtime.ids import PREFIXES, new_id
from runtime.responses import conversations
from runtime.responses.items import stored_item, unanswered
from runtime.responses.job import ResponseJob
from runtime.responses.objects import INPUT_ITEM, RESPONSE, TERMINAL, new_response, response_out
from runtime.responses.recorder import ResponseRecorder
from runtime.runs.loop import Failed, RunLoop
from runtime.store import Tx

log = logging.getLogger("assistd.responses")


def _from_assistant(tx: Tx, prompt: dict) -> dict:
    """The request fields an assistant supplies when a prompt names it."""
    assistant = tx.get("assistant", prompt["id"])
    if assistant is None:
        raise NotFound(f"No assistant found with id '{prompt['id']}' (prompt.id).", param="prompt.id")
    if prompt.get("version") is not None:
        raise InvalidRequest(
            "Assistants have no versions; leave 'prompt.version' out.", param="prompt.version"
        )
    instructions = assistant.get("instructions") or ""
    for name, value in (prompt.get("variables") or {}).items():
        instructions = instructions.replace("{{" + name + "}}", value)
    tools = []
    for tool in assistant["tools"]:
        if tool["type"] == "function":
            tools.append({"type": "function", **tool["function"]})
        elif tool["type"] == "file_search":
            store_ids = ((assistant.get("tool_resources") or {}).get("file_search") or {}).get(
                "vector_store_ids", []
            )
            options = tool.get("file_search") or {}
            tools.append(
                {
                    "type": "file_search",
                    "vector_store_ids": store_ids,
                    "max_num_results": options.get("max_num_results"),
                }
            )
        else:
            file_ids = ((assistant.get("tool_resources") or {}).get("code_interpreter") or {}).get(
                "file_ids", []
            )
            tools.append({"type": "code_interpreter", "container": {"type": "auto", "file_ids": file_ids}})
    fields = {
        "model": assistant["model"],
        "instructions": instructions or None,
        "tools": tools,
        "temperature": assistant.get("temperature"),
        "top_p": assistant.get("top_p"),
    }
    fmt = assistant.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        fields["text"] = {"format": {"type": "json_schema", **fmt["json_schema"]}}
    elif isinstance(fmt, dict):
        fields["text"] = {"format": {"type": fmt["type"]}}
    return fields


def _code_tool_out(tx: Tx, containers, tool: dict, param: str) -> dict:
    """A code_interpreter tool checked: its container running, or its `auto` files found."""
    container = tool["container"]
    if isinstance(container, str):
        containers.usable(container, param=f"{param}.container")
        return {"type": "code_interpreter", "container": container}
    file_ids = container.get("file_ids") or []
    for index, file_id in enumerate(file_ids):
        if tx.get("file", file_id) is None:
            raise NotFound(
                f"No file found with id '{file_id}'.", param=f"{param}.container.file_ids[{index}]"
            )
    containers.memory_bytes(container.get("memory_limit"), f"{param}.container.memory_limit")
    auto = {"type": "auto", "file_ids": file_ids, "memory_limit": container.get("memory_limit")}
    return {"type": "code_interpreter", "container": auto}


def _tools_out(tx: Tx, containers, tools: list[dict]) -> list[dict]:
    out = []
    for index, tool in enumerate(tools):
        if tool["type"] == "code_interpreter":
            out.append(_code_tool_out(tx, containers, tool, f"tools[{index}]"))
            continue
        if tool["type"] == "function":
            out.append(
                {
                    "type": "function",
                    "name": tool["name"],
                    "description": tool.get("description"),
                    "parameters": tool.get("parameters"),
                    "strict": True if tool.get("strict") is None else tool["strict"],
                }
            )
            continue
        for store_id in tool["vector_store_ids"]:
            if tx.get("vector_store", store_id) is None:
                raise InvalidRequest(
                    f"No vector store found with id '{store_id}'.", param=f"tools[{index}].vector_store_ids"
                )
        ranking = tool.get("ranking_options") or {}
        out.append(
            {
                "type": "file_search",
                "vector_store_ids": tool["vector_store_ids"],
                "filters": tool.get("filters"),
                "max_num_results": tool.get("max_num_results") or 20,
                "ranking_options": {"ranker": "auto", "score_threshold": 0.0, **ranking},
            }
        )
    for kind in ("file_search", "code_interpreter"):
        if sum(t["type"] == kind for t in out) > 1:
            raise InvalidRequest(f"Give at most one {kind} tool.", param="tools")
    return out


def _live_container(tx: Tx, containers, previous_id: str | None, conversation_id: str | None) -> str | None:
    """The running container an `auto` code_interpreter reuses: the newest one of the
    previous_response_id chain, or of the conversation's code interpreter calls."""
    found = []
    if conversation_id:
        items = tx.all(conversations.ITEM, conversation_id)
        found = [i["container_id"] for i in reversed(items) if i.get("type") == "code_interpreter_call"]
    while previous_id:
        previous = tx.get(RESPONSE, previous_id)
        if previous is None:
            break
        found.append(previous.get("_container_id"))
        previous_id = previous.get("previous_response_id")
    for container_id in found:
        row = tx.get(CONTAINER, container_id) if container_id else None
        if row is not None and row["status"] == "running":
            return container_id
    return None


def _check_tool_choice(choice, tools: list[dict]):
    if not isinstance(choice, dict):
        return choice or "auto"
    if choice["type"] == "function":
        if not any(t["type"] == "function" and t["name"] == choice["name"] for t in tools):
            raise InvalidRequest(
                f"tool_choice names the function '{choice['name']}', which is not among the tools.",
                param="tool_choice.name",
            )
    elif not any(t["type"] == choice["type"] for t in tools):
        raise InvalidRequest(
            f"tool_choice asks for '{choice['type']}', which is not among the tools.", param="tool_choice"
        )
    return choice


def _check_files(tx: Tx, items: list[dict]) -> None:
    for index, item in enumerate(items):
        for part in item.get("content") or [] if item["type"] == "message" else []:
            if isinstance(part, dict) and part.get("file_id") and tx.get("file", part["file_id"]) is None:
                raise InvalidRequest(
                    f"No file found with id '{part['file_id']}'.",
                    param=f"input[{index}]",
                    code="file_not_found",
                )


def history(tx: Tx, previous_id: str | None, conversation_id: str | None) -> list[dict]:
    """The items before a response: its previous responses' inputs and outputs, oldest first, or
    its conversation's items."""
    if conversation_id:
        return [conversations.item_out(i) for i in tx.all(conversations.ITEM, conversation_id)]
    chain = []
    while previous_id:
        previous = tx.get(RESPONSE, previous_id)
        if previous is None:
            break
        chain.append(previous)
        previous_id = previous.get("previous_response_id")
    items: list[dict] = []
    for previous in reversed(chain):
        items += tx.all(INPUT_ITEM, previous["id"]) + previous["output"]
    return items


class Responses:
    def __init__(self, engine, containers):
        self.engine, self.store, self.containers = engine, engine.store, containers
        self._tasks: dict[str, asyncio.Task] = {}  # the responses this process drives, by id

    async def start(self) -> None:
        self.engine.on_worker_dead.append(self.settle)
        self.engine.drivers[PREFIXES["response"]] = self.drive_stored

    def settle(self, dead: list[str]) -> None:
        """Fail the responses that stopped processes left queued or in progress."""
        for status in ("queued", "in_progress"):
            for response in self.store.all(RESPONSE, where={"status": status}):
                if response.get("_worker") in dead:
                    ResponseRecorder(self.store, self.engine.hub, response, []).failed(
                        "server_error",
                        "The server process running this response stopped or restarted while it ran.",
                    )

    async def cancel(self, response_id: str) -> dict:
        """Cancel a background response (where it runs: here, or in the process a notice reaches);
        one that has ended is returned as it is."""
        with self.store.tx() as tx:
            response = self.get(tx, response_id)
        if not response["background"]:
            raise InvalidRequest(
                "Only responses created with background=true can be cancelled.", param="response_id"
            )
        if response["status"] in TERMINAL:
            return response_out(response)
        if self.engine.work.take_unclaimed(response_id):  # still queued: no process drives it
            ResponseRecorder(self.store, self.engine.hub, response, []).cancelled()
        else:
            await self.engine.cancel_job(response_id)
        with self.store.tx() as tx:
            return response_out(self.get(tx, response_id))

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # Creating

    def _build(self, body: dict) -> tuple[dict, list[dict], list[dict]]:
        """The response a request asks for, its input items, and the items before them."""
        if body.get("background") and body.get("store") is False:
            raise InvalidRequest(
                "Background responses must be stored: leave 'store' true.", param="background"
            )
        if body.get("previous_response_id") and body.get("conversation"):
            raise InvalidRequest(
                "Mutually exclusive parameters: Ensure you are only providing one of: "
                "'previous_response_id' or 'conversation'.",
                param="previous_response_id",
            )
        with self.store.tx() as tx:
            fields = _from_assistant(tx, body["prompt"]) if body.get("prompt") else {}
            fields.update({k: v for k, v in body.items() if v is not None})
            if not fields.get("model"):
                raise InvalidRequest("Missing required parameter: 'model'.", param="model")
            previous_id = body.get("previous_response_id")
            if previous_id and tx.get(RESPONSE, previous_id) is None:
                raise NotFound(
                    f"Previous response with id '{previous_id}' not found.",
                    param="previous_response_id",
                    code="previous_response_not_found",
                )
            conversation = body.get("conversation")
            conversation_id = (
                conversation if isinstance(conversation, str) else (conversation or {}).get("id")
            )
            if conversation_id:
                conversations.get_conversation(tx, conversation_id)
            fields["conversation"] = {"id": conversation_id} if conversation_id else None
            fields["tools"] = _tools_out(tx, self.containers, fields.get("tools") or [])
            fields["tool_choice"] = _check_tool_choice(fields.get("tool_choice"), fields["tools"])
            given = fields.pop("input", None)
            given = (
                [{"type": "message", "role": "user", "content": given}] if isinstance(given, str) else given
            )
            input_items = [stored_item(item) for item in given or []]
            _check_files(tx, input_items)
            before = history(tx, previous_id, conversation_id)
            container_id = _live_container(tx, self.containers, previous_id, conversation_id)
        waiting, stray = unanswered(before + input_items)
        if waiting:
            raise InvalidRequest(f"No tool output found for function call {waiting[0]}.", param="input")
        if stray:
            raise InvalidRequest(
                f"No tool call found for function call output with call_id {stray[0]}.", param="input"
            )
        sent = {k: body.get(k, fields.get(k)) for k in ("temperature", "top_p")}
        for key in ("stream", "stream_options", "background", "include", "service_tier"):
            fields.pop(key, None)
        if body.get("store") is None:
            fields["store"] = True
        response = new_response(new_id("response"), fields, sent, body.get("include") or [])
        if body.get("background"):
            response.update(background=True, status="queued")
        response["_container_id"] = self._container(response, container_id)
        response["_worker"] = self.engine.work.id
        return response, input_items, before

    def _container(self, response: dict, live: str | None) -> str | None:
        """The container the response's code runs in: the tool's, or for `auto` the live one it
        reuses, else a new one (its kernel starts when the response starts)."""
        tool = next((t for t in response["tools"] if t["type"] == "code_interpreter"), None)
        if tool is None:
            return None
        if isinstance(tool["container"], str):
            return tool["container"]
        if live is not None:
            return live
        name = f"Code interpreter of {response['id']}"
        return self.containers.new(name, tool["container"]["memory_limit"], None, "tools")["id"]

    async def create(self, body: dict, base_url: str) -> "Started":
        response, input_items, before = self._build(body)
        response["_base_url"] = base_url
        job = ResponseJob(self.engine, self.containers, response, before + input_items)
        recorder = ResponseRecorder(self.store, self.engine.hub, response, input_items, base_url)
        loop = RunLoop(self.engine, job, recorder)
        if response["truncation"] == "disabled":
            try:
                loop.prompt()
            except Failed as exc:
                raise InvalidRequest(exc.message, param="input", code=exc.code) from exc
        cursor = -1 if body.get("stream") else None  # a new stream: from its first event
        recorder.created()
        if response["background"]:  # a worker process takes it, from the database
            recorder.queued()
            await self.engine.hub.flush()  # its first events are stored before a worker numbers more
            with self.store.tx() as tx:
                self.engine.work.enqueue_job(tx, response["id"])
            self.engine.submit()
            return Started(self.engine.hub, recorder, None, cursor)
        task = asyncio.create_task(self._drive(loop, recorder))
        self._tasks[response["id"]] = task
        task.add_done_callback(lambda _: self._tasks.pop(response["id"], None))
        return Started(self.engine.hub, recorder, task, cursor)

    async def drive_stored(self, response_id: str) -> None:
        """Drive a background response a worker claimed: rebuilt from what is stored."""
        with self.store.tx() as tx:
            response = self.get(tx, response_id)
            input_items = tx.all(INPUT_ITEM, response_id)
            conversation = (response.get("conversation") or {}).get("id")
            before = history(tx, response.get("previous_response_id"), conversation)
        if response["status"] != "queued":
            return  # cancelled while it waited
        response["_worker"] = self.engine.work.id
        job = ResponseJob(self.engine, self.containers, response, before + input_items)
        first_seq = self.engine.hub.last(response_id) + 1
        recorder = ResponseRecorder(
            self.store, self.engine.hub, response, input_items, response["_base_url"], first_seq
        )
        await self._drive(RunLoop(self.engine, job, recorder), recorder)

    async def _drive(self, loop: RunLoop, recorder: ResponseRecorder) -> None:
        try:
            await loop.run_to_rest()
        except asyncio.CancelledError:
            recorder.cancelled()
        except Exception as exc:
            log.exception("response %s crashed", recorder.response_id)
            recorder.failed("server_error", f"Internal error: {exc}")

    # Reading

    def get(self, tx: Tx, response_id: str) -> dict:
        response = tx.get(RESPONSE, response_id)
        if response is None:
            raise not_found("response", response_id)
        return response

    def delete(self, response_id: str) -> dict:
        with self.store.tx() as tx:
            response = self.get(tx, response_id)
            if response["status"] not in TERMINAL:
                raise InvalidRequest(
                    f"Cannot delete response '{response_id}' while it is {response['status']}.",
                    param="response_id",
                )
            tx.delete(RESPONSE, response_id)
            tx.delete_children(response_id, [INPUT_ITEM])
        return {"id": response_id, "object": "response.deleted", "deleted": True}


class Started:
    """A response that has started: its events as server-sent events, or its end."""

    def __init__(self, hub, recorder: ResponseRecorder, task: asyncio.Task | None, cursor: int | None):
        self.hub, self.recorder, self.task, self.cursor = hub, recorder, task, cursor

    def events(self):
        return self.hub.stream(self.recorder.response_id, self.cursor)

    async def result(self) -> dict:
        """The response once it ends; a background one as it is now (it runs on)."""
        if self.task is not None:
            await asyncio.wait([self.task])  # a request that goes away leaves the response running
        return response_out(self.recorder.response)
