"""Every committed result says what it ran: a figure in eval/README.md or the docs can be traced to the
command, the commit, the CPU (times depend on it) and, for `rag eval`, the models, corpus, questions and
configuration. And every condition of eval/conditions.yaml has its committed result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.conditions import load_conditions

RESULTS = Path(__file__).resolve().parent.parent / "eval" / "results"
FILES = sorted(RESULTS.glob("*.json"))


def test_there_are_results_to_check():
    assert len(FILES) > 10


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_committed_result_records_what_it_ran(path: Path):
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: not an object with its provenance (re-run it)"
    p = data.get("provenance") or {}
    assert (p.get("git") or {}).get("commit"), f"{path.name}: no commit recorded (re-run it)"
    machine = p.get("machine") or {}
    assert machine.get("cpu") and "avx512" in machine, f"{path.name}: no CPU recorded (re-run it)"
    if "condition" in data:  # rag eval
        assert data.get("config", {}).get("tuned"), f"{path.name}: no resolved configuration"
        assert p.get("embedding_model", {}).get("fingerprint") and p.get("corpus", {}).get("content_hash")
        assert p.get("gold", {}).get("sha256"), f"{path.name}: no question-set hash"
        if data["spec"]["kind"] == "answers" and data["spec"]["mode"] == "llm":
            assert (p.get("llm") or {}).get("sha256"), f"{path.name}: no GGUF fingerprint"
            assert (data.get("calibration") or {}).get("reference_ms"), f"{path.name}: no latency calibration"
    else:  # bench/
        assert p.get("command") and p.get("measured_at"), f"{path.name}: no command or date recorded"


def test_every_condition_has_its_committed_result():
    names = set(load_conditions())
    missing = sorted(n for n in names if not (RESULTS / f"{n}.json").is_file())
    assert not missing, f"no committed result for {missing}: `rag eval --condition NAME`"


def test_no_condition_checks_a_time_in_milliseconds():
    """A time in ms depends on the CPU: `rag eval --check` would fail on a slower machine with the same code.
    Latency is checked against the run's own calibration (first_token_p50_calibrated)."""
    absolute = [f"{name}: {metric}" for name, cond in load_conditions().items() for metric in cond.expected
                if "_ms" in metric or metric.endswith("_s")]
    assert not absolute, absolute
