"""`SandboxConfig`: every limit of the sandbox, with defaults and `ASSISTD_SANDBOX_*` overrides."""

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True)
class SandboxConfig:
    state_dir: Path  # host dirs for kernel sockets and /mnt/data, one pair per container
    image: str
    runtime: str = "runc"  # or "runsc" (gVisor)
    memory_bytes: int = 1 * GiB
    cpus: float = 1.0
    pids_limit: int = 128
    data_bytes: int = 1 * GiB  # /mnt/data size cap
    file_bytes: int = 512 * MiB  # largest single file the code may write
    tmp_bytes: int = 256 * MiB
    exec_timeout: float = 120.0
    idle_timeout: float = 1200.0  # 20 minutes, as OpenAI
    max_sessions: int = 32
    warm_pool: int = 2
    exec_slots: int = 0  # executions admitted to the CPUs at once, in arrival order; 0: CPUs + 1
    output_limit: int = 64 * 1024  # per stream
    start_timeout: float = 30.0

    @classmethod
    def from_env(cls, state_dir: Path, image: str, **overrides) -> "SandboxConfig":
        """Defaults, then `ASSISTD_SANDBOX_<FIELD>` environment variables, then `overrides`."""
        values: dict = {}
        for f in dataclasses.fields(cls):
            raw = os.environ.get(f"ASSISTD_SANDBOX_{f.name.upper()}")
            if raw is not None and f.name not in ("state_dir", "image"):
                kind = type(f.default)
                values[f.name] = kind(float(raw)) if kind is int else kind(raw)
        values.update(overrides)
        return cls(state_dir=Path(state_dir), image=image, **values)
