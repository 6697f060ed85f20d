"""No text rule may stall the server: every regex and every public text function is linear-time on
adversarial input (issue 13: a marker regex took 41 s on a whitespace-heavy history and froze /healthz).

* **Every compiled regex** of the project (found by importing every module, so a new one is covered
  without being listed) is run over 1 MB of whitespace, digits, punctuation, CJK, letters and the
  characters our patterns start with — each repeated, then ended by a character that breaks a match in
  progress; Hypothesis mixes the alphabets further. Each must scale linearly (1 MB may cost at most 24×
  what 128 KB costs; a quadratic pattern costs 64×, an exponential one never finishes) and finish within
  1 s. Most take under 0.2 s; the alternations of answering/verify/ take up to ~0.7 s on the runs they
  start on (brackets, Chinese numerals), which ``-s`` prints.
* **Every public text function** gets 1 MB of the same kinds and must scale linearly within its budget:
  0.2 s, or more for those that do Python work per token (each listed with why). Requests cannot reach
  these sizes (a question is at most 2,000 characters and a conversation 24,000); ingest can, off the
  event loop.
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

pytestmark = pytest.mark.slow  # ~6 minutes of 1 MB scans; runs in CI (make test)

MB = 1_000_000
REGEX_BUDGET_S = 1.0  # for 1 MB; see the module docstring
FUNCTION_BUDGET_S = 0.2
# 1 MB costs 8× what 128 KB costs for linear work, 64× for quadratic; 24 leaves room for a busy machine and
# for CPython's collector, whose passes grow with the objects alive (a number token each, at 1 MB).
LINEAR = 24
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


def _fill(unit: str, size: int = MB, end: str = "a") -> str:
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


def _check_patterns(unit: str, end: str) -> dict[str, str]:
    """The patterns that are superlinear or over budget on ``unit`` repeated to 1 MB, with why."""
    bad = {}
    large_text, small_text = _fill(unit, end=end), _fill(unit, MB // 8, end=end)
    for name, pattern in PATTERNS.items():
        large = _scan(pattern, large_text)
        if large < 0.05:
            continue
        small = _scan(pattern, small_text)
        large = min(large, _scan(pattern, large_text))
        SLOWEST[name] = max(SLOWEST.get(name, 0.0), large)
        if large > REGEX_BUDGET_S or large > LINEAR * small + 0.02:
            bad[name] = f"128 KB {small:.3f} s, 1 MB {large:.3f} s"
    return bad


SLOWEST: dict[str, float] = {}


def test_the_project_has_its_patterns_found():
    assert len(PATTERNS) > 80
    assert "rag.text.markers._MARKER_RE" in PATTERNS and "rag.text.question._ENUM_RE" in PATTERNS


@pytest.mark.parametrize("kind", sorted(UNITS))
def test_every_regex_is_linear_on_runs_of_one_kind(kind):
    for end in ENDS:
        bad = _check_patterns(UNITS[kind], end)
        assert not bad, f"on 1 MB of {kind!r} + {end!r}: {bad}"


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(units=st.lists(st.sampled_from(sorted(UNITS.values())), min_size=2, max_size=3),
       end=st.sampled_from(ENDS))
def test_every_regex_is_linear_on_mixed_runs(units, end):
    bad = _check_patterns("".join(units), end)
    assert not bad, f"on 1 MB of {units!r} + {end!r}: {bad}"


def test_report_the_slowest_patterns():
    """Not a check: prints (with -s) the patterns over 0.2 s on some 1 MB input, for the record."""
    slow = {name: round(t, 2) for name, t in sorted(SLOWEST.items(), key=lambda kv: -kv[1]) if t > 0.2}
    print(f"\npatterns over 0.2 s on some 1 MB input: {slow or 'none'}")


# -- public text functions ------------------------------------------------------------------------------


def _functions() -> dict[str, tuple[Callable[[str], object], float]]:
    """name -> (call with one text, budget in seconds for 1 MB)."""
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

    # Per-token Python work (a Decimal and a frozenset per number found, a set entry per bigram, jieba's
    # dictionary walk) cannot reach 5 MB/s in CPython: 1 MB of 「第1第1…」 is 500,000 numbers, and these take
    # 1–12 s on it depending on the machine's load. For them the linear check is the bound; the budget only
    # catches a catastrophe.
    # A second group walks the text character by character in Python (0.2–0.7 s per MB): 3 s.
    per_token = {
        **dict.fromkeys(["extract_numbers", "number_supported", "support_score", "check_answer",
                         "read_question", "tokenize"], 60.0),
        **dict.fromkeys(["bigrams", "split_sentences", "parse_markers", "normalize_for_search",
                         "sentence_spans", "asked_unit", "asked_measure", "asks_enumeration"], 3.0),
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
    return {name: (fn, per_token.get(name, FUNCTION_BUDGET_S)) for name, fn in calls.items()}


FUNCTIONS = _functions()
FUNCTION_KINDS = ("spaces", "digits", "decimals", "CJK", "CJK numerals", "punctuation", "markers",
                  "ordinals", "withheld", "mixture")


def _timed(fn: Callable[[str], object], unit: str, size: int, budget: float) -> float:
    """Seconds ``fn`` takes on ``unit`` repeated to ``size``; near the budget, the better of two runs (a
    busy machine). Each run gets a text of its own (another last character): some functions cache by
    text, and a cached run would make the comparison meaningless."""
    took = float("inf")
    for end in ("a", "b"):
        text = _fill(unit, size, end=end)
        t0 = time.perf_counter()
        fn(text)
        took = min(took, time.perf_counter() - t0)
        if took <= budget / 2:
            break
    return took


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_public_text_function_is_linear(name):
    fn, budget = FUNCTIONS[name]
    for kind in FUNCTION_KINDS:
        small = _timed(fn, UNITS[kind], MB // 8, 0)  # budget 0: the better of two runs
        large = _timed(fn, UNITS[kind], MB, budget)
        assert large <= LINEAR * small + 0.05, \
            f"{name} is superlinear on {kind}: 128 KB {small:.3f} s, 1 MB {large:.3f} s"
        assert large <= budget, f"{name} took {large:.2f} s on 1 MB of {kind} (budget {budget} s)"
