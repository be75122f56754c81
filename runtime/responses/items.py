"""Items, the unit of the Responses and Conversations APIs: input items as they are stored (with
ids and statuses), and a list of items (earlier responses, a conversation, the new input) as the
chat messages the model reads.

Function calls become an assistant message's `tool_calls` (calls that follow an answer join its
message) and their outputs `tool` messages; a file search call given back becomes a call of the
`file_search` tool with its results as plain passages (no citation markers: those belong to the
response that searched), a code interpreter call a call of the python tool with its logs; system
and developer messages become system messages.
"""

import json
from collections.abc import Callable

from runtime.ids import new_id
from runtime.runs import prompt

ITEM_IDS = {
    "message": "message",
    "function_call": "function_call",
    "function_call_output": "function_call_output",
    "file_search_call": "file_search_call",
    "code_interpreter_call": "code_interpreter_call",
}


def stored_item(item: dict) -> dict:
    """An input item as stored: with its own id (kept when given) and a status."""
    out = {"id": item.get("id") or new_id(ITEM_IDS[item["type"]]), **item}
    if out["type"] == "message" and isinstance(out["content"], str):
        kind = "output_text" if out["role"] == "assistant" else "input_text"
        out["content"] = [{"type": kind, "text": out["content"]}]
        if kind == "output_text":
            out["content"][0]["annotations"] = []
    out.setdefault("status", "completed")
    return out


def _text(content: list[dict]) -> str:
    return "".join(p.get("text") or p.get("refusal") or "" for p in content)


def _user_content(content: list[dict], read_file) -> str | list[dict]:
    parts = []
    for part in content:
        if part["type"] == "input_image":
            image = (
                {"type": "image_url", "image_url": {"url": part["image_url"]}}
                if part.get("image_url")
                else prompt.image_part(part["file_id"], read_file)
            )
            if image:
                parts.append(image)
        else:
            parts.append({"type": "text", "text": part.get("text", "")})
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _call(call_id: str, name: str, arguments: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def search_passages(item: dict) -> str:
    results = item.get("results")
    if not results:
        return "No results." if results is not None else "[results not kept]"
    return "\n\n".join(f"{r['filename']}:\n{r['text']}" for r in results)


def chat_messages(items: list[dict], read_file: Callable[[str], tuple[bytes, str] | None]) -> list[dict]:
    out: list[dict] = []

    def add_call(call: dict) -> None:
        if out and out[-1]["role"] == "assistant":  # calls that follow an answer join its message
            out[-1].setdefault("tool_calls", []).append(call)
        else:
            out.append({"role": "assistant", "content": None, "tool_calls": [call]})

    for item in items:
        kind = item["type"]
        if kind == "message":
            role = item["role"]
            if role == "assistant":
                out.append({"role": "assistant", "content": _text(item["content"])})
            else:
                role = "user" if role == "user" else "system"
                out.append({"role": role, "content": _user_content(item["content"], read_file)})
        elif kind == "function_call":
            add_call(_call(item["call_id"], item["name"], item["arguments"]))
        elif kind == "function_call_output":
            output = item["output"]
            text = output if isinstance(output, str) else _text(output)
            out.append({"role": "tool", "tool_call_id": item["call_id"], "content": text})
        elif kind == "file_search_call":
            query = " ".join(item.get("queries") or [])
            add_call(_call(item["id"], prompt.SEARCH_TOOL, json.dumps({"query": query})))
            out.append({"role": "tool", "tool_call_id": item["id"], "content": search_passages(item)})
        elif kind == "code_interpreter_call":
            add_call(_call(item["id"], prompt.CODE_TOOL, json.dumps({"code": item.get("code") or ""})))
            logs = [o["logs"] for o in item.get("outputs") or [] if o["type"] == "logs"]
            out.append(
                {"role": "tool", "tool_call_id": item["id"], "content": "\n".join(logs) or "[no output]"}
            )
    return out


def unanswered(items: list[dict]) -> tuple[list[str], list[str]]:
    """Call ids of function calls with no output, and of outputs with no call."""
    calls = [i["call_id"] for i in items if i["type"] == "function_call"]
    outputs = [i["call_id"] for i in items if i["type"] == "function_call_output"]
    return [c for c in calls if c not in outputs], [o for o in outputs if o not in calls]
