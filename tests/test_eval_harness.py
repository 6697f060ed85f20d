"""`rag eval`: conditions, --check as a regression gate (shown by breaking retrieval on purpose), diff."""

from __future__ import annotations

import json

import pytest

from eval.harness import Condition, Expectation, check, diff, load_conditions, load_conditions_file
from rag.cli import main
from rag.config import PROJECT_ROOT


def test_conditions_file_is_valid_and_has_the_named_conditions():
    conds = load_conditions()
    for name in ("baseline-fixed-dense", "baseline-fixed-bm25", "hybrid", "hybrid-extractive",
                 "hybrid-llm-0.5b", "hybrid-llm-1.5b"):
        assert name in conds
    assert {c.name for c in conds.values() if c.ci} >= {"hybrid", "hybrid-extractive", "holdout-hybrid",
                                                          "holdout-extractive"}
    assert all(not c.ci or c.mode != "llm" for c in conds.values())  # the CI subset needs no LLM


def test_conditions_file_names_the_corpus_and_gold_set_its_expectations_are_for():
    spec = load_conditions_file()
    assert spec.corpus_path() == PROJECT_ROOT / "data"
    assert spec.gold_path() == PROJECT_ROOT / "eval" / "gold.jsonl"
    assert all((PROJECT_ROOT / c.gold).is_file() for c in spec.conditions.values() if c.gold)


def test_expectation_directions():
    score = Expectation(value=0.9, tolerance=0.02)
    assert score.ok(0.881) and not score.ok(0.87)
    cost = Expectation(value=0.03, tolerance=0.01, direction="max")
    assert cost.ok(0.04) and not cost.ok(0.05) and not cost.ok(None)
    cond = Condition(name="x", kind="retrieval", expected={"recall@1": score})
    assert check(cond, {"recall@1": 0.5})[0][3] is False


def test_diff_lists_better_and_worse_questions():
    a = {"records": [{"id": "q1", "type": "fact", "first_rank": 1, "question": "甲"},
                     {"id": "q2", "type": "fact", "first_rank": 3, "question": "乙"},
                     {"id": "q3", "type": "fact", "first_rank": None, "question": "丙"}]}
    b = {"records": [{"id": "q1", "type": "fact", "first_rank": 2, "question": "甲"},
                     {"id": "q2", "type": "fact", "first_rank": 3, "question": "乙"},
                     {"id": "q3", "type": "fact", "first_rank": 1, "question": "丙"}]}
    better, worse = diff(a, b)
    assert [line.split()[0] for line in better] == ["q3"] and [line.split()[0] for line in worse] == ["q1"]


@pytest.mark.slow
def test_check_passes_then_fails_when_retrieval_is_broken(tmp_path, capsys, monkeypatch):
    out = tmp_path / "results"
    # the fast subset, held-out questions included
    assert main(["eval", "--condition", "ci", "--check", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "FAIL" not in printed and "all metrics within tolerance" in printed
    assert "OK   holdout-hybrid" in printed and "OK   holdout-extractive" in printed
    assert json.loads((out / "holdout-hybrid.json").read_text(encoding="utf-8"))["n"] == 51
    result = json.loads((out / "hybrid.json").read_text(encoding="utf-8"))
    assert result["n"] == 115 and len(result["records"]) == 115
    assert result["provenance"]["gold"]["path"].endswith("eval/gold.jsonl")
    assert result["provenance"]["index"]["corpus_hash"] == result["provenance"]["corpus"]["content_hash"]
    assert result["config"]["k"] == 10 and result["config"]["retriever_params"]["rerank_weight"] > 0
    assert (out / "report.md").is_file() and (out / "retrieval-metrics.png").stat().st_size > 1000
    good = tmp_path / "good.json"
    good.write_text((out / "hybrid.json").read_text(encoding="utf-8"), encoding="utf-8")

    # Break retrieval on purpose: the ranking comes back upside down.
    from rag.retrieval.retriever import Retriever

    original = Retriever.search

    def reversed_search(self, query, k=10, filters=None, mode="hybrid"):
        hits = original(self, query, k=50, filters=filters, mode=mode)[::-1][:k]
        return [h.model_copy(update={"rank": i}) for i, h in enumerate(hits, start=1)]

    monkeypatch.setattr(Retriever, "search", reversed_search)
    assert main(["eval", "--condition", "hybrid", "--check", "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "FAIL hybrid                 recall@1" in printed

    # and the diff names the questions that got worse
    assert main(["eval", "diff", str(good), str(out / "hybrid.json")]) == 0
    printed = capsys.readouterr().out
    worse = printed.split("worse (", 1)[1]
    assert int(worse.split(")", 1)[0]) > 50
