"""Tests for the gold evaluation set and its checker (eval/check_gold.py)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eval.check_gold import GoldItem, Result, check  # noqa: E402

CORPUS = "\n".join([
    "示例汇编",
    "XX局2023年下半年工作计划",
    "　　一、加强财政管理",
    "　　（一）资金监管。严格实行专户管理、专款专用，全年拨付资金1.5亿元。",
    "##paidbegin##YY局2023年上半年工作总结",
    "　　一、主要成绩",
    "　　完成审计项目14项，提出审计建议15条。",
    "",
])

BASE: dict[str, Any] = {
    "id": "q001",
    "question": "XX局2023年下半年在资金管理上有什么安排？",
    "type": "fact",
    "answerable": True,
    "expected": "answer",
    "key_facts": ["专户管理", "1.5亿元"],
    "sources": [{
        "file": "sample.txt",
        "report_title": "XX局2023年下半年工作计划",
        "section": ["一、加强财政管理", "（一）资金监管。"],
        "line": 4,
        "quote": "严格实行专户管理、专款专用",
    }],
    "notes": "资金监管一节。",
}
OTHER: dict[str, Any] = {
    "id": "q002",
    "question": "YY局2023年上半年完成了多少个审计项目？",
    "type": "fact",
    "answerable": True,
    "expected": "answer",
    "key_facts": ["14项"],
    "sources": [{
        "file": "sample.txt",
        "report_title": "YY局2023年上半年工作总结",
        "section": ["一、主要成绩"],
        "line": 7,
        "quote": "完成审计项目14项，提出审计建议15条",
    }],
    "notes": "标题行带 ##paidbegin## 标记。",
}


def run(tmp_path: Path, items: list[dict[str, Any]], **kwargs: Any) -> Result:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "sample.txt").write_text(CORPUS, encoding="utf-8")
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    kwargs.setdefault("counts", False)
    kwargs.setdefault("expect_reports", 0)
    return check(gold, data, **kwargs)


def broken(**changes: Any) -> dict[str, Any]:
    item = copy.deepcopy(BASE)
    for key, value in changes.items():
        if key.startswith("src_"):
            item["sources"][0][key[4:]] = value
        else:
            item[key] = value
    return item


def test_real_gold_set_passes() -> None:
    result = check(ROOT / "eval" / "gold.jsonl", ROOT / "data")
    assert result.errors == []
    assert len(result.items) >= 110
    assert len(result.reports) == 79
    assert {item.type for item in result.items} == {
        "fact", "list", "why_how", "compare", "aggregate", "unanswerable", "adversarial"}


def test_held_out_set_passes_and_is_disjoint_from_the_gold_set() -> None:
    result = check(ROOT / "eval" / "holdout.jsonl", ROOT / "data", counts=False, expect_reports=0)
    assert result.errors == []
    assert len(result.items) == 60 and len(result.reports) >= 40
    gold = check(ROOT / "eval" / "gold.jsonl", ROOT / "data")
    assert not {i.id for i in result.items} & {i.id for i in gold.items}
    assert not {i.question for i in result.items} & {i.question for i in gold.items}


@pytest.mark.integration  # a subprocess
def test_cli_reports_full_coverage() -> None:
    proc = subprocess.run([sys.executable, "-m", "eval.check_gold"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "reports covered: 79/79" in proc.stdout


def test_valid_sample_passes(tmp_path: Path) -> None:
    result = run(tmp_path, [BASE, OTHER])
    assert result.errors == []
    assert result.reports == {
        ("sample.txt", "XX局2023年下半年工作计划"), ("sample.txt", "YY局2023年上半年工作总结")}


@pytest.mark.parametrize(("item", "message"), [
    (broken(src_quote="严格实行专户管理和统一调度"), "q001: quote not found in sample.txt:4"),
    (broken(src_line=99), "q001: line 99 out of range"),
    (broken(src_line=7, src_quote="完成审计项目14项，提出审计建议"),
     "belongs to report 'YY局2023年上半年工作总结'"),
    (broken(key_facts=["专户管理", "2亿元"]),
     "q001: key fact not in its source lines or section headings: '2亿元'"),
    (broken(src_section=["一、加强财政管理", "（二）人员管理"]), "q001: section heading not found in order"),
    (broken(src_section=["加强财政管理"]), "section entry does not start with a heading marker"),
    (broken(question="XX局2023年下半年D建工作有什么安排？"), "q001: question contains a corpus placeholder"),
    (broken(key_facts=["严格实行专户管理、专款专用，全年拨付资金1.5亿元"]),
     "key fact must be 2-20 characters"),
    (broken(type="unanswerable", answerable=False, expected="refuse"),
     "unanswerable item must have empty key_facts and sources"),
    (broken(type="compare"), "compare item needs sources from at least 2 reports"),
    (broken(expected="correct"), "q001: schema: expected"),
])
def test_broken_item_is_reported(tmp_path: Path, item: dict[str, Any], message: str) -> None:
    result = run(tmp_path, [item, OTHER])
    assert any(message in error for error in result.errors), result.errors


def test_missing_report_title(tmp_path: Path) -> None:
    result = run(tmp_path, [broken(src_report_title="ZZ局2023年工作总结")])
    assert any("report_title not found above sample.txt:4" in e for e in result.errors), result.errors


def test_duplicate_id(tmp_path: Path) -> None:
    result = run(tmp_path, [BASE, dict(OTHER, id="q001")])
    assert "q001: duplicate id" in result.errors


def test_counts_and_coverage(tmp_path: Path) -> None:
    result = run(tmp_path, [BASE, OTHER], counts=True, expect_reports=3)
    assert any(e.startswith("counts: 2 items, need at least") for e in result.errors)
    assert "coverage: 2 reports covered, expected 3" in result.errors


def test_gold_item_model_is_reusable() -> None:
    item = GoldItem.model_validate(BASE)
    assert item.sources[0].line == 4
    with pytest.raises(ValueError, match="answerable item needs"):
        GoldItem.model_validate(dict(BASE, key_facts=[]))


def test_key_fact_alternatives(tmp_path: Path) -> None:
    # one alternative in the source is enough; the others are accepted renderings
    result = run(tmp_path, [broken(key_facts=["专户管理", ["1.5亿元", "1.5个亿"]]), OTHER])
    assert result.errors == []
    assert result.items[0].key_facts == ["专户管理", ["1.5亿元", "1.5个亿"]]
    result = run(tmp_path, [broken(key_facts=["专户管理", ["2亿元", "两亿元"]]), OTHER])
    assert any("key fact not in its source lines or section headings: none of '2亿元' / '两亿元'" in e
               for e in result.errors), result.errors


@pytest.mark.parametrize(("key_facts", "message"), [
    (["专户管理", ["1.5亿元", ["1.5亿"]]], "key_facts: key_facts[1]: a list inside a list of alternatives"),
    (["专户管理", []], "key_facts: key_facts[1]: an empty list of alternatives"),
    (["专户管理", 15], "key_facts: key_facts[1]: 15 is not a string or a list of strings"),
    (["专户管理", ["1.5亿元", 1.5]], "key_facts: key_facts[1]: alternative 1.5 is not a string"),
    (["专户管理", ["1.5亿元", "亿"]], "key_facts: key fact must be 2-20 characters: '亿'"),
    ("专户管理", "key_facts: must be a list of strings"),
])
def test_bad_key_fact_shapes_name_the_file_line_and_field(tmp_path: Path, key_facts: Any,
                                                          message: str) -> None:
    result = run(tmp_path, [OTHER, broken(key_facts=key_facts)])
    assert any(e.startswith("gold.jsonl:2: q001: schema: ") and message in e for e in result.errors), \
        result.errors


@pytest.mark.parametrize(("line", "message"), [
    ('{"id": "q001", "question": ', "gold.jsonl:2: invalid JSON: "),
    ("[1, 2]", "gold.jsonl:2: schema: item: a JSON object is needed, not list"),
    (json.dumps(dict(BASE, answerable="maybe"), ensure_ascii=False),
     "gold.jsonl:2: q001: schema: answerable: "),
    (json.dumps(dict(BASE, source="x"), ensure_ascii=False),
     "gold.jsonl:2: q001: schema: source: Extra inputs are not permitted"),
    (json.dumps({k: v for k, v in BASE.items() if k != "notes"}, ensure_ascii=False),
     "gold.jsonl:2: q001: schema: notes: Field required"),
])
def test_gold_format_errors_through_the_cli(tmp_path: Path, capsys, line: str, message: str) -> None:
    from eval.check_gold import main

    data = tmp_path / "data"
    data.mkdir()
    (data / "sample.txt").write_text(CORPUS, encoding="utf-8")
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps(OTHER, ensure_ascii=False) + "\n" + line + "\n", encoding="utf-8")
    args = ["--gold", str(gold), "--corpus", str(data), "--no-count-check", "--expect-reports", "0"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"error: {message}" in err, err
    assert "Traceback" not in err and "validation error" not in err


def test_read_gold_raises_one_error_listing_every_problem(tmp_path: Path) -> None:
    from eval.check_gold import GoldFormatError, read_gold

    gold = tmp_path / "mine.jsonl"
    gold.write_text("\n".join([json.dumps(BASE, ensure_ascii=False), "{oops",
                               json.dumps(dict(OTHER, type="opinion"), ensure_ascii=False)]) + "\n",
                    encoding="utf-8")
    with pytest.raises(GoldFormatError) as info:
        read_gold(gold)
    text = str(info.value)
    assert "mine.jsonl has 2 problem(s)" in text
    assert "mine.jsonl:2: invalid JSON" in text and "mine.jsonl:3: q002: schema: type: " in text
    assert read_gold(ROOT / "eval" / "holdout.jsonl")[0].id.startswith("q")


def test_cli_takes_the_corpus_option(tmp_path: Path, capsys) -> None:
    from eval.check_gold import main

    data = tmp_path / "reports"
    data.mkdir()
    (data / "sample.txt").write_text(CORPUS, encoding="utf-8")
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps(BASE, ensure_ascii=False) + "\n", encoding="utf-8")
    args = ["--gold", str(gold), "--no-count-check", "--expect-reports", "0"]
    assert main([*args, "--corpus", str(data)]) == 0
    assert "OK (0 errors)" in capsys.readouterr().out
    assert main([*args, "--corpus", str(tmp_path / "missing")]) == 2
    assert "corpus folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one name for the option everywhere
        main([*args, "--data", str(data)])


def _compare_item(**changes: Any) -> dict[str, Any]:
    item = copy.deepcopy(BASE)
    item.update(id="q003", type="compare", question="XX局和YY局各做了什么？", key_facts=["1.5亿元", "14项"],
                sources=BASE["sources"] + OTHER["sources"],
                sides=[{"label": "XX局", "file": "sample.txt", "report_title": "XX局2023年下半年工作计划",
                        "key_facts": ["1.5亿元"]},
                       {"label": "YY局", "file": "sample.txt", "report_title": "YY局2023年上半年工作总结",
                        "key_facts": ["14项"]}])
    item.update(changes)
    return item


def test_cross_report_sets_pass_and_are_disjoint() -> None:
    dev = check(ROOT / "eval" / "cross-dev.jsonl", ROOT / "data", counts=False, expect_reports=0)
    sealed = check(ROOT / "eval" / "cross-sealed.jsonl", ROOT / "data", counts=False, expect_reports=0)
    assert dev.errors == [] and sealed.errors == []
    items = dev.items + sealed.items
    assert sum(i.complete for i in items) >= 40 and sum(bool(i.sides) for i in items) >= 30
    assert not {i.question for i in dev.items} & {i.question for i in sealed.items}


def test_issue_29s_cross_report_sets_pass_and_are_disjoint() -> None:
    """cross-sealed2 (bundled) is checked here; the second corpus's sets where that corpus is at hand
    (``RAG_SECOND_CORPUS``, default ../shared/corpora/dragonball-zh beside the clone)."""
    import os

    sealed2 = check(ROOT / "eval" / "cross-sealed2.jsonl", ROOT / "data", counts=False, expect_reports=0)
    assert sealed2.errors == []
    assert all(i.complete or i.sides for i in sealed2.items)
    earlier = {i.question for f in ("cross-dev.jsonl", "cross-sealed.jsonl")
               for i in check(ROOT / "eval" / f, ROOT / "data", counts=False, expect_reports=0).items}
    assert not {i.question for i in sealed2.items} & earlier
    second = Path(os.environ.get("RAG_SECOND_CORPUS", ROOT.parent / "shared" / "corpora" / "dragonball-zh"))
    if not second.is_dir():
        pytest.skip(f"second corpus not at {second}")
    dev, sealed = (check(ROOT / "eval" / "dragonball" / f, second, counts=False, expect_reports=0)
                   for f in ("cross-dev.jsonl", "cross-sealed.jsonl"))
    assert dev.errors == [] and sealed.errors == []
    assert not {i.question for i in dev.items} & {i.question for i in sealed.items}
    ids = [i.id for f in (ROOT / "eval" / "dragonball").glob("*.jsonl")
           for i in check(f, second, counts=False, expect_reports=0).items]
    assert len(ids) == len(set(ids))


def test_sides_are_checked_against_their_own_reports(tmp_path: Path) -> None:
    assert run(tmp_path, [_compare_item(), OTHER]).errors == []
    swapped = _compare_item()
    swapped["sides"][0]["key_facts"] = ["14项"]  # YY局's figure given to XX局
    errors = run(tmp_path, [swapped, OTHER]).errors
    assert any("side 'XX局': key fact not in that side's source lines: '14项'" in e for e in errors), errors
    same = _compare_item()
    same["sides"][1] = dict(same["sides"][0], label="XX局2")
    assert any("two sides need different reports" in e for e in run(tmp_path, [same, OTHER]).errors)


def test_complete_is_for_aggregate_items_only(tmp_path: Path) -> None:
    errors = run(tmp_path, [broken(complete=True), OTHER]).errors
    assert any("complete is for aggregate items only" in e for e in errors), errors
