"""`rag` command line: one sub-command per use case.

Each feature module owns its sub-commands through a ``register(subparsers)`` function, so this file
only wires them together and turns the project's errors into a one-line message and exit code 2. The
command modules import models, torch and the index inside their handlers, so `rag --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from api import commands as serve
from eval import commands as evaluation
from rag.cli import ask, corpus, ingest, models, search
from rag.errors import RagError

# Modules that add sub-commands, in the order `rag --help` lists them.
COMMAND_MODULES = [models, corpus, ingest, search, ask, serve, evaluation]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Offline, cited question answering over Chinese government work reports."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
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
