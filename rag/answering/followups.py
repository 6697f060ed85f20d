"""Follow-up questions → standalone questions, by rules (no LLM call: it costs seconds and adds errors).

「那下半年呢？」 after 「县水利局上半年在资金管理上做了什么？」 becomes
「县水利局下半年在资金管理上做了什么？」; 「他们的防汛工作呢？」 becomes 「县水利局的防汛工作呢？」.
Earlier follow-ups are resolved first, so a chain of them keeps its subject.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.contracts import Turn
from rag.text.lexicon import PERIODS
from rag.text.question import read_question

_PERIOD_RE = re.compile(rf"(?:20\d{{2}}\s*年)?(?:{PERIODS})|"
                        r"20\d{2}\s*年(?:度)?|明年|今年|去年")
_LEAD_RE = re.compile(r"^(?:那么|那|还有|另外|此外|同样|再问一下|再问|请问|那请问)[，,、\s]*")
_TAIL_PUNCT = "？?。！! \t\n\r\u3000"
_PRONOUN_RE = re.compile(r"他们|它们|他|它|该局|该单位|该部门|该[镇县区市]|这个单位|这个部门|这家单位|其")
_FOLLOW_UP_RE = re.compile(r"^(?:那么|那|还有|另外|此外|同样|其中)|呢[？?]?\s*$|他们|它们|该局|该单位|该部门")
SHORT_QUESTION = 10  # characters: shorter questions without a body of their own lean on the context


def _strip_tail(text: str) -> str:
    r"""Without the closing 「…的情况呢？」: end punctuation, then one particle, then one 「情况/方面」.
    (Written as code, not ``…[？?\s]*$``: that pattern restarts at every space of a long run.)"""
    text = text.rstrip(_TAIL_PUNCT)
    for words in (("呢", "吗", "怎么样", "如何"), ("的情况", "情况", "方面")):
        text = next((text[: -len(w)] for w in words if text.endswith(w)), text)
    return text


def _is_follow_up(question: str) -> bool:
    if read_question(question).bodies:
        return False
    marked = _FOLLOW_UP_RE.search(question) or _PRONOUN_RE.search(question)
    return bool(marked) or len(question) < SHORT_QUESTION


def _rewrite_one(question: str, previous: str) -> str:
    q = question.strip()
    if not previous or not _is_follow_up(q):
        return q
    core = _strip_tail(_LEAD_RE.sub("", q)).strip()
    prev_facts = read_question(previous)
    subject = prev_facts.bodies[0].text if prev_facts.bodies else ""
    q_period = _PERIOD_RE.search(core)
    prev_period = _PERIOD_RE.search(previous)
    # Only a new period (「那下半年呢」): the previous question with its period swapped.
    if q_period and core.replace(q_period.group(0), "").strip("的在 ") == "":
        if prev_period:
            return previous[: prev_period.start()] + q_period.group(0) + previous[prev_period.end():]
        if subject:
            return previous.replace(subject, subject + q_period.group(0), 1)
        return f"{previous} {q_period.group(0)}"
    if subject:
        if _PRONOUN_RE.search(core):
            core = _PRONOUN_RE.sub(subject, core, count=1)
        elif subject not in core:
            period = prev_period.group(0) if prev_period and not q_period else ""
            core = f"{subject}{period}{core}"
        return core + ("？" if not core.endswith(("？", "?")) else "")
    # No body to carry over: keep the previous question as context for retrieval.
    return f"{previous} {q}"


def standalone_question(question: str, history: Sequence[Turn] = ()) -> str:
    """``question`` rewritten to stand alone, given earlier turns (oldest first)."""
    previous = ""
    for turn in history:
        if turn.role == "user" and turn.content.strip():
            previous = _rewrite_one(turn.content, previous)
    return _rewrite_one(question, previous)
