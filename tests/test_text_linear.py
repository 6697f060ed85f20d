"""No text rule may stall the server: every regex and every public text function is linear-time on
adversarial input (issue 13: a marker regex took 41 s on a whitespace-heavy history and froze /healthz).

* **Every compiled regex** of the project (found by importing every module, so a new one is covered
  without being listed) is run over 128 KB of whitespace, digits, punctuation, CJK, letters and the
  characters our patterns start with — each repeated, then ended by a character that breaks a match in
  progress; Hypothesis mixes the alphabets further. Each must scale linearly (128 KB may cost at most 24×
  what 16 KB costs; a quadratic pattern costs 64×, an exponential one never finishes) and stay within a
  budget.
* **Every public text function** gets 128 KB of the same kinds and must scale linearly within its budget.
  Requests cannot reach these sizes (a question is at most 2,000 characters and a conversation 24,000);
  ingest can, off the event loop.

No budget is in seconds: CPUs differ (budgets of 1 s per MB, written on one Xeon, failed on an AMD EPYC
with AVX2 only: 1.06–1.42 s). A budget is a multiple of a **reference scan of the same text measured in the
same run**: ``(?s).`` replaced at every character, one regex-engine match per character (≈50 ns per
character on a 2.8 GHz Xeon, whatever the characters). The budgets below are 2.5–4 times the slowest
pattern or function measured against it, so one that becomes several times slower fails on any machine.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow  # about two minutes of 128 KB scans; runs in CI (make test)

LARGE = 128_000
SMALL = LARGE // 8
# LARGE costs 8× what SMALL costs for linear work, 64× for quadratic; 24 leaves room for a busy machine and
# for CPython's collector, whose passes grow with the objects alive (a number token each).
LINEAR = 24
# Budgets in reference scans of the same text (module docstring). The slowest regexes (plan._WHO_VERB_RE on
# runs of spaces, the number patterns on 「第1第1…」) cost up to ≈32 of them; most functions under 10.
REGEX_BUDGET = 80
FUNCTION_BUDGET = 20
REFERENCE = re.compile(r"(?s).")
PACKAGES = ("rag", "api", "eval", "embeddings", "models")
SKIP_MODULES = {"rag.cli", "rag.__main__"}  # entry points: importing runs nothing useful

# One repeated unit each: runs of what patterns start with or loop over.
UNITS = {
    "spaces": " ", "mixed whitespace": " \t\u3000\n", "newlines": "\n", "digits": "1", "decimals": "1.2,",
    "years": "2023年", "CJK": "县水利局", "CJK numerals": "一二三四五六七八九十", "punctuation": "，。；：、",
    "brackets": "[", "parens": "(（", "markers": "[1 ", "labels": "来源：", "ordinals": "第1",
    "space-bracket": " [", "withheld": "XX万元", "X": "X", "hashes": "[# ", "dashes": "-", "dots": ".",
    "percent": "百分之", "codes": "a1",
    "mixture": "县 1。[2]（来源3）第4 ",
}
ENDS = ("a", "。")  # ended by a letter or a full stop that breaks a match in progress


def _fill(unit: str, size: int = LARGE, end: str = "a") -> str:
    return (unit * (size // len(unit) + 1))[: size - len(end)] + end


def _project_patterns() -> dict[str, re.Pattern[str]]:
    found: dict[str, re.Pattern[str]] = {}
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if info.name in SKIP_MODULES:
                continue
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if isinstance(value, re.Pattern) and isinstance(value.pattern, str):
                    found.setdefault(f"{info.name}.{name}", value)
    return found


PATTERNS = _project_patterns()


def _scan(pattern: re.Pattern[str], text: str) -> float:
    """Engine time of a full scan: every search from every position a match may start at (``subn``
    iterates in C, so a dense run of matches costs no Python objects) and an anchored match."""
    t0 = time.perf_counter()
    pattern.subn("", text)
    pattern.match(text)
    return time.perf_counter() - t0


def reference(text: str) -> float:
    """The calibration: seconds of one regex-engine match per character of ``text`` (best of three), on
    this machine, now."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        REFERENCE.subn("", text)
        best = min(best, time.perf_counter() - t0)
    return best


