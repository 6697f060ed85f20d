"""What every question-taking body shares: the question and history checks, their limits, ApiTurn and
ApiFilters."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field

from rag.contracts import MAX_QUESTION_CHARS, Turn
from rag.retrieval.retriever import Filters

# Question and history together: what a follow-up needs is the last few turns. A cap on the total (not only
# per turn) bounds every text step of a request: 20 turns of 20,000 characters used to be accepted.
MAX_CONVERSATION_CHARS = 24_000
MAX_K = 50
TURN_MAX_CHARS = next(m.max_length for m in Turn.model_fields["content"].metadata if hasattr(m, "max_length"))

EXAMPLE_QUESTION = "县水利局下半年在资金管理上有什么安排？"


def check_text(value: str) -> str:
    """JSON may carry lone surrogates (\\ud800) that no encoder, tokenizer or UTF-8 response can take."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the text contains an invalid character (an unpaired UTF-16 surrogate)") from None
    return value


def _check_question(value: str) -> str:
    value = check_text(value).strip()
    if not value:
        raise ValueError("the question is empty; type a question")
    if len(value) > MAX_QUESTION_CHARS:
        raise ValueError(f"the question has {len(value)} characters after trimming; "
                         f"the limit is {MAX_QUESTION_CHARS}")
    return value


# The schema says what the validator checks, so generated clients (and fuzzers) send valid questions: at
# least one character that str.strip() keeps. Spelled out, because regex engines disagree on \s (Python's
# includes \x1c-\x1f, Unicode's White_Space does not).
_NOT_SPACE = r"[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
# Documented only (json_schema_extra): _check_question enforces them itself, after trimming, with messages
# that say what to fix.
Question = Annotated[str, Field(json_schema_extra={"minLength": 1, "maxLength": MAX_QUESTION_CHARS,
                                                   "pattern": _NOT_SPACE}),
                     AfterValidator(_check_question)]


class ApiTurn(Turn):
    content: Annotated[str, AfterValidator(check_text)] = Field(max_length=TURN_MAX_CHARS)


class ApiFilters(Filters):
    """Report metadata filters; unknown keys are refused so a typo does not silently match everything."""

    model_config = ConfigDict(extra="forbid")
    report_ids: list[str] | None = Field(None, max_length=50, description="any of these reports (at most 50)")


def conversation_chars(question: str, history: list[ApiTurn] | list[Turn]) -> int:
    return len(question) + sum(len(t.content) for t in history)
