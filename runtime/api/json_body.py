"""Rejects JSON bodies that Python's parser takes but no JSON store or response can hold.

`json.loads` reads `NaN` and `Infinity` (not JSON), numbers too large for a float (`1e400` becomes
infinity) and lone UTF-16 surrogates (`"\\ud800"`, or their raw bytes); stored, they fail the database
insert or every later response that includes them. PostgreSQL cannot store a NUL character
(`"\\u0000"`) either. Such a body is a 400 before it reaches a route, on either database.
A byte scan keeps ordinary bodies from being parsed twice: only one holding such a spelling is.
"""

import json
import math
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.errors import InvalidRequest, error_response

SUSPECT = re.compile(rb"NaN|Infinity|[eE][+]?\d{3}|\d{300}|\\u[dD][89a-fA-F]|\\u0000|\x00|\xed[\xa0-\xbf]")


def _reject_constant(name: str):
    raise InvalidRequest(f"Invalid JSON body: {name} is not a JSON number.")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise InvalidRequest(f"Invalid JSON body: {text[:20]} is too large for a number.")
    return value


def body_problem(body: bytes) -> InvalidRequest | None:
    """Why this body cannot be taken, or None (malformed JSON is left to the route's own error)."""
    if not SUSPECT.search(body):
        return None
    try:
        value = json.loads(body, parse_constant=_reject_constant, parse_float=_finite)
    except InvalidRequest as err:
        return err
    except ValueError:
        return None
    for text in _strings(value):
        if "\x00" in text:
            return InvalidRequest("Invalid JSON body: a string holds a NUL character (\\u0000).")
        try:
            text.encode()
        except UnicodeEncodeError:
            return InvalidRequest("Invalid JSON body: a string holds an unpaired UTF-16 surrogate.")
    return None


def _strings(value):
    """Every string in a parsed JSON value, object keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class JSONBodyMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or ()) if scope["type"] == "http" else {}
        if b"json" not in headers.get(b"content-type", b""):
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        problem = body_problem(body)
        if problem is not None:
            return await error_response(problem)(scope, receive, send)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
