"""Does a text answer a quantity question (「多少万元」「几个」)? Only with a figure bound to the question's
subject (verify/binding.py); when the subject's clause writes the amount as XX, the answer says the report
withholds it, citing that clause."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

from rag.answering.verify.binding import Statement
from rag.contracts import QuestionPlan
from rag.text.quantities import number_supported
from rag.text.question import quantities

# Why a text does not answer a quantity question: two of rag.contracts.RefusalCode.
QuantityGap = Literal["withheld", "not_stated"]
WITHHELD: Final = "withheld"
NOT_STATED: Final = "not_stated"


def states_bound_figure(text: str, bound: Sequence[Statement]) -> bool:
    """Whether ``text`` states one of the figures the bound statements state."""
    return any(number_supported(n, s.clause) for n in quantities(text) for s in bound if not s.withheld)



def quantity_gap(plan: QuestionPlan, texts: Sequence[str], bound: Sequence[Statement]) -> QuantityGap | None:
    """Why ``texts`` do not answer a quantity question: None if they state a bound figure (or the question
    asks for no quantity), :data:`WITHHELD` if the subject's clause writes it as XX, else
    :data:`NOT_STATED`."""
    if not plan.asks_quantity:
        return None
    # The statement most about the subject decides: 「A项目总投资5580万元，B项目总投资XX万元」 asked about B
    # binds B's XX above A's figure.
    if bound and bound[0].withheld:
        return WITHHELD
    if any(states_bound_figure(t, bound) for t in texts):
        return None
    return NOT_STATED
