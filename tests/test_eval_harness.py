"""`rag eval`: conditions and their pins, --check as a regression gate (shown by breaking retrieval on
purpose), diff."""

from __future__ import annotations

import json

import pytest

from eval.conditions import (
    TUNED_KEYS,
    Condition,
    Expectation,
    check_pins,
    flatten,
    load_conditions,
    load_conditions_file,
    resolved_tuned,
)
from eval.harness import check, diff
from eval.retrieval import QueryMemo
from rag.cli import main
from rag.config import DEFAULTS, PROJECT_ROOT, Settings
from rag.errors import RagError


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


def test_the_bundled_pins_match_the_current_defaults():
    """What makes a changed default in rag/config.py fail CI until the conditions are re-measured."""
    current = flatten(DEFAULTS)
    for cond in load_conditions().values():
        assert cond.pins, f"{cond.name} pins nothing"
        wrong = {key: (pinned, current[key]) for key, pinned in cond.pins.items()
                 if (pinned, isinstance(pinned, bool)) != (current[key], isinstance(current[key], bool))}
        assert not wrong, f"{cond.name}: (pinned, current) {wrong}; re-measure, update eval/conditions.yaml"
    check_pins(list(load_conditions().values()), current)  # the harness's own comparison agrees


def test_each_condition_pins_every_value_it_depends_on():
    """A knob added to TunedConfig must be pinned by the conditions that use it."""
    def group(*names: str) -> set[str]:
        return {k for k in TUNED_KEYS if k.split(".")[0] in names}

    not_pinned = {"answer.timeout_s"}  # a wall-clock limit set per machine (RAG_LLM_TIMEOUT_S), recorded
    for cond in load_conditions().values():
        if cond.kind == "answers":
            needed = group("chunk", "retrieval", "answer", "verify") - not_pinned
        elif cond.chunks == "structure":
            needed = group("chunk", "retrieval")
        else:  # fixed windows, no rerank: the fusion constant, the weights and the report prior
            needed = {"retrieval.rrf_k", "retrieval.dense_weight", "retrieval.bm25_weight",
                      "retrieval.report_weight"}
        assert needed <= set(cond.pins), f"{cond.name} does not pin {sorted(needed - set(cond.pins))}"


def _pinned(tmp_path, pins: str):
    path = tmp_path / "conds.yaml"
    path.write_text(f"""pin_groups:
  fusion: &fusion
    retrieval.rrf_k: 10.0
    retrieval.report_weight: 0.5
conditions:
  hybrid:
    kind: retrieval
    pins: {pins}
""", encoding="utf-8")
    return path


def test_a_pin_that_disagrees_with_the_default_is_refused(tmp_path, capsys):
    path = _pinned(tmp_path, "{<<: *fusion, retrieval.rrf_k: 30.0, answer.prompt: brief}")
    cond = load_conditions(path)["hybrid"]
    assert cond.pins == {"retrieval.rrf_k": 30.0, "retrieval.report_weight": 0.5, "answer.prompt": "brief"}
    with pytest.raises(RagError) as exc:
        check_pins([cond], flatten(DEFAULTS), path)
    message = str(exc.value)
    assert "hybrid: retrieval.rrf_k is pinned to 30.0 but the code now resolves 10.0" in message
    assert "re-measure" in message.lower() and str(path) in message and "report_weight" not in message
    # the command refuses before loading anything, and says the same
    assert main(["eval", "--conditions-file", str(path), "--condition", "hybrid",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "refusing condition(s) hybrid" in err and "retrieval.rrf_k is pinned to 30.0" in err
    assert not (tmp_path / "o").exists()
    # a pinned boolean is not the number 1
    with pytest.raises(RagError, match="promote_outline"):
        check_pins([Condition(name="x", kind="retrieval", pins={"retrieval.promote_outline": 1})],
                   flatten(DEFAULTS))


def test_the_settings_count_in_what_the_code_resolves(tmp_path):
    settings = Settings(chunk_max_chars=480, llm_timeout_s=5, _env_file=None)
    tuned = resolved_tuned(settings)
    assert tuned.chunk.max_chars == 480 and tuned.answer.timeout_s == 5
    assert tuned.retrieval == DEFAULTS.retrieval and resolved_tuned() == DEFAULTS
    with pytest.raises(RagError, match=r"chunk\.max_chars is pinned to 400 but the code now resolves 480"):
        check_pins([load_conditions()["hybrid"]], flatten(tuned))


@pytest.mark.parametrize("pins", ["{retrieval.rrf: 10.0}", "{rrf_k: 10.0}",
                                  "{<<: *fusion, verify.treshold: 0.8}"])
def test_an_unknown_pin_key_is_refused(tmp_path, pins):
    key = pins.split(",")[-1].strip(" {").split(":")[0]
    with pytest.raises(RagError) as exc:
        load_conditions(_pinned(tmp_path, pins))
    assert f"unknown pin key(s) '{key}'" in str(exc.value) and "conds.yaml" in str(exc.value)
    bad_group = tmp_path / "group.yaml"
    bad_group.write_text("pin_groups:\n  g: {chunk.size: 400}\nconditions: {}\n", encoding="utf-8")
    with pytest.raises(RagError, match=r"pin_groups: g: unknown pin key.*'chunk\.size'"):
        load_conditions(bad_group)


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
def test_check_passes_then_fails_when_retrieval_is_broken(tmp_path, capsys, monkeypatch, real_encoder):
    # The session's encoder, each distinct question embedded once (the conditions share their questions,
    # and the broken run repeats them): two thirds of this test's time was query embedding. No time is
    # checked here, so the memo changes no figure that is.
    memo = QueryMemo(real_encoder)
    monkeypatch.setattr("rag.app.open_encoder", lambda settings: memo)
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
    assert result["config"]["tuned"] == DEFAULTS.model_dump()
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
