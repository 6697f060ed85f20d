"""`rag ingest PATH... [--replace]` adds (or replaces) report files; `rag remove REPORT_ID...` takes
reports out.

Both commit a new corpus + index version atomically (`rag/library/store.py`); a running `rag serve` notices
the new version within a few seconds and swaps to it without a restart.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rag.library import ChangeSummary


def register(subparsers: argparse._SubParsersAction) -> None:
    ingest = subparsers.add_parser(
        "ingest", help="add or replace report files (.txt, .docx) in the corpus",
        description="Add report files (UTF-8, UTF-8 with BOM or GB18030/GBK .txt, or .docx), or folders of "
        "them, to the corpus. A file whose name is already in the corpus, with other content, is refused "
        "unless --replace (then it replaces that file's reports, bundled files included); an unchanged file "
        "changes nothing. Only new text is embedded. Any bad file stops the ingest (nothing changes) unless "
        "--skip-bad.",
    )
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="report file or folder")
    mode = ingest.add_mutually_exclusive_group()
    mode.add_argument("--compilation", dest="mode", action="store_const", const="compilation",
                      help="each file holds several reports (fail if fewer than two are found)")
    mode.add_argument("--single", dest="mode", action="store_const", const="single",
                      help="each file is one report: its first title line and everything after it")
    ingest.set_defaults(mode="auto", func=_ingest)
    ingest.add_argument("--skip-bad", action="store_true", help="ingest the good files, list the bad ones")
    ingest.add_argument("--replace", action="store_true",
                        help="replace the reports of files whose names are already in the corpus")
    ingest.add_argument("--json", action="store_true", help="print the summary as JSON")

    remove = subparsers.add_parser(
        "remove", help="remove reports (by id) or whole files (by name) from the corpus",
        description="Remove reports from the corpus: ids from `rag corpus`, or a file name to remove every "
        "report of that file. Earlier versions stay on disk until pruned.",
    )
    remove.add_argument("refs", nargs="+", metavar="REPORT_ID", help="report id (or file name)")
    remove.add_argument("--json", action="store_true", help="print the summary as JSON")
    remove.set_defaults(func=_remove)


def _library(settings, progress: bool):
    from rag.app import open_encoder
    from rag.library import Library

    def step(name: str) -> None:
        if progress and name in ("parsed", "index-written", "current-swapped"):
            print(f"… {name}", file=sys.stderr)

    return Library(settings, encoder_factory=lambda: open_encoder(settings), on_step=step, progress=progress)


def _print(summary: ChangeSummary, as_json: bool) -> None:
    if as_json:
        print(summary.model_dump_json(indent=2))
        return
    for line in summary.lines():
        print(line)


def _ingest(args: argparse.Namespace) -> int:
    from rag.config import Settings
    from rag.library import read_uploads

    settings = Settings()
    uploads = read_uploads(args.paths, settings.ingest_max_bytes)
    summary, rejected = _library(settings, progress=not args.json).ingest(uploads, args.mode, args.skip_bad,
                                                                            replace=args.replace)
    for message in rejected:
        print(f"skipped: {message}", file=sys.stderr)
    _print(summary, args.json)
    return 0


def _remove(args: argparse.Namespace) -> int:
    from rag.config import Settings

    summary = _library(Settings(), progress=not args.json).remove(args.refs)
    _print(summary, args.json)
    return 0
