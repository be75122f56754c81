"""Stored files: where their bytes live and the `file` object that describes them."""

from pathlib import Path

from runtime.ids import now
from runtime.settings import Settings

UPLOAD_PURPOSES = ("assistants", "vision", "batch", "fine-tune", "user_data", "evals")


def file_path(settings: Settings, file_id: str) -> Path:
    return settings.files_dir / file_id


def file_object(file_id: str, filename: str, size: int, purpose: str) -> dict:
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": now(),
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
        "status_details": None,
        "expires_at": None,
    }
