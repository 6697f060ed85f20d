"""`rag corpus`: list the reports the parser finds; `rag corpus show ID`: print one report's section tree."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rag.corpus.loader import load_corpus
from rag.corpus.models import Corpus, Report, Section

_PREVIEW_CHARS = 60


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "corpus",
        help="list the reports parsed from the data folder",
        description="List the reports parsed from the data folder, or show one report's section tree.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--data-dir", type=Path, help="folder of report files (default: settings data_dir)")
    parser.set_defaults(func=_list)
    sub = parser.add_subparsers(dest="corpus_command", metavar="SUBCOMMAND")
    show = sub.add_parser(
        "show", help="print one report's section tree", description="Print a report's section tree."
    )
    show.add_argument("report_id", metavar="REPORT_ID", help="id from `rag corpus`, or e.g. 000-r3")
    show.add_argument("--json", action="store_true", dest="show_json", help="print the report as JSON")
    show.add_argument("--text", action="store_true", help="print every paragraph under its section")
    show.add_argument("--data-dir", type=Path, dest="show_data_dir", help=argparse.SUPPRESS)
    show.set_defaults(func=_show)


def _corpus(args: argparse.Namespace) -> Corpus:
    data_dir = getattr(args, "show_data_dir", None) or args.data_dir
    if data_dir is None:  # the live corpus: bundled reports plus those added with `rag ingest`
        from rag.app import open_corpus
        from rag.config import Settings

        return open_corpus(Settings())
    return load_corpus(data_dir)


def _warn(corpus: Corpus) -> None:
    for warning in corpus.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _list(args: argparse.Namespace) -> int:
    corpus = _corpus(args)
    _warn(corpus)
    rows = [report.summary() for report in corpus.reports]
    if args.json:
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    for row in rows:
        print(
            f"{row['id']}  line {row['title_line']:>4}  {row['title']}\n"
            f"    body: {row['body'] or '-'} | level: {row['level'] or '-'} | period: {row['period'] or '-'}"
            f" | kind: {row['kind'] or '-'} | sections: {row['n_sections']}"
        )
    print(f"{len(rows)} reports in {len(corpus.files)} files")
    return 0


def _preview(text: str) -> str:
    return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 1] + "…"


def _print_section(section: Section, with_text: bool) -> None:
    indent = "  " * section.level
    label = section.heading if section.heading is not None else "(preamble)"
    lines = f"L{section.line_start}" + (
        f"-{section.line_end}" if section.line_end != section.line_start else ""
    )
    short_id = section.id.rpartition("-")[2]
    print(f"{indent}[{short_id}] {label}  ({lines}, {len(section.paragraphs)} ¶)")
    if with_text:
        for p in section.paragraphs:
            if p.kind != "heading":
                print(f"{indent}    {p.line:>4} {p.kind:<7} {_preview(p.text)}")
    for child in section.children:
        _print_section(child, with_text)


def _print_report(report: Report, with_text: bool) -> None:
    print(f"{report.id}  {report.title}")
    print(f"  file: {report.source_file}:{report.title_line}-{report.line_end}")
    if report.compilation_title:
        print(f"  compilation: {report.compilation_title}")
    print(
        f"  body: {report.issuing_body or '-'} (from {report.issuing_body_source or '-'}) | "
        f"level: {report.admin_level or '-'} | periods: {', '.join(report.periods) or '-'} | "
        f"kind: {report.kind or '-'} | sections: {report.n_sections}"
    )
    _print_section(report.root, with_text)


def _show(args: argparse.Namespace) -> int:
    corpus = _corpus(args)
    report = corpus.resolve(args.report_id)
    if args.show_json or args.json:
        print(report.model_dump_json(indent=2))
    else:
        _print_report(report, args.text)
    return 0
