"""`/v1/containers/{id}/files`: add a file (a multipart upload, or `{"file_id"}` to copy a stored
file in), list (paged; what the code wrote shows up as `source: assistant`), retrieve, download the
content, delete."""

import json
import tempfile
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from runtime.api.containers import containers
from runtime.api.pagination import Paging, page
from runtime.containers import FILE
from runtime.errors import InvalidRequest, NotFound
from runtime.uploads import receive_upload

router = APIRouter(prefix="/containers/{container_id}/files", tags=["containers"])


async def _json_file_id(request: Request) -> str:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise InvalidRequest("Invalid JSON body.") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("Expected a JSON object with 'file_id', or a multipart body with 'file'.")
    for key in body.keys() - {"file_id"}:
        raise InvalidRequest(f"Unrecognized request argument supplied: {key}", param=key)
    file_id = body.get("file_id")
    if not isinstance(file_id, str):
        raise InvalidRequest("Missing required parameter: 'file_id' (or upload a 'file').", param="file_id")
    return file_id


@router.post("")
async def create_container_file(container_id: str, request: Request) -> dict:
    service = containers(request)
    service.usable(container_id)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        with tempfile.TemporaryDirectory(dir=service.settings.data_dir) as scratch:
            dest = Path(scratch) / "upload"
            upload = await receive_upload(request, dest, service.settings.max_upload_bytes)
            if upload.path is None:
                raise InvalidRequest("Missing required parameter: 'file'.", param="file")
            return await service.add_file(container_id, upload.filename or "file", dest.read_bytes())
    file_id = await _json_file_id(request)
    stored = service.store.get("file", file_id)
    if stored is None:
        raise NotFound(f"No file found with id '{file_id}'.", param="file_id")
    return await service.copy_in(container_id, stored)


@router.get("")
async def list_container_files(container_id: str, request: Request, params: Paging) -> dict:
    service = containers(request)
    await service.sync(container_id)
    with service.store.read() as tx:
        return page(tx, FILE, container_id, params)


@router.get("/{file_id}")
def retrieve_container_file(container_id: str, file_id: str, request: Request) -> dict:
    return containers(request).get_file(container_id, file_id)


@router.get("/{file_id}/content")
async def download_container_file(container_id: str, file_id: str, request: Request) -> Response:
    data, name = await containers(request).file_content(container_id, file_id)
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"content-disposition": f"attachment; filename*=utf-8''{quote(name)}"},
    )


@router.delete("/{file_id}")
async def delete_container_file(container_id: str, file_id: str, request: Request) -> dict:
    return await containers(request).delete_file(container_id, file_id)
