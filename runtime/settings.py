"""Server configuration: one `Settings` object read from `ASSISTD_*` environment variables."""

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/assistd`, else `~/.local/share/assistd`."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "assistd"


class Settings(BaseSettings):
    """Everything the server can be told; each field is the env var `ASSISTD_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="ASSISTD_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    api_key: str | None = None
    database_url: str | None = None
    model_base_url: str = "http://127.0.0.1:11434/v1"
    model_api_key: str | None = None
    model_timeout: float = 120.0
    model_context_tokens: int = 32768
    max_upload_bytes: int = 512 * 1024 * 1024
    run_max_steps: int = 25
    run_expires_seconds: int = 600
    worker: bool = True  # this process claims and drives runs (else it serves the API only)
    lease_seconds: float = 10.0  # a process silent this long is dead: what it drove is settled
    drain_seconds: float = 30.0  # on shutdown, how long the runs in hand may take to finish
    node_name: str | None = None  # this machine's name among the processes (default: the hostname)
    events_keep_seconds: float = 86400.0  # stream events older than this are deleted (streams long over)
    sandbox_prewarm: bool = True
    embedding_model: str | None = None
    qdrant_url: str | None = None
    container_minute_seconds: float = 60.0  # how long a container's expiry "minute" lasts (tests shorten it)
    container_max_memory_bytes: int | None = None  # the largest container memory_limit given; None: host RAM

    @property
    def db_url(self) -> str:
        """The configured database, or a SQLite file in the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'assistd.db'}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"
