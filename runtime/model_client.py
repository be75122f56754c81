"""Client for the upstream OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp, OpenAI).

`ModelClient.stream_chat` streams one completion as events: `TextDelta` and `ToolCallDelta` as they
arrive, then one `Completion` that assembles the whole answer. A call's id is fixed at its first
fragment and every `ToolCallDelta` carries it (and the name once known), so a listener can show a
call as it streams. `Completion.usage` is the endpoint's own count, or None when it reports none
(llama.cpp ignores `stream_options.include_usage`; an all-zero usage counts as none). Failures raise
`ModelError` with an OpenAI run `last_error` code. Connection errors, timeouts, 429 and 5xx are
retried a bounded number of times, but only before anything was yielded, so output is never
duplicated.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)


class ModelError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class TextDelta:
    text: str


@dataclass
class ToolCallDelta:
    """A fragment of the arguments of the call at `index`, with the call's id and name so far."""

    index: int
    id: str
    name: str | None
    arguments: str


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def as_dict(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass
class Completion:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None


ModelEvent = TextDelta | ToolCallDelta | Completion


def _usage(reported) -> Usage | None:
    """The endpoint's usage, or None when it is malformed or all zero (nothing was counted)."""
    if not isinstance(reported, dict):
        return None
    prompt, completion = reported.get("prompt_tokens") or 0, reported.get("completion_tokens") or 0
    if not (isinstance(prompt, int) and isinstance(completion, int)) or prompt + completion <= 0:
        return None
    return Usage(prompt, completion, reported.get("total_tokens") or prompt + completion)


class _Retryable(Exception):
    def __init__(self, error: ModelError):
        self.error = error


class ModelClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        max_retries: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def list_models(self) -> list[dict]:
        try:
            response = await self._http.get(self.base_url + "/models")
        except httpx.HTTPError as exc:
            raise ModelError("server_error", self._describe(exc)) from exc
        if response.status_code != 200:
            raise self._status_error(response.status_code, response.text)
        return response.json().get("data", [])

    async def stream_chat(
        self,
        *,
        model: str,
        messages: list[dict],
        tools: list[dict] | None = None,
        tool_choice=None,
        parallel_tool_calls: bool | None = None,
        temperature=None,
        top_p=None,
        max_tokens: int | None = None,
        response_format=None,
    ) -> AsyncIterator[ModelEvent]:
        body = {
            "model": model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "tools": tools,
            "tool_choice": tool_choice,
            "parallel_tool_calls": parallel_tool_calls,
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_tokens,
            "response_format": response_format,
        }
        body = {k: v for k, v in body.items() if v is not None}
        for attempt in range(self.max_retries + 1):
            yielded = False
            try:
                async for event in self._stream_once(body):
                    yielded = True
                    yield event
                return
            except _Retryable as retry:
                if yielded or attempt >= self.max_retries:
                    raise retry.error from None
                await asyncio.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])

    async def _stream_once(self, body: dict) -> AsyncIterator[ModelEvent]:
        url = self.base_url + "/chat/completions"
        try:
            async with self._http.stream("POST", url, json=body) as response:
                if response.status_code != 200:
                    text = (await response.aread()).decode("utf-8", "replace")
                    error = self._status_error(response.status_code, text)
                    if response.status_code == 429 or response.status_code >= 500:
                        raise _Retryable(error)
                    raise error
                async for event in self._parse(response):
                    yield event
        except httpx.HTTPError as exc:
            raise _Retryable(ModelError("server_error", self._describe(exc))) from exc

    async def _parse(self, response: httpx.Response) -> AsyncIterator[ModelEvent]:
        completion = Completion()
        calls: dict[int, dict] = {}
        done = False
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                break
            try:
                chunk = json.loads(data)
            except json.JSONDecodeError as exc:
                raise ModelError(
                    "server_error", f"The model endpoint sent a malformed stream chunk: {data[:200]!r}"
                ) from exc
            if not isinstance(chunk, dict):
                raise ModelError(
                    "server_error", f"The model endpoint sent a malformed stream chunk: {data[:200]!r}"
                )
            if chunk.get("error"):
                message = (
                    chunk["error"].get("message") if isinstance(chunk["error"], dict) else chunk["error"]
                )
                raise ModelError("server_error", f"The model endpoint reported an error: {message}")
            if chunk.get("usage"):
                completion.usage = _usage(chunk["usage"]) or completion.usage
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    completion.text += delta["content"]
                    yield TextDelta(delta["content"])
                for call in delta.get("tool_calls") or []:
                    index = call.get("index", 0)
                    fn = call.get("function") or {}
                    slot = calls.setdefault(
                        index, {"id": call.get("id") or f"call_{index}", "name": None, "arguments": ""}
                    )
                    slot["name"] = slot["name"] or fn.get("name")
                    slot["arguments"] += fn.get("arguments") or ""
                    yield ToolCallDelta(index, slot["id"], slot["name"], fn.get("arguments") or "")
                if choice.get("finish_reason"):
                    completion.finish_reason = choice["finish_reason"]
        if not done and completion.finish_reason is None:
            raise ModelError("server_error", "The model stream ended before it finished (no [DONE]).")
        completion.tool_calls = [
            ToolCall(slot["id"], slot["name"], slot["arguments"])
            for index, slot in sorted(calls.items())
            if slot["name"]
        ]
        yield completion

    def _describe(self, exc: httpx.HTTPError) -> str:
        url = str(exc.request.url) if getattr(exc, "_request", None) is not None else self.base_url
        if isinstance(exc, httpx.TimeoutException):
            return (
                f"The model endpoint {url} did not answer within {self.timeout:g} s (ASSISTD_MODEL_TIMEOUT)."
            )
        if isinstance(exc, httpx.ConnectError):
            return f"Could not connect to the model endpoint {url} (ASSISTD_MODEL_BASE_URL): {exc}"
        return f"The connection to the model endpoint {url} failed: {exc!r}"

    @staticmethod
    def _status_error(status: int, text: str) -> ModelError:
        try:
            detail = json.loads(text).get("error", {})
            message = detail.get("message") if isinstance(detail, dict) else str(detail)
        except (ValueError, AttributeError):
            message = text[:300]
        code = (
            "rate_limit_exceeded" if status == 429 else "invalid_prompt" if status == 400 else "server_error"
        )
        return ModelError(code, f"The model endpoint answered HTTP {status}: {message}")
