"""OpenAI-style API errors and the handlers that render them.

Every error leaves the server as `{"error": {"message", "type", "param", "code"}}`::

    APIError (500, server_error)
    ├── InvalidRequest (400, invalid_request_error)
    │   └── Conflict-free validation problems, bad cursors, bad tool outputs...
    ├── Unauthorized (401, invalid_request_error / invalid_api_key)
    ├── NotFound (404, invalid_request_error)
    ├── PayloadTooLarge (413, invalid_request_error)
    └── UpstreamError (502, server_error)
"""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("assistd")


class APIError(Exception):
    status = 500
    type = "server_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message, self.param, self.code = message, param, code

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class InvalidRequest(APIError):
    status = 400
    type = "invalid_request_error"


class Unauthorized(InvalidRequest):
    status = 401


class NotFound(InvalidRequest):
    status = 404


class PayloadTooLarge(InvalidRequest):
    status = 413


class UpstreamError(APIError):
    status = 502


def not_found(what: str, object_id: str) -> NotFound:
    return NotFound(f"No {what} found with id '{object_id}'.")


def error_response(exc: APIError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def _param(loc: tuple, body, missing: bool) -> str | None:
    """The request parameter an error points at, as OpenAI names it (`tools[0].function.name`).

    Pydantic's location also holds union member labels and discriminator tags; walking the request
    body keeps only the steps that exist in it (and the last step of a missing field).
    """
    steps = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    if loc and loc[0] != "body":
        body = None
    kept: list = []
    for i, step in enumerate(steps):
        if isinstance(body, dict) and step in body:
            body = body[step]
        elif isinstance(body, list) and isinstance(step, int) and step < len(body):
            body = body[step]
        elif body is None and not kept:
            kept.extend(steps)
            break
        elif not (missing and i == len(steps) - 1):
            continue
        kept.append(step)
    if not kept:
        return None
    out = str(kept[0])
    for step in kept[1:]:
        out += f"[{step}]" if isinstance(step, int) else f".{step}"
    return out


def _validation_message(err: dict, param: str | None) -> str:
    kind, msg = err.get("type", ""), err.get("msg", "invalid value")
    if kind == "json_invalid":
        return "We could not parse the JSON body of your request. Send valid JSON."
    if kind == "missing":
        return f"Missing required parameter: '{param}'."
    if kind == "extra_forbidden":
        return f"Unrecognized request argument supplied: {param}"
    msg = msg.removeprefix("Value error, ")
    return f"Invalid '{param}': {msg}." if param else f"Invalid request: {msg}."


def install_handlers(app: FastAPI) -> None:
    """Render every failure as an OpenAI error body with the right status."""

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError):
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {}
        if first.get("type") == "json_invalid" or first.get("loc") == ("body",):
            message = (
                "We could not parse the JSON body of your request. Send a JSON object."
                if first.get("type") in ("json_invalid", "model_attributes_type", "dict_type")
                else _validation_message(first, None)
            )
            return error_response(InvalidRequest(message))
        param = _param(tuple(first.get("loc", ())), exc.body, first.get("type") == "missing")
        return error_response(InvalidRequest(_validation_message(first, param), param=param))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code in (404, 405):
            message = f"Invalid URL ({request.method} {request.url.path})"
            err = NotFound(message) if exc.status_code == 404 else InvalidRequest(message)
            err.status = exc.status_code
            return error_response(err)
        err = APIError(str(exc.detail))
        err.status, err.type = exc.status_code, "invalid_request_error"
        return error_response(err)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(APIError("The server had an error while processing your request."))
