"""One question on its way through the answering stages: what every stage reads, typed."""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.answering.evidence import ItemList
from rag.answering.judge import Judgement
from rag.answering.verify.binding import Statement
from rag.contracts import Answer, AnswerMode, Evidence, QuestionPlan
from rag.retrieval.retriever import Hit


@dataclass
class AskContext:
    """Filled by retrieval (``AnswerService.stream``); read by the refusal, draft and extractive stages."""

    question: str  # as asked, trimmed
    standalone: str  # follow-ups rewritten to stand alone: what is searched and answered
    mode: AnswerMode
    plan: QuestionPlan  # what the question asks (plan.py): every stage reads it, not the raw question
    hits: list[Hit]
    evidence: list[Evidence]  # the compact passages the prompt shows
    grams: dict[str, float]  # the question's IDF-weighted bigrams (relevance of passages and clauses)
    subject_grams: dict[str, float]  # the plan's subject's (the question's when it has none): binding, gate
    bound: list[Statement] = field(default_factory=list)  # quantity: figures stated for the subject, best 1st
    # the sentences the answer is made of (brief.py): the LLM's prompt, the composed brief; numbered from 1
    points: list[Evidence] = field(default_factory=list)
    # each sentence of the hits with the probability that it answers the plan (judge.py)
    judgement: Judgement = field(default_factory=Judgement)
    judged: bool = False  # the judge gates this question: its probabilities pick the sentences quoted
    # the lists written as enumerated sentences (「一是…二是…」) in the passages' sections, by section id
    item_lists: dict[str, list[ItemList]] = field(default_factory=dict)

    def answer(self, **fields) -> Answer:
        """An Answer to this question; ``fields`` give the answer text, citations, refusal…"""
        fields.setdefault("evidence", self.evidence)
        return Answer(question=self.question, standalone_question=self.standalone, mode=self.mode,
                      plan=self.plan, **fields)
