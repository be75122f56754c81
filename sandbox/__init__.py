"""Code-interpreter sandbox: per-key Jupyter kernels in hardened environments, Docker containers today.

Never imports `runtime` or `retrieval`. The runtime uses `ensure_image`, `SandboxConfig`,
`SessionPool`, `reap_leftovers` and the errors below; results come back as `Execution` values.
Kernels come from a `Provider` (`DockerProvider` by default), each started with `Limits`.
"""

from images import build_image, ensure_image
from sandbox.config import Limits, SandboxConfig
from sandbox.docker_provider import DockerProvider, reap_leftovers
from sandbox.errors import ImageError, SandboxError, SandboxUnavailable, SessionLimitError
from sandbox.execution import Execution, ExecutionError
from sandbox.pool import SessionPool
from sandbox.provider import Kernel, Provider

__all__ = [
    "DockerProvider",
    "Execution",
    "ExecutionError",
    "ImageError",
    "Kernel",
    "Limits",
    "Provider",
    "SandboxConfig",
    "SandboxError",
    "SandboxUnavailable",
    "SessionLimitError",
    "SessionPool",
    "build_image",
    "ensure_image",
    "reap_leftovers",
]
