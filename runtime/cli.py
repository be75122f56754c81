"""The `assistd` command: `assistd serve` runs the API server; `assistd images build` builds the
code-interpreter kernel image (a no-op when the recipe has not changed)."""

import argparse
import logging

import uvicorn

from runtime import malloc
from runtime.app import create_app
from runtime.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="assistd", description="Self-hosted OpenAI-compatible Assistants API."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
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
        uvicorn.run(create_app(Settings()), host=args.host, port=args.port, log_level=args.log_level)
    elif args.command == "images":
        import sandbox

        tag = sandbox.ensure_image(Settings().data_dir / "cache", lambda line: print(line, flush=True))
        print(f"kernel image ready: {tag}")


if __name__ == "__main__":
    main()
