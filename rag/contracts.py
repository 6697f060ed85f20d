"""The answer contract: what `rag ask`, the HTTP API and the eval exchange.

Every claim in ``Answer.answer`` ends with markers like ``[1]`` that index ``Answer.citations``; a
citation carries the verbatim source text (D and AAA as written) and where it sits in the file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.text.question import QuestionFacts

# Limits of one question, the same for every entry point (CLI, HTTP, OpenAI route).
MAX_QUESTION_CHARS = 2000
MAX_HISTORY_TURNS = 20

AnswerMode = Literal["llm", "extractive"]


class Turn(BaseModel):
    """One earlier turn of a conversation (for follow-up questions)."""

    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class SourceSpan(BaseModel):
    """A verbatim span of a report file in `data/` and where it sits."""

    report_id: str
    report_title: str
    source_file: str = Field(description="File name under the data dir.")
    section_id: str
    section_path: list[str] = Field(description="Headings from the report's top level down.")
    line_start: int = Field(description="1-based first line of the span in the source file.")
    line_end: int = Field(description="1-based last line (inclusive).")
    char_start: int = Field(description="Offset of the span in the decoded source text.")
    char_end: int


class Citation(SourceSpan):
    n: int = Field(description="The number used in the answer's markers: [n].")
    quote: str = Field(description="Verbatim text of the source at char_start:char_end.")


class Evidence(SourceSpan):
    """A passage handed to the model (or quoted by the extractive mode), numbered as in the prompt."""

    id: int
    chunk_id: str
    kind: Literal["passage", "heading"] = Field(
        "passage", description="heading: one sub-section heading of the section an enumeration question is "
        "about (「哪几方面」 is answered by the headings).")
    text: str = Field(description="Verbatim source text of the passage.")
    score: float = Field(description="Retrieval score of the hit it was cut from (higher is better).")


class Unsupported(BaseModel):
    """A sentence the model wrote that was not shown: its cited evidence does not support it."""

    text: str
    reason: str


class Timings(BaseModel):
    retrieval_ms: float = 0.0
    first_token_ms: float | None = Field(None, description="From the question to the first answer token "
                                                           "(LLM mode); None when no token was generated.")
    total_ms: float = 0.0
    prompt_tokens: int = 0
    prompt_new_tokens: int = Field(0, description="Prompt tokens evaluated for this answer: the prompt "
                                   "less the cached system prompt (sets the first token's latency).")
    completion_tokens: int = 0


# who: 「哪些单位…」 (a row per body); aggregate: 「哪些报告/几份报告提到…」 (a row per report); both scan
# every report (rag/answering/scan.py). compare: one table column per side (rag/answering/compare.py).
PlanKind = Literal["fact", "quantity", "list", "who", "aggregate", "compare", "why_how", "summary"]


class Scope(BaseModel):
    """Where the answer must come from, as the question states it (None: not stated)."""

    body: str | None = Field(None, description="A government body named: 「县水利局」「城管部门」.")
    body_kind: str | None = Field(None, description="who/aggregate: the kind of body asked about: 「民政」 "
                                                    "(哪些民政部门), 「乡镇」, 「区县」; None for any.")
    label: str | None = Field(None, description="compare: how the question names this side.")
    place: str | None = Field(None, description="A place named apart from a body: 「枫香塘村」「XX街道」.")
    period: str | None = Field(None, description="「2023年下半年」「2024年」「上半年」.")
    report_kind: Literal["总结", "计划"] | None = Field(None, description="A summary or a plan, when asked.")
    compilation: str | None = Field(None, description="A compilation (汇编, 专辑) the question limits itself "
                                                      "to, as written: 「局机关材料汇编」.")


class QuestionPlan(BaseModel):
    """What the question asks, read off its wording once (rag/answering/plan.py); every answering stage
    reads this, not the raw question."""

    kind: PlanKind
    subject: str = Field(description="What is asked about, with scope and question words removed: "
                                     "「新建少年宫项目」「农村公路建设」.")
    measure: str | None = Field(None, description="The measure asked for: 「总投资」「招聘」「长度」.")
    unit: str | None = Field(None, description="The unit the figure must carry: 元 (万元 counts), 公里, "
                                               "名, %.")
    scope: Scope = Field(default_factory=Scope)
    sides: list[Scope] = Field(default_factory=list, description="compare: one scope per side.")
    premises: list[str] = Field(default_factory=list,
                                description="Figures the question takes for granted (checked against the "
                                            "passages; a false one is corrected).")
    list_size: int | None = Field(None, description="list: how many items are asked for (「哪四个」 → 4).")
    asks: Literal["date", "name"] | None = Field(
        None, description="A detail that must stand in the passage about the subject: a date (「什么时候」) "
                          "or a person's name (「叫什么名字」).")

    # What the stages read that is not shown: the lexical reading the plan was built from.
    facts: QuestionFacts = Field(exclude=True, repr=False)

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @property
    def asks_quantity(self) -> bool:
        return self.kind == "quantity"

    @property
    def across_reports(self) -> bool:
        """Evidence must come from several reports: 「哪些单位」, comparisons, 「各部门」「都提到」."""
        return self.kind in ("who", "aggregate", "compare") or self.facts.across_reports

    @property
    def scans_reports(self) -> bool:
        """Answered by scanning every report for the subject, one table row per report that states it; not
        when the question names one body or place (「XX镇计划在哪几个村…」 lists inside its reports)."""
        return self.kind in ("who", "aggregate") and self.scope.body is None and self.scope.place is None

    @property
    def target(self) -> str:
        """The subject and measure, as a refusal names them: 「新建少年宫项目的总投资」."""
        subject = self.subject.replace(" ", "")
        if self.measure and self.measure not in subject:
            return f"{subject}的{self.measure}" if subject else self.measure
        return subject



# out_of_scope: no report holds the body / place / period asked about; no_passages: nothing retrieved;
# off_topic: the passages do not state the question's subject; not_stated: the subject is there but not the
# figure asked for; withheld: the report writes that figure as XX (the answer quotes that clause);
# no_claim: nothing checkable could be said from the passages.
RefusalCode = Literal["out_of_scope", "no_passages", "off_topic", "not_stated", "withheld", "no_claim"]


class TableCell(BaseModel):
    """One cell: text verbatim from its cited clause (or metadata of the cited report, or 「未提及」)."""

    text: str
    citations: list[int] = Field(default_factory=list, description="The [n] of the citations it rests on.")


class Table(BaseModel):
    """A cross-report answer as a table: a row per report (who/aggregate) or per aspect (compare)."""

    kind: Literal["reports", "compare"]
    columns: list[str]
    rows: list[list[TableCell]] = Field(default_factory=list)


class Answer(BaseModel):
    question: str
    standalone_question: str = Field(description="The question after follow-up rewriting (used to retrieve).")
    answer: str = Field(description="Checked answer text; each claim ends with markers like [1].")
    refused: bool = Field(description="The reports do not answer it; `citations` then lists the nearest "
                                      "sections.")
    refusal_reason: str | None = Field(None, description="One sentence saying what the reports lack.")
    refusal_code: RefusalCode | None = Field(None, description="Why it was refused, for scripts: see "
                                                               "RefusalCode.")
    citations: list[Citation] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list, description="Every passage the answer could use.")
    unsupported: list[Unsupported] = Field(default_factory=list,
                                           description="Sentences removed because nothing supports them.")
    mode: AnswerMode
    model: str | None = Field(None, description="GGUF (or endpoint model) that wrote the draft; None if "
                                                "extractive.")
    fallback: str | None = Field(None, description="Why the LLM was not used although asked for.")
    timings: Timings = Field(default_factory=Timings)
    plan: QuestionPlan | None = Field(None, description="What the service understood the question to ask "
                                                        "(rag/answering/plan.py).")
    table: Table | None = Field(None, description="Cross-report questions: the rows, each cell citing its "
                                                  "clause; `answer` then holds the same table as Markdown.")


# Streaming: evidence first (within ~100 ms of the question), then tokens of the draft, then the checked
# answer. Token text is the model's raw draft; only the final `answer` event is checked and may differ.
class EvidenceEvent(BaseModel):
    event: Literal["evidence"] = "evidence"
    standalone_question: str
    evidence: list[Evidence]
    retrieval_ms: float


class TokenEvent(BaseModel):
    event: Literal["token"] = "token"
    text: str


class RowEvent(BaseModel):
    """One verified table row, sent as soon as it is checked (before the final answer)."""

    event: Literal["row"] = "row"
    columns: list[str]
    row: list[TableCell]
    citations: list[Citation] = Field(description="The citations the row's cells refer to.")


class AnswerEvent(BaseModel):
    event: Literal["answer"] = "answer"
    answer: Answer


StreamEvent = EvidenceEvent | TokenEvent | RowEvent | AnswerEvent