def _check_patterns(unit: str, end: str) -> dict[str, str]:
    """The patterns that are superlinear or over budget on ``unit`` repeated to LARGE, with why."""
    bad = {}
    large_text, small_text = _fill(unit, end=end), _fill(unit, SMALL, end=end)
    ref = reference(large_text)
    for name, pattern in PATTERNS.items():
        large = _scan(pattern, large_text)
        if large < ref:  # cheaper than one match per character: nothing to measure
            continue
        small = _scan(pattern, small_text)
        large = min(large, _scan(pattern, large_text))
        # slack of one reference scan: SMALL takes milliseconds, where a scheduler tick is noise
        if large > REGEX_BUDGET * ref or large > LINEAR * small + ref:
            bad[name] = (f"{SMALL // 1000} KB {small * 1000:.1f} ms, {LARGE // 1000} KB "
                         f"{large * 1000:.1f} ms = {large / ref:.1f} reference scans (budget {REGEX_BUDGET})")
    return bad


def test_the_project_has_its_patterns_found():
    assert len(PATTERNS) > 80
    assert "rag.text.markers._MARKER_RE" in PATTERNS and "rag.text.question._ENUM_RE" in PATTERNS


def test_the_checks_catch_a_quadratic_and_a_heavy_pattern():
    """The calibrated checks fail what they are for, on this machine: a pattern that backtracks over the
    rest of a run at every position (quadratic; small sizes, or it would take minutes) and a linear one that
    does far more work per character than any of ours."""
    quadratic = re.compile(r"\s+$")
    small, large = _fill(" ", 1_000), _fill(" ", 8_000)
    assert _scan(quadratic, large) > LINEAR * _scan(quadratic, small) + reference(large)
    heavy = re.compile(r"(?:[^x]y?){0,400}x")  # linear, but up to 800 steps from every position
    text = _fill("县水利局", SMALL)
    assert _scan(heavy, text) > REGEX_BUDGET * reference(text)


@pytest.mark.parametrize("kind", sorted(UNITS))
def test_every_regex_is_linear_on_runs_of_one_kind(kind):
    for end in ENDS:
        bad = _check_patterns(UNITS[kind], end)
        assert not bad, f"on {LARGE // 1000} KB of {kind!r} + {end!r}: {bad}"


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(units=st.lists(st.sampled_from(sorted(UNITS.values())), min_size=2, max_size=3),
       end=st.sampled_from(ENDS))
def test_every_regex_is_linear_on_mixed_runs(units, end):
    bad = _check_patterns("".join(units), end)
    assert not bad, f"on {LARGE // 1000} KB of {units!r} + {end!r}: {bad}"


# -- public text functions ------------------------------------------------------------------------------


