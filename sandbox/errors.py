"""Errors of the sandbox. An error in the user's code is not one of these: it is data in `Execution`.

SandboxError             (itself: an upload does not fit in /mnt/data)
├── SandboxUnavailable   no Docker engine answers, or a kernel could not start
├── SessionLimitError    too many live sessions
└── ImageError           the kernel image is missing or could not be built
"""


class SandboxError(Exception):
    pass


class SandboxUnavailable(SandboxError):
    pass


class SessionLimitError(SandboxError):
    pass


class ImageError(SandboxError):
    pass
