"""The `assistd` command: `assistd serve` runs the API server."""

import argparse
import logging

import uvicorn

from runtime.app import create_app
from runtime.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="assistd", description="Self-hosted OpenAI-compatible Assistants API.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        uvicorn.run(create_app(Settings()), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
