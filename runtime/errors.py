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
from starlette.routing import Match

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


def _limit_message(err: dict) -> str | None:
    """OpenAI's wording for a length or range limit (`string too long. Expected ...`), else None."""
    kind, ctx, value = err.get("type", ""), err.get("ctx") or {}, err.get("input")
    if kind == "string_too_long":
        return (
            f"string too long. Expected a string with maximum length {ctx['max_length']}, "
            f"but got a string with length {len(value)} instead"
        )
    if kind == "too_long":
        return (
            f"array too long. Expected an array with maximum length {ctx['max_length']}, "
            f"but got an array with length {ctx['actual_length']} instead"
        )
    if kind == "too_short" and not ctx.get("actual_length"):
        return (
            f"empty array. Expected an array with minimum length {ctx['min_length']}, "
            "but got an empty array instead"
        )
    if kind == "too_short":
        return (
            f"array too short. Expected an array with minimum length {ctx['min_length']}, "
            f"but got an array with length {ctx['actual_length']} instead"
        )
    number = "integer" if isinstance(value, int) else "decimal"
    bounds = {
        "greater_than_equal": (">=", "ge"),
        "greater_than": (">", "gt"),
        "less_than_equal": ("<=", "le"),
        "less_than": ("<", "lt"),
    }
    if kind in bounds:
        sign, name = bounds[kind]
        bound = int(ctx[name]) if isinstance(ctx[name], float) and ctx[name].is_integer() else ctx[name]
        side = "below minimum" if kind.startswith("greater") else "above maximum"
        return f"{number} {side} value. Expected a value {sign} {bound}, but got {value} instead"
    return None


def _validation_message(err: dict, param: str | None) -> str:
    kind, msg = err.get("type", ""), err.get("msg", "invalid value")
    if kind == "json_invalid":
        return "We could not parse the JSON body of your request. Send valid JSON."
    if kind == "missing":
        return f"Missing required parameter: '{param}'."
    if kind == "extra_forbidden":
        return f"Unrecognized request argument supplied: {param}"
    msg = _limit_message(err) or msg.removeprefix("Value error, ")
    return f"Invalid '{param}': {msg}." if param else f"Invalid request: {msg}."


def _reported(errors: list[dict], body) -> tuple[dict, str | None]:
    """The error to report, and its param: the one that reaches deepest into the request.

    A value that matches no member of a union fails once per member; the member that got furthest
    into the value says what is wrong with it (`tools[0].function.name`, not `tools[0]`), and at one
    depth a broken limit says more than "not a string" from a member of another type.
    """
    best, best_param, best_rank = errors[0], None, (-1, False)
    for err in errors:
        param = _param(tuple(err.get("loc", ())), body, err.get("type") == "missing")
        depth = 0 if param is None else param.count(".") + param.count("[") + 1
        rank = (depth, not err.get("type", "").endswith("_type"))  # a broken rule tells more than a type
        if rank > best_rank:
            best, best_param, best_rank = err, param, rank
    return best, best_param


def _allowed_methods(request: Request) -> str:
    """The methods some route answers at this path (Starlette's own 405 names one route's only)."""
    allowed = []
    for method in ("GET", "POST", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


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
            if first.get("type") == "missing":
                message = "Missing request body. Send a JSON object."
            elif first.get("type") in ("json_invalid", "model_attributes_type", "model_type", "dict_type"):
                message = "We could not parse the JSON body of your request. Send a JSON object."
            else:
                message = _validation_message(first, None)
            return error_response(InvalidRequest(message))
        err, param = _reported(errors, exc.body)
        return error_response(InvalidRequest(_validation_message(err, param), param=param))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code in (404, 405):
            message = f"Invalid URL ({request.method} {request.url.path})"
            err = NotFound(message) if exc.status_code == 404 else InvalidRequest(message)
            err.status = exc.status_code
            response = error_response(err)
            if exc.status_code == 405:
                response.headers["Allow"] = _allowed_methods(request)
            return response
        err = APIError(str(exc.detail))
        err.status, err.type = exc.status_code, "invalid_request_error"
        return error_response(err)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(APIError("The server had an error while processing your request."))
