"""The Responses API's stored objects: the `response` (with its output items) and its input items,
and how they leave the server.

A response is stored whole as one document; its input items are stored beside it (kind
`response.item`, parent the response). Keys starting with `_` are the server's own (what the request
asked of the model, which fields it included) and never leave. File search results stay in the
stored items; they leave only when `include` asks for `file_search_call.results`, and so do code
interpreter outputs (logs, images) for `code_interpreter_call.outputs`."""

from runtime.ids import now

RESPONSE = "response"
INPUT_ITEM = "response.item"
SEARCH_RESULTS = "file_search_call.results"
CODE_OUTPUTS = "code_interpreter_call.outputs"
INCLUDABLE = (SEARCH_RESULTS, CODE_OUTPUTS)  # what `include` may ask for
TERMINAL = {"completed", "failed", "cancelled", "incomplete"}


def usage_out(total: dict) -> dict:
    """The job's usage as a response shows it."""
    return {
        "input_tokens": total["prompt_tokens"],
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": total["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": total["total_tokens"],
    }


def item_out(item: dict, include: list[str]) -> dict:
    if item["type"] == "file_search_call" and SEARCH_RESULTS not in include:
        return {**item, "results": None}
    if item["type"] == "code_interpreter_call" and CODE_OUTPUTS not in include:
        return {**item, "outputs": None}
    return item


def response_out(response: dict, include: list[str] | None = None) -> dict:
    """A response as the API returns it."""
    include = response.get("_include", []) if include is None else include
    out = {k: v for k, v in response.items() if not k.startswith("_")}
    out["output"] = [item_out(item, include) for item in response["output"]]
    return out


def new_response(response_id: str, fields: dict, sent: dict, include: list[str]) -> dict:
    """A response in progress: `fields` are the request's settings resolved (model, instructions,
    tools as echoed...), `sent` what the model calls send of them."""
    response = {
        "id": response_id,
        "object": "response",
        "created_at": now(),
        "status": "in_progress",
        "background": False,
        "completed_at": None,
        "conversation": None,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "max_tool_calls": None,
        "metadata": {},
        "model": None,
        "output": [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt": None,
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": None,
        "user": None,
    }
    response.update({k: v for k, v in fields.items() if v is not None})
    response["_sent"], response["_include"] = sent, include
    return response
