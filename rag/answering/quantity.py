"""Does a text answer a quantity question (「多少万元」「几个」)? The amount must sit in a clause about
the question's subject; an amount the report withholds (「XX万元」) is named as the reason it cannot."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rag.config import DEFAULTS
from rag.contracts import Evidence
from rag.text.bigrams import relevance
from rag.text.question import QuestionFacts, quantities, redacted, states_unit
from rag.text.sentences import CLAUSE_END_RE

CLAUSE_FOCUS = DEFAULTS.answer.clause_focus  # rag/config.py: why 0.5

WITHHELD = "报告原文中相关数字以“XX”隐去，没有给出具体数值"
NOT_STATED = "报告没有给出问题所问的具体数字"


def focused_clauses(texts: Sequence[str], q: dict[str, float], states: Callable[[str], bool]) -> list[str]:
    """The clauses of ``texts`` about the question, each with the clauses after it in its sentence up to
    the first that states or withholds an amount, when it states none itself: Chinese names the topic,
    then the figure (「工业化水平不高，我市工业化率37.8%」「完成11家企业资产转让，共盘活土地335.42亩」)."""
    per_text = [[c for c in CLAUSE_END_RE.split(t) if c.strip()] for t in texts]
    scores = [[relevance(q, c) for c in cs] for cs in per_text]
    top = max((sc for ss in scores for sc in ss), default=0.0)
    out = []
    for cs, ss in zip(per_text, scores, strict=True):
        for i, (c, sc) in enumerate(zip(cs, ss, strict=True)):
            if sc < CLAUSE_FOCUS * top:
                continue
            out.append(c)
            j = i
            while (j + 1 < len(cs) and cs[j].rstrip()[-1:] in "，,：:" and not states(cs[j])
                   and not redacted(cs[j])):
                j += 1
                out.append(cs[j])
    return out


def quantity_gap(facts: QuestionFacts, texts: Sequence[str], evidence: Sequence[Evidence],
                 q: dict[str, float] | None = None) -> str | None:
    """Why ``texts`` do not answer a quantity question (None if they do, or it asks for no quantity).

    「多少万元」 needs a number in 元 (magnitude aside), other 「多少/几」 questions any amount (dates do not
    count), stated in a clause about the question (with ``q``, the question's weighted bigrams). A passage
    with a withheld amount (「XX万元」) is named as the reason.
    """
    if not facts.asks_quantity:
        return None

    def states(t: str) -> bool:
        return states_unit(t, facts.unit) if facts.unit else bool(quantities(t))

    if q:
        texts = focused_clauses(texts, q, states) or list(texts)
    measure = facts.measure
    if measure and any(redacted(t, measure) for t in texts) and not any(
            measure in n for t in texts for n in quantities(t)):
        # 「多少套」 and the clause about it says 「XX套」: another figure beside it (「23宗」) is no answer
        return WITHHELD
    if any(states(t) for t in texts):
        return None
    if any(redacted(e.text) for e in evidence[:3]):
        return WITHHELD
    return NOT_STATED