def _functions() -> dict[str, tuple[Callable[[str], object], float]]:
    """name -> (call with one text, budget in reference scans of that text)."""
    from api.errors import public_text
    from rag.answering.followups import standalone_question
    from rag.answering.verify import (
        check_answer,
        extract_numbers,
        number_supported,
        parse_markers,
        split_sentences,
        support_score,
    )
    from rag.contracts import Turn
    from rag.corpus.metadata import body_from_opening, body_from_title, parse_periods, report_kind
    from rag.corpus.noise import is_advert, looks_like_compilation_title, strip_paid_markers
    from rag.corpus.reading import normalise_text
    from rag.library.uploads import clean_name
    from rag.retrieval.bm25 import tokenize
    from rag.retrieval.chunking import sentence_spans
    from rag.retrieval.retriever import half_year_conflict
    from rag.text.bigrams import bigrams
    from rag.text.normalize import normalize_for_search
    from rag.text.question import asked_measure, asked_unit, asks_enumeration, read_question, redacted

    # Budgets in reference scans (module docstring). Per-token Python work (a Decimal and a frozenset per
    # number found, a set entry per bigram, jieba's dictionary walk) costs up to ≈230 of them on runs of
    # 「第1第1…」 (one number per two characters); for these the linear check is the bound and the budget only
    # catches a catastrophe. A second group walks the text character by character in Python: up to ≈30.
    per_token = {
        **dict.fromkeys(["extract_numbers", "number_supported", "support_score", "check_answer",
                         "read_question", "tokenize"], 1000),
        **dict.fromkeys(["bigrams", "split_sentences", "parse_markers", "normalize_for_search",
                         "sentence_spans", "asked_unit", "asked_measure", "asks_enumeration"], 80),
    }
    calls: dict[str, Callable[[str], object]] = {
        "parse_markers": parse_markers, "split_sentences": split_sentences,
        "extract_numbers": extract_numbers,
        "number_supported": lambda t: number_supported("2023年", t),
        "support_score": lambda t: support_score("县水利局2023年加强资金监管。", t),
        "check_answer": lambda t: check_answer(t, {1: "县水利局2023年加强资金监管。"}),
        "asked_unit": asked_unit, "asked_measure": asked_measure, "asks_enumeration": asks_enumeration,
        "redacted": redacted, "read_question": read_question,
        "standalone_question": lambda t: standalone_question(
            "那下半年呢？", [Turn(role="user", content=t[:20_000]),
                           Turn(role="assistant", content=t[:20_000])]),
        "bigrams": bigrams, "sentence_spans": lambda t: sentence_spans(t, 400), "tokenize": tokenize,
        "half_year_conflict": lambda t: half_year_conflict(t, [t[:1000]]),
        "normalize_for_search": normalize_for_search, "report_kind": report_kind,
        "parse_periods": parse_periods, "body_from_title": body_from_title,
        "body_from_opening": body_from_opening, "strip_paid_markers": strip_paid_markers,
        "is_advert": is_advert, "looks_like_compilation_title": looks_like_compilation_title,
        "normalise_text": normalise_text, "public_text": public_text, "clean_name": clean_name,
    }
    return {name: (fn, per_token.get(name, FUNCTION_BUDGET)) for name, fn in calls.items()}


FUNCTIONS = _functions()
FUNCTION_KINDS = ("spaces", "digits", "decimals", "CJK", "CJK numerals", "punctuation", "markers",
                  "ordinals", "withheld", "mixture")


def _timed(fn: Callable[[str], object], unit: str, size: int, enough: float = 0.0) -> tuple[float, float]:
    """(seconds ``fn`` takes on ``unit`` repeated to ``size``, the reference scan of that text): the
    better of two runs (a busy machine), or the first alone when it is within ``enough`` reference scans.
    Each run gets a text of its own (another last character): some functions cache by text, and a cached
    run would make the comparison meaningless."""
    took, ref = float("inf"), 0.0
    for end in ("a", "b"):
        text = _fill(unit, size, end=end)
        ref = ref or reference(text)
        t0 = time.perf_counter()
        fn(text)
        took = min(took, time.perf_counter() - t0)
        if took <= enough * ref:
            break
    return took, ref


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_public_text_function_is_linear(name):
    fn, budget = FUNCTIONS[name]
    for kind in FUNCTION_KINDS:
        small, _ = _timed(fn, UNITS[kind], SMALL)
        large, ref = _timed(fn, UNITS[kind], LARGE, enough=budget / 2)
        if large > LINEAR * small + ref:  # one run, perhaps a noisy one: the better of two decides
            large, ref = _timed(fn, UNITS[kind], LARGE)
        assert large <= LINEAR * small + ref, (f"{name} is superlinear on {kind}: {SMALL // 1000} KB "
                                                f"{small * 1000:.1f} ms, {LARGE // 1000} KB "
                                                f"{large * 1000:.1f} ms")
        assert large <= budget * ref, (f"{name} took {large * 1000:.0f} ms on {LARGE // 1000} KB of {kind}: "
                                       f"{large / ref:.0f} reference scans (budget {budget})")
