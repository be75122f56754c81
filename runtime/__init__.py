"""assistd runtime: the HTTP API, persistence, run engine, model client and command line."""

from runtime.app import create_app
from runtime.settings import Settings

__all__ = ["Settings", "create_app"]
