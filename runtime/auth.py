"""Bearer-key check for every `/v1` request when `ASSISTD_API_KEY` is set."""

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from runtime.errors import Unauthorized, error_response


class APIKeyMiddleware:
    def __init__(self, app: ASGIApp, api_key: str | None):
        self.app, self.api_key = app, api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.api_key or not scope["path"].startswith("/v1"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = auth.partition(" ")
        if not auth:
            err = Unauthorized(
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
        elif scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), self.api_key.encode()):
            shown = token[:3] + "*" * 4 + token[-4:] if len(token) > 8 else "*" * len(token)
            err = Unauthorized(f"Incorrect API key provided: {shown}.", code="invalid_api_key")
        else:
            return await self.app(scope, receive, send)
        await error_response(err)(scope, receive, send)
