"""Question → cited, checked answer (or an honest refusal that points to the nearest sections).

Stages (modules in rag/answering/), each reading the typed :class:`AskContext`: follow-up rewriting
(followups.py) → hybrid retrieval → evidence (evidence.py) streamed out → refusal before answering (scope
check, scope.py; relevance bar) → LLM draft, streamed (generation.py), checked sentence by sentence
(verify/) and completed with quotes (draft.py) — or the verbatim extractive answer (extractive.py) →
answer. Text and citations are rendered in one place (render.py).

The model's text is never shown unchecked in the final answer: a sentence survives only if the passages it
cites (or, after repair, others) support it, numbers exactly. Refusal is decided by the pipeline — scope,
retrieval relevance, whether a quantity question got a supported number — not by the model's say-so.
"""

from __future__ import annotations

import collections.abc
import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from rag.answering.brief import prompt_points, select_points
from rag.answering.compare import Comparer
from rag.answering.context import AskContext
from rag.answering.draft import answer_from_draft
from rag.answering.evidence import BigramIdf, EvidenceSelector, query_grams, relevance
from rag.answering.extractive import extractive_answer
from rag.answering.followups import standalone_question
from rag.answering.generation import GenerationParams, Generator, Usage
from rag.answering.judge import Judge
from rag.answering.plan import read_plan
from rag.answering.prompt import build_messages, citation_grammar, evidence_label
from rag.answering.quantity import quantity_gap
from rag.answering.render import missing_premises, refusal
from rag.answering.scan import ReportScanner
from rag.answering.scope import ScopeChecker
from rag.answering.speakers import speakers_of
from rag.answering.tables import compare_answer, report_rows, reports_answer
from rag.answering.verify.binding import Statement, bound, states_detail
from rag.config import AnswerConfig
from rag.contracts import (
    MAX_HISTORY_TURNS,
    MAX_QUESTION_CHARS,
    Answer,
    AnswerEvent,
    AnswerMode,
    Evidence,
    EvidenceEvent,
    QuestionPlan,
    RefusalCode,
    RowEvent,
    StreamEvent,
    Timings,
    TokenEvent,
    Turn,
)
from rag.corpus import Corpus
from rag.errors import GenerationError, InvalidQuestion
from rag.retrieval.retriever import Filters, Retriever
from rag.text.normalize import normalize_for_search
from rag.text.sentences import sentences

__all__ = ["AnswerConfig", "AnswerService", "validate_question"]

# A character a question can be searched by: Chinese, or a letter or digit.
_SEARCHABLE_RE = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")


def _no_llm(answer: Answer) -> Answer:
    """Tables are built from the reports' clauses without the model; an LLM-mode question says so."""
    if answer.mode == "llm":
        answer.fallback = "跨报告的表格直接由报告原文逐条核对生成，不经LLM改写"
    return answer


def validate_question(question: str, history: Sequence[Turn]) -> str:
    if not isinstance(question, str):
        raise InvalidQuestion("the question must be text")
    q = question.strip()
    if not q:
        raise InvalidQuestion("the question is empty; ask something about the reports, e.g. "
                              "「县水利局下半年在资金管理上有什么安排？」")
    if len(q) > MAX_QUESTION_CHARS:
        raise InvalidQuestion(f"the question has {len(q)} characters; at most {MAX_QUESTION_CHARS} are "
                              "accepted — shorten it to the point you want answered")
    if len(history) > MAX_HISTORY_TURNS:
        raise InvalidQuestion(f"history has {len(history)} turns; at most {MAX_HISTORY_TURNS} — send only "
                              "the recent ones")
    return q


