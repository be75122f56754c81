"""A real `assistd serve` process on a free port, for tests and benchmarks."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from openai import OpenAI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """Start, stop, kill and restart an `assistd serve` subprocess with its own data dir and env."""

    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None, args: list[str] = ()
    ):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.args = list(args)  # more `assistd serve` options
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTD_")}
        # Containers start on first use unless a test asks for the warm pool at start-up.
        self.env.update(
            {"ASSISTD_DATA_DIR": str(self.data_dir), "ASSISTD_SANDBOX_PREWARM": "0", **(env or {})}
        )
        self.proc: subprocess.Popen | None = None
        self._clients: list[OpenAI] = []
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-{self.port}-server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def client(self, api_key: str | None = None, **kwargs) -> OpenAI:
        """An SDK client for this server, closed at the end of its `with` block."""
        key = api_key or self.env.get("ASSISTD_API_KEY") or "unused"
        client = OpenAI(base_url=self.base_url, api_key=key, max_retries=0, **kwargs)
        self._clients.append(client)
        return client

    def start(self, timeout: float = 60.0) -> "Server":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "runtime.cli",
                    "serve",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                    *self.args,
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"assistd exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"assistd did not start within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> "Server":
        self.stop()
        return self.start()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        while self._clients:
            self._clients.pop().close()


def database_env(database: str) -> dict[str, str]:
    """The server settings for `database` ("sqlite", the default, or "postgresql")."""
    if database != "postgresql":
        return {}
    url = os.environ.get("ASSISTD_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI needs ASSISTD_TEST_POSTGRES_URL (scripts/test starts PostgreSQL)")
        pytest.skip("ASSISTD_TEST_POSTGRES_URL is not set")
    return {"ASSISTD_DATABASE_URL": url}
