"""`/v1/files`: multipart upload (streamed to disk), list, retrieve, content download, delete.

An upload's `expires_after` (anchor `created_at`, 3600 to 2592000 seconds; as form fields
`expires_after[anchor]` and `expires_after[seconds]`, as the SDKs send it, or as one JSON part) is
checked, but files are kept until deleted: `expires_at` stays null.
"""

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from runtime.api.deps import SettingsDep, StoreDep
from runtime.api.pagination import list_page
from runtime.errors import InvalidRequest, not_found
from runtime.files import UPLOAD_PURPOSES, file_object, file_path
from runtime.ids import new_id
from runtime.store import Tx
from runtime.uploads import receive_upload

router = APIRouter(prefix="/files", tags=["files"])


def _check_expires_after(fields: dict[str, str]) -> None:
    if "expires_after" in fields:
        try:
            policy = json.loads(fields["expires_after"])
        except ValueError:
            policy = None
    elif any(name.startswith("expires_after[") for name in fields):
        policy = {name[14:-1]: value for name, value in fields.items() if name.startswith("expires_after[")}
    else:
        return
    if not isinstance(policy, dict):
        raise InvalidRequest("Invalid 'expires_after': expected an object.", param="expires_after")
    for key in policy.keys() - {"anchor", "seconds"}:
        raise InvalidRequest(
            f"Unrecognized request argument supplied: expires_after.{key}", param=f"expires_after.{key}"
        )
    for key in ("anchor", "seconds"):
        if key not in policy:
            raise InvalidRequest(
                f"Missing required parameter: 'expires_after.{key}'.", param=f"expires_after.{key}"
            )
    if policy["anchor"] != "created_at":
        raise InvalidRequest(
            "Invalid 'expires_after.anchor': the only anchor is 'created_at'.", param="expires_after.anchor"
        )
    seconds = policy["seconds"]
    if isinstance(seconds, str) and seconds.isdigit():
        seconds = int(seconds)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 3600 <= seconds <= 2592000:
        raise InvalidRequest(
            "Invalid 'expires_after.seconds': an integer from 3600 (1 hour) to 2592000 (30 days).",
            param="expires_after.seconds",
        )


def get_file(tx: Tx, file_id: str) -> dict:
    found = tx.get("file", file_id)
    if found is None:
        raise not_found("file", file_id)
    return found


@router.post("")
async def upload_file(request: Request, store: StoreDep, settings: SettingsDep) -> dict:
    file_id = new_id("file")
    dest = file_path(settings, file_id)
    dest.parent.mkdir(parents=True, exist_ok=True)
    upload = await receive_upload(request, dest, settings.max_upload_bytes)
    try:
        purpose = upload.fields.get("purpose")
        if upload.path is None:
            raise InvalidRequest("Missing required parameter: 'file'.", param="file")
        if not purpose:
            raise InvalidRequest("Missing required parameter: 'purpose'.", param="purpose")
        if purpose not in UPLOAD_PURPOSES:
            raise InvalidRequest(
                f"Invalid value for 'purpose': '{purpose}'. Supported values are: "
                + ", ".join(f"'{p}'" for p in UPLOAD_PURPOSES)
                + ".",
                param="purpose",
            )
        _check_expires_after(upload.fields)
        obj = file_object(file_id, upload.filename, upload.size, purpose)
        store.insert("file", obj)
        return obj
    except Exception:
        dest.unlink(missing_ok=True)
        raise


@router.get("")
def list_files(
    store: StoreDep,
    purpose: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 10000,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    after: str | None = None,
) -> dict:
    with store.tx() as tx:
        after_seq = None
        if after is not None:
            after_seq = tx.seq_of("file", "", after)
            if after_seq is None:
                raise InvalidRequest(f"Invalid 'after': no file with id '{after}'.", param="after")
        data, has_more = tx.page(
            "file",
            "",
            limit=limit,
            order=order,
            after_seq=after_seq,
            where={"purpose": purpose} if purpose else None,
        )
    return list_page(data, has_more)


@router.get("/{file_id}")
def retrieve_file(file_id: str, store: StoreDep) -> dict:
    with store.tx() as tx:
        return get_file(tx, file_id)


@router.get("/{file_id}/content")
def download_file(file_id: str, store: StoreDep, settings: SettingsDep):
    with store.tx() as tx:
        obj = get_file(tx, file_id)
    return FileResponse(
        file_path(settings, file_id), media_type="application/octet-stream", filename=obj["filename"]
    )


@router.delete("/{file_id}")
async def delete_file(file_id: str, request: Request, store: StoreDep, settings: SettingsDep) -> dict:
    with store.tx() as tx:
        get_file(tx, file_id)
        tx.delete("file", file_id)
    file_path(settings, file_id).unlink(missing_ok=True)
    for hook in request.app.state.on_file_deleted:
        await hook(file_id)
    return {"id": file_id, "object": "file", "deleted": True}
