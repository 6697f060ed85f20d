"""`rag` command line: one sub-command per use case.

Each feature module owns its sub-commands through a ``register(subparsers)`` function, so this file
only wires them together and turns the project's errors into a one-line message and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from rag.errors import RagError

# Modules that add sub-commands, in the order `rag --help` lists them.
COMMAND_MODULES = [
    "rag.cli.models",
    "rag.cli.corpus",
    "rag.cli.ingest",
    "rag.cli.search",
    "rag.cli.ask",
    "api.commands",
    "eval.commands",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Offline, cited question answering over Chinese government work reports."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # settings from the environment or .env (RAG_*)
        problems = "; ".join(
            f"RAG_{'_'.join(map(str, e['loc'])).upper()}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors())
        print(f"error: invalid settings: {problems}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `rag corpus | head`: the reader left; not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
