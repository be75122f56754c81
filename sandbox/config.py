"""`Limits` (what one kernel may use) and `SandboxConfig` (those defaults plus the pool's settings),
each field overridable by an `ASSISTD_SANDBOX_<FIELD>` environment variable.

Every place the code may write is a size-capped tmpfs of its own, holding at most one file or
directory per 16 KiB of its size (`file_cap`), so neither bytes nor inodes can run past a cap.
"""

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

GiB = 1024**3
MiB = 1024**2
BYTES_PER_FILE = 16 * 1024


def file_cap(size: int) -> int:
    """Files and directories a writable place of `size` bytes may hold."""
    return max(64, size // BYTES_PER_FILE)


@dataclass(frozen=True, kw_only=True)
class Limits:
    memory_bytes: int = 1 * GiB
    cpus: float = 1.0
    pids_limit: int = 128
    file_bytes: int = 512 * MiB  # largest single file the code may write
    data_bytes: int = 1 * GiB  # /mnt/data
    tmp_bytes: int = 256 * MiB  # /tmp
    shm_bytes: int = 64 * MiB  # /dev/shm
    home_bytes: int = 64 * MiB  # /home/sandbox

    def writable(self) -> dict[str, int]:
        """The places the code may write, each with its size in bytes."""
        return {
            "/mnt/data": self.data_bytes,
            "/tmp": self.tmp_bytes,
            "/dev/shm": self.shm_bytes,
            "/home/sandbox": self.home_bytes,
        }


@dataclass(frozen=True, kw_only=True)
class SandboxConfig(Limits):
    state_dir: Path  # identifies this server's kernels, so a restarted server reaps its own leftovers only
    image: str
    runtime: str = "runc"  # or "runsc" (gVisor)
    exec_timeout: float = 120.0
    idle_timeout: float = 1200.0  # 20 minutes, as OpenAI
    max_sessions: int = 32
    warm_pool: int = 2
    exec_slots: int = 0  # executions admitted to the CPUs at once, in arrival order; 0: CPUs + 1
    output_limit: int = 64 * 1024  # per stream
    start_timeout: float = 30.0

    @property
    def limits(self) -> Limits:
        """The limits a kernel is started with."""
        return Limits(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Limits)})

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