class AnswerService:
    """Loaded once per process (API lifespan, CLI). ``stream`` yields evidence, tokens, then the answer."""

    def __init__(self, retriever: Retriever, corpus: Corpus, generator: Generator | None = None,
                 config: AnswerConfig | None = None):
        self.retriever = retriever
        self.corpus = corpus
        self.generator = generator
        self.config = config or AnswerConfig()
        idf = getattr(retriever, "idf", None) or BigramIdf(c.search_text for c in retriever.index.chunks)
        self.selector = EvidenceSelector(corpus, idf, self.config)
        self.scope = ScopeChecker(corpus)
        self.judge = Judge(retriever, corpus, idf, self.scope.text_grams)
        self.scanner = ReportScanner(retriever, corpus.reports, self.scope, self.config, self.judge,
                                     speakers=speakers_of(corpus))
        self.comparer = Comparer(retriever, list(corpus.reports), self.scope, self.selector, self.config,
                                 self.scanner)

    def warm_up(self) -> None:
        """Pay one-off costs before the first user does: the query encoder's first call, and the LLM's
        evaluation of the fixed system prompt (its KV cache is then reused by every question)."""
        self.retriever.encoder.encode_queries(["预热"])
        if self.generator is not None:
            # a remote endpoint that is down is reported at the first question
            with contextlib.suppress(GenerationError):
                list(self.generator.stream(build_messages("你好", [], prompt=self.config.prompt),
                                           GenerationParams(max_tokens=1), Usage()))

    def gate(self, plan: QuestionPlan) -> str:
        """The refusal gate in force: the judge where its weights fit the encoder (judge.py) and the question
        is about one report — it is fitted on such questions; a comparison or a question across reports that
        the tables did not take keeps the bigram bars. Where the judge gates, it also picks the sentences
        the evidence is cut around and the extractive answer quotes."""
        gate = self.config.refusal_gate
        if gate == "judge" and (not self.judge.usable or plan.across_reports):
            return "bigrams"
        return gate

    @property
    def model_name(self) -> str | None:
        return self.generator.name if self.generator is not None else None

    # -- public API -------------------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[Turn] = (), mode: AnswerMode = "llm",
            k: int | None = None, filters: Filters | None = None) -> Answer:
        for event in self.stream(question, history, mode, k, filters):
            if isinstance(event, AnswerEvent):
                return event.answer
        raise RuntimeError("answer stream ended without an answer")  # pragma: no cover

    def stream(self, question: str, history: Sequence[Turn] = (), mode: AnswerMode = "llm",
               k: int | None = None, filters: Filters | None = None,
               cancel: threading.Event | None = None) -> collections.abc.Generator[StreamEvent, None, None]:
        t0 = time.perf_counter()
        ctx = self._retrieve(question, history, mode, k, filters)
        timings = Timings(retrieval_ms=round((time.perf_counter() - t0) * 1000, 1))
        yield EvidenceEvent(standalone_question=ctx.standalone, evidence=ctx.evidence,
                            retrieval_ms=timings.retrieval_ms)

        if ctx.plan.scans_reports or ctx.plan.kind == "compare":
            table = yield from self._table(ctx, timings, t0)
            if table:
                return

        refused = self._refusal_before_answering(ctx)
        if refused is not None:
            code, reason = refused
            yield AnswerEvent(answer=self._finish(refusal(ctx, code, reason), timings, t0))
            return

        ctx.points = select_points(ctx)
        if mode == "extractive" or self.generator is None:
            fallback = None if mode == "extractive" else "no LLM is configured"
            yield AnswerEvent(answer=self._finish(self._extractive(ctx, fallback), timings, t0))
            return

        draft: list[str] = []
        usage = Usage()
        fallback = None
        try:
            for piece in self._generate(ctx, usage, cancel):
                if timings.first_token_ms is None:
                    timings.first_token_ms = round((time.perf_counter() - t0) * 1000, 1)
                draft.append(piece)
                yield TokenEvent(text=piece)
        except GenerationError as e:
            fallback = f"LLM failed ({e}); answered extractively"
        timings.prompt_tokens, timings.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        timings.prompt_new_tokens = usage.prompt_evaluated
        if cancel is not None and cancel.is_set():
            return
        if fallback:
            answer = self._extractive(ctx, fallback)
        else:
            answer = answer_from_draft(ctx, "".join(draft), self.config, self.model_name)
        yield AnswerEvent(answer=self._finish(answer, timings, t0))

    # -- stages ------------------------------------------------------------------------------------------

    def _retrieve(self, question: str, history: Sequence[Turn], mode: AnswerMode, k: int | None,
                  filters: Filters | None) -> AskContext:
        """Validate, rewrite a follow-up, search, read the question, select the evidence."""
        q = validate_question(question, history)
        standalone = standalone_question(q, history)
        hits = self.retriever.search(standalone, k=k or self.config.k, filters=filters)
        plan = read_plan(standalone)
        judgement = self.judge.judge(standalone, plan, hits)
        hits = self.judge.focus(hits, judgement)
        judged = judgement.of_span if self.gate(plan) == "judge" else None
        evidence = self.selector.select(standalone, hits, diversify=plan.across_reports,
                                        enumeration=plan.facts.enumeration,
                                        enumeration_size=plan.list_size, judged=judged, about=plan.subject)
        grams = query_grams(standalone, self.selector.idf)
        about = " ".join(w for w in (plan.subject, plan.measure) if w)
        subject = query_grams(about, self.selector.idf) if about else {}
        # only a question counting a list's items reads them (brief.py): none of the others pays for it
        lists = ({e.section_id: self.selector.item_lists(e.section_id)
                  for e in evidence if e.kind == "passage"} if plan.facts.asks_items else {})
        return AskContext(question=q, standalone=standalone, mode=mode, plan=plan, hits=hits,
                          evidence=evidence, grams=grams, subject_grams=subject or grams,
                          judgement=judgement, judged=judged is not None, item_lists=lists)

    def context(self, question: str, k: int | None = None) -> AskContext:
        """What the answering stages would read for ``question`` (no history): its plan, hits, evidence and
        judged sentences. The calibration (eval/calibrate.py) labels these."""
        return self._retrieve(question, (), "extractive", k, None)

    def _table(self, ctx: AskContext, timings: Timings,
               t0: float) -> collections.abc.Generator[StreamEvent, None, bool]:
        """Cross-report questions answered as a table, without the LLM: who/aggregate by scanning every
        report (scan.py), compare side by side (compare.py). Rows are sent as they are built. Returns
        whether the question was answered here (a comparison whose sides are not two distinct sets of
        reports goes the ordinary way)."""
        if len(_SEARCHABLE_RE.findall(normalize_for_search(ctx.standalone))) < 2:
            return False
        verdict = self.scope.check(ctx.plan)
        if not verdict.in_scope:
            yield AnswerEvent(answer=self._finish(refusal(ctx, "out_of_scope", verdict.reason), timings, t0))
            return True
        if ctx.plan.scans_reports:
            asked = ctx.plan.scope.compilation
            if asked and self.scanner.compilation(ctx.plan) is None:
                known = "、".join(f"《{t}》" for t in sorted(set(self.scanner.compilations().values())))
                reason = f"报告库中没有「{asked}」这本汇编（现有：{known}）"
                yield AnswerEvent(answer=self._finish(refusal(ctx, "out_of_scope", reason), timings, t0))
                return True
            kind = ctx.plan.scope.body_kind
            if kind and not self.scanner.reports_for(ctx.plan):
                reason = f"报告库中没有{kind}{'' if kind[-1] in '县区镇乡村道' else '部门'}的报告"
                yield AnswerEvent(answer=self._finish(refusal(ctx, "out_of_scope", reason), timings, t0))
                return True
            rows = []
            for row in report_rows(self.scanner.scan(ctx.plan)):
                rows.append(row)
                cells, _, citations = row
                yield RowEvent(columns=["单位", "报告", "时期", "原文要点"], row=cells, citations=citations)
            answer = (reports_answer(ctx, rows, self.scanner.where(ctx.plan)) if rows
                      else refusal(ctx, "off_topic"))
            yield AnswerEvent(answer=self._finish(_no_llm(answer), timings, t0))
            return True
        sides = self.comparer.sides(ctx.plan)
        if sides is None:
            return False
        self.comparer.fill(ctx.plan, sides, ctx.standalone)
        if not any(s.points for s in sides):
            yield AnswerEvent(answer=self._finish(refusal(ctx, "off_topic"), timings, t0))
            return True
        answer = _no_llm(compare_answer(ctx, sides))
        assert answer.table is not None
        for cells in answer.table.rows:
            cited = {n for c in cells for n in c.citations}
            yield RowEvent(columns=answer.table.columns, row=cells,
                           citations=[c for c in answer.citations if c.n in cited])
        yield AnswerEvent(answer=self._finish(answer, timings, t0))
        return True

    def refused_by_rules(self, ctx: AskContext) -> bool:
        """Whether the stages around the judge's gate refuse ``ctx`` whatever the gate says (scope, the
        asked detail, an unbound figure — binding without the judge's second way in): the calibration
        (eval/calibrate.py) chooses the gate's threshold for the questions that reach it."""
        saved, self.config = self.config, self.config.model_copy(update={"refusal_gate": "none"})
        try:
            return self._refusal_before_answering(ctx) is not None
        finally:
            self.config = saved

    def _refusal_before_answering(self, ctx: AskContext) -> tuple[RefusalCode, str | None] | None:
        """Refuse before any generation when the plan's target cannot be in the passages: the scope is
        not in the corpus, the passages do not state the subject, or (a quantity question) no passage states
        a figure for the subject — then say so, or that the report withholds it (「XX万元」)."""
        if not ctx.hits or not ctx.evidence:
            return "no_passages", None
        if len(_SEARCHABLE_RE.findall(normalize_for_search(ctx.standalone))) < 2:
            # 「²」「？？」: nothing a report could be searched for; an answer would be a guess at passages
            return "off_topic", "问题中没有可以在报告里查找的内容"
        verdict = self.scope.check(ctx.plan)
        if not verdict.in_scope:
            return "out_of_scope", verdict.reason
        gap = None
        if ctx.plan.asks_quantity:
            ctx.bound = bound(ctx.plan, ctx.evidence, ctx.subject_grams, self.config.bind_min,
                              bodies=self.judge.bodies, answers=self._judged_answer(ctx))
            gap = quantity_gap(ctx.plan, [s.clause for s in ctx.bound], ctx.bound)
            if gap == "withheld":  # the report names the figure for the subject and writes it XX: say so
                return gap, None
        if self.gate(ctx.plan) == "judge":
            # one fitted decision: does any sentence of the hits answer the plan (judge.py)?
            if ctx.judgement.best < self.judge.threshold:
                return "off_topic", None
            j = ctx.judgement
            for body in verdict.mentioned_only:
                # a body no report is by: only a sentence naming it can say what it does
                if not any(p >= self.judge.threshold and self.scope.names(body, normalize_for_search(c.text))
                           for c, p in zip(j.candidates, j.probabilities, strict=True)):
                    return "off_topic", f"报告中没有「{body}」关于「{ctx.plan.subject}」的内容"
        elif self.gate(ctx.plan) == "bigrams":
            refused = self._bigram_gate(ctx, verdict.mentioned_only)
            if refused is not None:
                return refused
        plan = ctx.plan
        if plan.asks and not states_detail(plan, ctx.evidence, ctx.subject_grams, self.config.bind_min,
                                           answers=self._judged_detail(ctx)):
            what = "具体时间" if ctx.plan.asks == "date" else "姓名"
            return "not_stated", f"报告中没有给出{ctx.plan.target or '所问事项'}的{what}"
        if gap is not None:
            return gap, None
        return None

    def _judged_answer(self, ctx: AskContext) -> Callable[[Evidence, Statement], bool] | None:
        """Binding's second way in: the figure's sentence answers the plan by the judge (refusal_gate)."""
        if self.gate(ctx.plan) != "judge":
            return None
        bar = self.judge.threshold
        return lambda e, s: ctx.judgement.of_span(e.source_file, s.start, s.end) >= bar

    def _judged_detail(self, ctx: AskContext) -> Callable[[Evidence, int, int], bool] | None:
        """The asked date or name's second way in: its sentence answers the plan by the judge."""
        if self.gate(ctx.plan) != "judge":
            return None
        bar = self.judge.threshold
        return lambda e, a, b: ctx.judgement.of_span(e.source_file, a, b) >= bar

    def _bigram_gate(self, ctx: AskContext,
                     mentioned_only: Sequence[str]) -> tuple[RefusalCode, str | None] | None:
        """The hand bars over bigrams that decided before the judge (refusal_gate="bigrams")."""
        if self._best_relevance(ctx.grams, ctx.evidence) < self.config.min_relevance:
            return "off_topic", None
        subject_found = self._best_relevance(ctx.subject_grams, ctx.evidence)
        # A subject of one short word (「困难」) is too little to judge by: the question's bar above holds.
        if len(ctx.plan.subject.replace(" ", "")) >= 4 and subject_found < self.config.subject_min:
            return "off_topic", None
        for body in mentioned_only:
            # a body no report is by: only a sentence naming it can say what it does
            if not any(self.scope.names(body, normalize_for_search(s)) and relevance(ctx.subject_grams, s)
                       >= self.config.subject_min for e in ctx.evidence for s in sentences(e.text)):
                return "off_topic", f"报告中没有「{body}」关于「{ctx.plan.subject}」的内容"
        return None

    def _generate(self, ctx: AskContext, usage: Usage, cancel: threading.Event | None) -> Iterator[str]:
        notes = [f"问题中的「{n}」在材料中没有出现，请以材料中的数字为准。"
                 for n in missing_premises(ctx.plan, ctx.evidence)]
        messages = build_messages(ctx.standalone, prompt_points(ctx.points), notes, self.config.prompt,
                                  shape=ctx.plan.kind)
        grammar = citation_grammar(len(ctx.points)) if self.config.constrain == "citations" else None
        params = GenerationParams(max_tokens=self.config.max_tokens, timeout_s=self.config.timeout_s,
                                  grammar=grammar)
        assert self.generator is not None
        yield from self.generator.stream(messages, params, usage, cancel=cancel)

    def _extractive(self, ctx: AskContext, fallback: str | None) -> Answer:
        return extractive_answer(ctx, self.config, fallback)

    @staticmethod
    def _best_relevance(q: dict[str, float], evidence: Sequence[Evidence]) -> float:
        """How much of the question the best passage (with its label and section path) holds."""
        texts = (f"{evidence_label(e)} {' '.join(e.section_path)} {e.text}" for e in evidence)
        return max((relevance(q, t) for t in texts), default=0.0)

    def _finish(self, answer: Answer, timings: Timings, t0: float) -> Answer:
        timings.total_ms = round((time.perf_counter() - t0) * 1000, 1)
        model = answer.model if answer.mode == "llm" and not answer.fallback else None
        return answer.model_copy(update={"timings": timings, "model": model or answer.model})
