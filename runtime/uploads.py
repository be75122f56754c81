"""Streaming multipart parser for file uploads: file parts go straight to disk, never into memory."""

import os
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from runtime.errors import InvalidRequest, PayloadTooLarge

_MAX_FIELD_BYTES = 64 * 1024


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    path: Path | None = None
    size: int = 0


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"File is larger than the {limit} byte limit; raise ASSISTD_MAX_UPLOAD_BYTES to allow more.",
        param="file",
        code="file_too_large",
    )


async def receive_upload(request: Request, dest: Path, max_bytes: int) -> Upload:
    """Parse a multipart body; the part named `file` is written to `dest`. Cleans up `dest` on failure."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise InvalidRequest("Expected a multipart/form-data body with a 'file' part.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + _MAX_FIELD_BYTES:
        raise _too_large(max_bytes)

    upload = Upload()
    state: dict = {"headers": {}, "name": None, "buf": bytearray(), "sink": None, "header": b"", "value": b""}
    error: list[Exception] = []

    def on_header_field(data, start, end):
        state["header"] += data[start:end]

    def on_header_value(data, start, end):
        state["value"] += data[start:end]

    def on_header_end():
        state["headers"][state["header"].lower()] = state["value"]
        state["header"], state["value"] = b"", b""

    def on_headers_finished():
        _, disp = parse_options_header(state["headers"].get(b"content-disposition", b""))
        state["name"] = disp.get(b"name", b"").decode("utf-8", "replace")
        if state["name"] == "file" and upload.path is None:
            upload.filename = disp.get(b"filename", b"upload").decode("utf-8", "replace") or "upload"
            upload.path = dest
            state["sink"] = open(dest, "wb")  # noqa: SIM115 - closed in on_part_end / finally

    def on_part_data(data, start, end):
        chunk = data[start:end]
        if state["sink"] is not None:
            upload.size += len(chunk)
            if upload.size > max_bytes:
                raise _too_large(max_bytes)
            state["sink"].write(chunk)
        else:
            state["buf"] += chunk
            if len(state["buf"]) > _MAX_FIELD_BYTES:
                raise InvalidRequest(f"Form field '{state['name']}' is too long.")

    def on_part_end():
        if state["sink"] is not None:
            state["sink"].close()
            state["sink"] = None
        elif state["name"]:
            upload.fields[state["name"]] = state["buf"].decode("utf-8", "replace")
        state["buf"], state["headers"] = bytearray(), {}

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except Exception as exc:  # the parser's own errors become a 400
        error.append(exc)
    finally:
        if state["sink"] is not None:
            state["sink"].close()
    if error:
        if dest.exists():
            os.unlink(dest)
        exc = error[0]
        if isinstance(exc, InvalidRequest):
            raise exc
        raise InvalidRequest(f"Could not parse the multipart body: {exc}")
    return upload
