"""`rag serve`: run the HTTP service."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="serve the HTTP API and web client")
    parser.add_argument("--host", help="bind address (default: setting `host`, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: setting `port`, 8000)")
    parser.add_argument("--insecure-no-key", action="store_true", default=None,
                        help="allow a non-loopback --host without RAG_API_KEY (anyone who reaches the port "
                             "can read and change the library)")
    parser.set_defaults(func=_serve)


def check_exposure(settings) -> str | None:
    """Why serving with these settings is refused, or None. Off loopback, a service without a key lets
    anyone on the network read the reports, use the CPU and change the library."""
    from api.security import is_loopback

    if is_loopback(settings.host) or settings.api_key or settings.insecure_no_key:
        return None
    return (f"refusing to serve {settings.host} without an API key: anyone who can reach it could read the "
            "reports and add or remove them. Set RAG_API_KEY (clients then send `Authorization: Bearer "
            "<key>`), or bind 127.0.0.1, or pass --insecure-no-key if the network is trusted")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.security import is_loopback
    from rag.config import Settings

    overrides = {k: v for k, v in {"host": args.host, "port": args.port,
                                   "insecure_no_key": args.insecure_no_key}.items() if v is not None}
    settings = Settings(**overrides)
    refusal = check_exposure(settings)
    if refusal:
        print(f"rag serve: {refusal}", file=sys.stderr)
        return 2
    if not is_loopback(settings.host) and not settings.api_key:
        print(f"rag serve: WARNING: serving {settings.host} without an API key (--insecure-no-key)",
              file=sys.stderr)
    # Open answer streams must not hold up Ctrl+C for long: their generations are cancelled on shutdown.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info",
                timeout_graceful_shutdown=5)
    return 0
