"""Reading an OpenAI-style error response in tests."""

import httpx


def error_of(response: httpx.Response, status: int) -> dict:
    """The `error` object of a response that must have `status` and OpenAI's four error fields."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    return body["error"]
