"""A scripted model: a real HTTP server speaking OpenAI's chat-completions protocol (SSE streaming,
tool calls, usage), answering from a script instead of a language model. Tests and benchmarks point
`ASSISTD_MODEL_BASE_URL` at it; nothing inside assistd is patched.

    with ScriptedModel() as model:                 # default script, see `default_reply`
        model.push(tool_call("python", {"code": "print(1)"}), text("Done"))   # or queue replies
        model.script = lambda request: text("hi")  # or answer from the request

Tool-call arguments stream in 7-character pieces, cutting through JSON escapes as real servers do.
`ScriptedModel(usage=False)` never reports usage, like llama.cpp, which ignores
`stream_options.include_usage`.

Standalone: `python -m tests.support.scripted_model --port 9000`.
"""

import argparse
import itertools
import json
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # clients that hang up (cancelled runs, closed keep-alive connections) are normal here


@dataclass
class Reply:
    text: str = ""
    tool_calls: list[tuple[str, str]] = field(default_factory=list)  # (name, JSON arguments)
    status: int = 200
    error: str = ""
    malformed: bool = False
    hang: float = 0.0
    delay: float = 0.0  # seconds between streamed pieces
    piece: int = 6  # characters per streamed text piece
    finish_reason: str | None = None
    completion_tokens: int | None = None


def text(value: str, **options) -> Reply:
    return Reply(text=value, **options)


def tool_call(name: str, arguments: dict | str, **options) -> Reply:
    return calls([(name, arguments)], **options)


def calls(pairs: list[tuple[str, dict | str]], **options) -> Reply:
    encoded = [(n, a if isinstance(a, str) else json.dumps(a)) for n, a in pairs]
    return Reply(tool_calls=encoded, **options)


def error(status: int, message: str = "scripted failure") -> Reply:
    return Reply(status=status, error=message)


def last_user_text(request: dict) -> str:
    for message in reversed(request.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if p.get("type") == "text")
            return content or ""
    return ""


def offered(request: dict) -> set[str]:
    return {t["function"]["name"] for t in request.get("tools") or []}


def default_reply(request: dict) -> Reply:
    """`run: CODE` calls the python tool, `search: QUERY` the search tool, `call: NAME {json}` a
    function; after a tool result it answers `Tool said: ...`; anything else is echoed back."""
    last = request["messages"][-1]
    if last.get("role") == "tool":
        return text(f"Tool said: {str(last.get('content'))[:500]}")
    said = last_user_text(request)
    tools = offered(request)
    if said.startswith("run:") and "python" in tools:
        return tool_call("python", {"code": said[4:].strip()})
    if said.startswith("search:") and "file_search" in tools:
        return tool_call("file_search", {"query": said[7:].strip()})
    if said.startswith("call:"):
        name, _, args = said[5:].strip().partition(" ")
        return tool_call(name, args or "{}")
    return text(f"You said: {said}")


def slow_or_default(request: dict) -> Reply:
    """`slow N ...`: an answer streamed over about N seconds (20 pieces a second); anything else:
    `default_reply`."""
    words = last_user_text(request).split()
    if words[:1] == ["slow"] and len(words) > 1:
        return text("word " * int(float(words[1]) * 20), piece=5, delay=0.05)
    return default_reply(request)


def _tokens(value) -> int:
    return max(1, len(json.dumps(value)) // 4)


class ScriptedModel:
    """The server. Replies come from the queue (`push`) first, else from `script(request)`."""

    def __init__(
        self,
        script: Callable[[dict], Reply] | None = None,
        models: tuple[str, ...] = ("scripted-model",),
        port: int = 0,
        usage: bool = True,
        sent: Callable[[dict, str], None] | None = None,
    ):
        self.script = script or default_reply
        self.sent = sent  # told (request, SSE payload) as each streamed piece leaves, for benchmarks
        self.models = models
        self.usage = usage
        self.requests: list[dict] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def replace(self, *replies: Reply) -> None:
        """Drop the queued replies (say, ones a failed run left unused), then queue these."""
        with self._lock:
            self._queue.clear()
            self._queue.extend(replies)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "ScriptedModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _next_reply(self, request: dict) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
        return self.script(request)

    def _handler(self):
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls

            def log_message(self, *args) -> None:
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    data = [
                        {"id": m, "object": "model", "created": 0, "owned_by": "scripted"}
                        for m in model.models
                    ]
                    self._json(200, {"object": "list", "data": data})
                else:
                    self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._json(
                        404, {"error": {"message": "not found", "type": "invalid_request_error"}}
                    )
                reply = model._next_reply(request)
                if reply.hang:
                    time.sleep(reply.hang)
                if reply.status != 200:
                    return self._json(
                        reply.status, {"error": {"message": reply.error, "type": "server_error"}}
                    )
                if request.get("stream"):
                    self._stream(request, reply)
                else:
                    self._json(200, _completion(request, reply))

            def _send(self, payload: str) -> None:
                data = f"data: {payload}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _stream(self, request: dict, reply: Reply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for chunk in _chunks(request, reply, model.usage):
                        if reply.delay:
                            time.sleep(reply.delay)
                        payload = chunk if isinstance(chunk, str) else json.dumps(chunk)
                        self._send(payload)
                        if model.sent is not None:
                            model.sent(request, payload)
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


_ids = itertools.count()


def _base(request: dict) -> dict:
    return {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request.get("model", "scripted-model"),
    }


def usage_of(request: dict, reply: Reply) -> dict:
    """The usage the model reports for `reply` to `request`."""
    prompt = _tokens(request.get("messages")) + _tokens(request.get("tools") or [])
    completion = (
        reply.completion_tokens
        if reply.completion_tokens is not None
        else _tokens([reply.text, reply.tool_calls])
    )
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _finish(reply: Reply) -> str:
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def _chunks(request: dict, reply: Reply, usage: bool):
    """The SSE payloads of one streamed reply."""
    if reply.malformed:
        yield {**_base(request), "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]}
        yield "{this is not json"
        return
    yield {**_base(request), "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    for start in range(0, len(reply.text), reply.piece):
        piece = reply.text[start : start + reply.piece]
        yield {**_base(request), "choices": [{"index": 0, "delta": {"content": piece}}]}
    for index, (name, arguments) in enumerate(reply.tool_calls):
        call_id = "call_" + secrets.token_hex(8)
        yield {
            **_base(request),
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": call_id,
                                "type": "function",
                                "function": {"name": name, "arguments": ""},
                            }
                        ]
                    },
                }
            ],
        }
        for start in range(0, len(arguments), 7):
            yield {
                **_base(request),
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [
                                {"index": index, "function": {"arguments": arguments[start : start + 7]}}
                            ]
                        },
                    }
                ],
            }
    yield {**_base(request), "choices": [{"index": 0, "delta": {}, "finish_reason": _finish(reply)}]}
    if usage and (request.get("stream_options") or {}).get("include_usage"):
        yield {**_base(request), "choices": [], "usage": usage_of(request, reply)}
    yield "[DONE]"


def _completion(request: dict, reply: Reply) -> dict:
    message = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": "call_" + secrets.token_hex(8),
                "type": "function",
                "function": {"name": n, "arguments": a},
            }
            for n, a in reply.tool_calls
        ]
    return {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "scripted-model"),
        "choices": [{"index": 0, "message": message, "finish_reason": _finish(reply)}],
        "usage": usage_of(request, reply),
    }


def closed_port_url() -> str:
    """A base URL where nothing listens (connection refused), for outage tests."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    model = ScriptedModel(port=args.port)
    print(f"scripted model at {model.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        model.close()


if __name__ == "__main__":
    main()
