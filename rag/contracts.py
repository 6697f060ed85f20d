"""The answer contract: what `rag ask`, the HTTP API and the eval exchange.

Every claim in ``Answer.answer`` ends with markers like ``[1]`` that index ``Answer.citations``; a
citation carries the verbatim source text (D and AAA as written) and where it sits in the file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

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
    completion_tokens: int = 0


class Answer(BaseModel):
    question: str
    standalone_question: str = Field(description="The question after follow-up rewriting (used to retrieve).")
    answer: str = Field(description="Checked answer text; each claim ends with markers like [1].")
    refused: bool = Field(description="The reports do not answer it; `citations` then lists the nearest "
                                      "sections.")
    refusal_reason: str | None = None
    citations: list[Citation] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list, description="Every passage the answer could use.")
    unsupported: list[Unsupported] = Field(default_factory=list,
                                           description="Sentences removed because nothing supports them.")
    mode: AnswerMode
    model: str | None = Field(None, description="GGUF (or endpoint model) that wrote the draft; None if "
                                                "extractive.")
    fallback: str | None = Field(None, description="Why the LLM was not used although asked for.")
    timings: Timings = Field(default_factory=Timings)


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


class AnswerEvent(BaseModel):
    event: Literal["answer"] = "answer"
    answer: Answer


StreamEvent = EvidenceEvent | TokenEvent | AnswerEvent
