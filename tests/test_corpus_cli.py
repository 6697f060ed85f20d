"""`rag corpus` and `rag corpus show`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from rag.cli import corpus as commands
from rag.config import PROJECT_ROOT
from rag.errors import ReportNotFound

DATA_DIR = PROJECT_ROOT / "data"
FIXTURES = Path(__file__).parent / "fixtures" / "corpus"
SUMMARY_KEYS = [
    "id",
    "source_file",
    "ordinal",
    "title",
    "title_line",
    "body",
    "level",
    "period",
    "kind",
    "n_sections",
]


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rag")
    commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_list_json_has_79_reports(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["corpus", "--json", "--data-dir", str(DATA_DIR)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 79
    assert all(list(row) == SUMMARY_KEYS for row in rows)
    assert rows[0] == {
        "id": "000_dffbd2b9ae2d443c-r01",
        "source_file": "000_dffbd2b9ae2d443c.txt",
        "ordinal": 1,
        "title": "2023年下半年工作计划",
        "title_line": 56,
        "body": None,
        "level": None,
        "period": "2023年下半年",
        "kind": "计划",
        "n_sections": 0,
    }
    assert (
        rows[-1]["title"] == "县水利局2023年上半年工作总结和下半年工作计划" and rows[-1]["title_line"] == 128
    )


def test_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["corpus", "--data-dir", str(FIXTURES)]) == 0
    out = capsys.readouterr().out
    assert "single_report-r01  line    1  XX区统计局2024年第一季度工作总结" in out
    assert out.rstrip().endswith("reports in 4 files")


def test_show_prints_the_section_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["corpus", "--data-dir", str(FIXTURES), "show", "single_report-r01", "--text"]) == 0
    out = capsys.readouterr().out
    assert "  [s2] （二）做好常规统计  (L7-10, 2 ¶)" in out
    assert "    [s2.1] ①农业统计  (L9, 1 ¶)" in out
    assert "closing XX区统计局" in out


def test_show_json_is_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["corpus", "--data-dir", str(DATA_DIR), "show", "004-r5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == "004_0fd432a33c6b23a6-r05"
    assert data["root"]["children"][1]["heading"] == "二、下半年工作计划"
    assert data["n_sections"] == 37


def test_show_unknown_report(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ReportNotFound, match="no report with id 'nope-r01'"):
        run(["corpus", "--data-dir", str(FIXTURES), "show", "nope-r01"])


def test_wired_into_rag_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("api.commands", reason="the api sub-commands are not there yet")
    from rag.cli import main

    monkeypatch.setenv("RAG_DATA_DIR", str(DATA_DIR))
    assert main(["corpus", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 79
    assert main(["corpus", "show", "no-such-report"]) == 2
