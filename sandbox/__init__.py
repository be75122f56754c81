"""Code-interpreter sandbox: per-key Jupyter kernels in hardened Docker containers.

Never imports `runtime` or `retrieval`. The runtime uses `ensure_image`, `SandboxConfig`,
`SessionPool` and the errors below; results come back as `Execution` values.
"""

from images import build_image, ensure_image
from sandbox.config import SandboxConfig
from sandbox.errors import ImageError, SandboxError, SandboxUnavailable, SessionLimitError
from sandbox.execution import Execution, ExecutionError
from sandbox.pool import SessionPool

__all__ = [
    "Execution",
    "ExecutionError",
    "ImageError",
    "SandboxConfig",
    "SandboxError",
    "SandboxUnavailable",
    "SessionLimitError",
    "SessionPool",
    "build_image",
    "ensure_image",
]
