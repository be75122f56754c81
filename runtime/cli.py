"""The `assistd` command: `assistd serve` runs the API server (one process, or `--workers N` on one
port; `--no-worker` serves the API only), `assistd worker` drives runs without serving HTTP, and
`assistd images build` builds the code-interpreter kernel image (a no-op when the recipe has not
changed). Several processes need PostgreSQL (`ASSISTD_DATABASE_URL`); SQLite serves one."""

import argparse
import asyncio
import logging
import os
import signal
import sys

import uvicorn

from runtime import malloc
from runtime.app import create_app
from runtime.settings import Settings


def _one_process_only(settings: Settings, what: str) -> None:
    if settings.db_url.startswith("sqlite"):
        sys.exit(
            f"assistd: {what} needs PostgreSQL: SQLite serves one process. "
            "Set ASSISTD_DATABASE_URL (postgresql+psycopg://user:pass@host/db)."
        )


async def _work(settings: Settings) -> None:
    """The services without HTTP: the engine claims and drives runs until the process is stopped."""
    app = create_app(settings)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # stop as `serve` does: drain, then leave
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with app.router.lifespan_context(app):
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="assistd", description="Self-hosted OpenAI-compatible Assistants API."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--workers", type=int, default=1, help="processes serving this port (PostgreSQL only)")
    serve.add_argument(
        "--no-worker", action="store_true", help="serve the API only; other processes drive runs"
    )
    worker = commands.add_parser("worker", help="drive runs without serving HTTP (PostgreSQL only)")
    worker.add_argument("--log-level", default="info")
    images = commands.add_parser("images", help="manage the code-interpreter kernel image")
    images_commands = images.add_subparsers(dest="images_command", required=True)
    images_commands.add_parser("build", help="build the kernel image (no-op when up to date)")
    args = parser.parse_args(argv)
    args.log_level = getattr(args, "log_level", "info")

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "serve":
        malloc.tune()  # before the server starts any thread
        if args.no_worker:
            os.environ["ASSISTD_WORKER"] = "0"  # read by every process's Settings
        settings = Settings()
        if args.workers > 1 or args.no_worker:
            _one_process_only(settings, "--workers" if args.workers > 1 else "--no-worker")
        if args.workers > 1:
            uvicorn.run(
                "runtime.app:create_app",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                log_level=args.log_level,
            )
        else:
            uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level)
    elif args.command == "worker":
        malloc.tune()
        settings = Settings()
        _one_process_only(settings, "assistd worker")
        asyncio.run(_work(settings))
    elif args.command == "images":
        import sandbox

        tag = sandbox.ensure_image(Settings().data_dir / "cache", lambda line: print(line, flush=True))
        print(f"kernel image ready: {tag}")


if __name__ == "__main__":
    main()
