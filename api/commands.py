"""`rag serve`: run the HTTP service."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="serve the HTTP API and web client")
    parser.add_argument("--host", help="bind address (default: setting `host`, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: setting `port`, 8000)")
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from rag.settings import Settings

    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    settings = Settings(**overrides)
    # Open answer streams must not hold up Ctrl+C for long: their generations are cancelled on shutdown.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info",
                timeout_graceful_shutdown=5)
    return 0
