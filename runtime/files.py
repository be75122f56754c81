"""Stored files: where their bytes live and the `file` object that describes them."""

from pathlib import Path

from runtime.ids import new_id, now
from runtime.settings import Settings

UPLOAD_PURPOSES = ("assistants", "vision", "batch", "fine-tune", "user_data", "evals")
OUTPUT_PURPOSE = "assistants_output"


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


def save_file(settings: Settings, store, filename: str, data: bytes, purpose: str) -> dict:
    """Store bytes the server produced (images, generated files) as a new file object."""
    file_id = new_id("file")
    path = file_path(settings, file_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return store.insert("file", file_object(file_id, filename, len(data), purpose))


def read_file(settings: Settings, store, file_id: str) -> tuple[bytes, str] | None:
    """A stored file's bytes and name (None when it is gone), for an image in a prompt."""
    found = store.get("file", file_id)
    path = file_path(settings, file_id)
    if found is None or not path.exists():
        return None
    return path.read_bytes(), found["filename"]
