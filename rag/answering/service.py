"""Question → cited, checked answer (or an honest refusal that points to the nearest sections).

Pipeline (modules in rag/answering/): follow-up rewriting (followups.py) → hybrid retrieval → scope check
(scope.py) → compact evidence (evidence.py) → evidence streamed out → LLM draft, streamed (generation.py) or
verbatim extractive answer → sentence-by-sentence citation check (verify/) → answer.

The model's text is never shown unchecked in the final answer: a sentence survives only if the passages it
cites (or, after repair, others) support it, numbers exactly. Refusal is decided by the pipeline — scope,
retrieval relevance, whether a quantity question got a supported number — not by the model's say-so.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from rag.answering.evidence import BigramIdf, EvidenceSelector, query_grams, relevance
from rag.answering.followups import standalone_question
from rag.answering.generation import GenerationParams, Generator, Usage
from rag.answering.prompt import build_messages, evidence_label
from rag.answering.scope import ScopeChecker
from rag.answering.verify import (
    DEFAULT_THRESHOLD,
    AnswerCheck,
    check_answer,
    extract_numbers,
    number_supported,
    support_score,
)
from rag.contracts import (
    Answer,
    AnswerEvent,
    AnswerMode,
    Citation,
    Evidence,
    EvidenceEvent,
    StreamEvent,
    Timings,
    TokenEvent,
    Turn,
    Unsupported,
)
from rag.corpus import Corpus
from rag.errors import GenerationError, InvalidQuestion
from rag.retrieval.retriever import Filters, Hit, Retriever
from rag.text.question import QuestionFacts, quantities, read_question, redacted, states_unit

MAX_QUESTION_CHARS = 2000
MAX_HISTORY_TURNS = 20


class AnswerConfig(BaseModel):
    k: int = Field(8, ge=1, le=50, description="Hits retrieved before evidence selection.")
    budget_chars: int = Field(650, ge=100, description="Evidence characters in the prompt (all passages).")
    passage_chars: int = Field(260, ge=40, description="Characters of one passage at most.")
    max_passages: int = Field(5, ge=1)
    max_tokens: int = Field(320, ge=16, description="Longest draft the model may write.")
    timeout_s: float = Field(60.0, gt=0, description="Generation wall-clock limit; then extractive fallback.")
    # Share of the question's (IDF-weighted) bigrams found in the best passage + its label below which
    # the reports are taken not to cover the question. Calibrated on the gold set (eval/README.md).
    min_relevance: float = Field(0.2, ge=0, le=1)
    extractive_sentences: int = Field(3, ge=1, description="Passages quoted by the extractive answer.")
    excerpt_chars: int = Field(
        480, ge=40, description="Quoted passages (「原文摘录」, extractive answers) are grown within their "
        "hit up to this many characters; the prompt keeps the short passage (answering/evidence.py, widen).")
    extractive_quote: Literal["sentence", "passage"] = Field(
        "passage", description="Quote each passage's best sentence, or the whole (already compact) passage "
        "(measured: key-fact recall 0.64 → 0.77 on the gold set, eval/README.md).")
    prompt: Literal["brief", "verbatim"] = Field("brief", description="System prompt (answering/prompt.py).")
    complete_with_quotes: Literal["off", "uncited", "all"] = Field(
        "all", description="After the model's checked sentences, quote the relevant passages it left "
        "uncited, or all relevant passages: small models drop items of enumerations. A quantity question "
        "gets only the sentences its brief cited, verbatim. Measured on 32 gold questions with the 0.5B "
        "model, key-fact recall: off/uncited 0.54, all 0.72 (eval/README.md).")


_MARKER_RE = re.compile(r"\[(\d+)\]")
_UNIT_END = re.compile(r"(?<=[。！？；!?;\n])")


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


def _sentences(text: str, offset: int) -> list[tuple[int, int]]:
    """Absolute spans of the sentences of a passage starting at ``offset`` (whitespace trimmed)."""
    bounds = [0, *(m.start() for m in _UNIT_END.finditer(text)), len(text)]
    spans = []
    for a, b in itertools.pairwise(bounds):
        piece = text[a:b]
        if not piece.strip():
            continue
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece) - len(piece.rstrip())
        spans.append((offset + a + lead, offset + b - trail))
    return spans


def _span_citation(n: int, e: Evidence, start: int, end: int) -> Citation:
    """Citation ``n`` quoting ``e``'s source from absolute offset ``start`` to ``end``."""
    quote = e.text[start - e.char_start : end - e.char_start]
    line_start = e.line_start + e.text[: start - e.char_start].count("\n")
    return Citation(n=n, quote=quote, line_start=line_start, line_end=line_start + quote.count("\n"),
                    char_start=start, char_end=end,
                    **e.model_dump(include={"report_id", "report_title", "source_file", "section_id",
                                            "section_path"}))


def _quote_line(e: Evidence, quote: str, n: int) -> str:
    """An answer line quoting ``quote`` from passage ``e`` verbatim (whitespace folded), cited [n]."""
    return f"{evidence_label(e)}：「{' '.join(quote.split())}」[{n}]"


def _citation(n: int, e: Evidence, claims: Sequence[str]) -> Citation:
    """Citation ``n`` for passage ``e``, its quote narrowed to the sentences that support ``claims``."""
    start, end = e.char_start, e.char_end
    spans = _sentences(e.text, e.char_start)
    if claims and len(spans) > 1:
        picked = []
        texts = [e.text[a - e.char_start : b - e.char_start] for a, b in spans]
        for claim in claims:
            scores = [support_score(claim, t) for t in texts]
            # The sentence that states the claim's numbers: a bare figure (「27.3%」) has too little text to
            # be placed by its words alone.
            numbers = extract_numbers(claim)
            stating = [i for i, t in enumerate(texts)
                       if numbers and all(number_supported(n, t) for n in numbers)]
            best = max(stating or range(len(spans)), key=lambda i: scores[i])
            # a claim drawn from several sentences keeps the whole passage
            if scores[best] >= DEFAULT_THRESHOLD or len(stating) == 1:
                picked.append(best)
            else:
                picked = list(range(len(spans)))
                break
        if picked:
            start, end = spans[min(picked)][0], spans[max(picked)][1]
    return _span_citation(n, e, start, end)


_CLAUSE_RE = re.compile(r"(?<=[，,；;。！？!?\n])")
# A clause counts as being about the question when its relevance is at least this share of the best
# clause's: the amount asked for sits in the clause that names the thing (「…完成全社会固定资产投资XX亿元」),
# not in a neighbouring clause about something else (「…发放燃油卡补贴27万元」).
CLAUSE_FOCUS = 0.5


def _focused_clauses(texts: Sequence[str], q: dict[str, float], states: Callable[[str], bool]
                     ) -> list[str]:
    """The clauses of ``texts`` about the question, each with the clauses after it in its sentence up to
    the first that states or withholds an amount, when it states none itself: Chinese names the topic,
    then the figure (「工业化水平不高，我市工业化率37.8%」「完成11家企业资产转让，共盘活土地335.42亩」)."""
    per_text = [[c for c in _CLAUSE_RE.split(t) if c.strip()] for t in texts]
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


def _quantity_gap(facts: QuestionFacts, texts: Sequence[str], evidence: Sequence[Evidence],
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
        texts = _focused_clauses(texts, q, states) or list(texts)
    measure = facts.measure
    if measure and any(redacted(t, measure) for t in texts) and not any(
            measure in n for t in texts for n in quantities(t)):
        # 「多少套」 and the clause about it says 「XX套」: another figure beside it (「23宗」) is no answer
        return "报告原文中相关数字以“XX”隐去，没有给出具体数值"
    if any(states(t) for t in texts):
        return None
    if any(redacted(e.text) for e in evidence[:3]):
        return "报告原文中相关数字以“XX”隐去，没有给出具体数值"
    return "报告没有给出问题所问的具体数字"


def _checked_evidence(evidence: Sequence[Evidence]) -> dict[int, str]:
    # The label rides along: a sentence may name the body or the period from the report title.
    return {e.id: f"{evidence_label(e)}\n{e.text}" for e in evidence}


class AnswerService:
    """Loaded once per process (API lifespan, CLI). ``stream`` yields evidence, tokens, then the answer."""

    def __init__(self, retriever: Retriever, corpus: Corpus, generator: Generator | None = None,
                 config: AnswerConfig | None = None):
        self.retriever = retriever
        self.corpus = corpus
        self.generator = generator
        self.config = config or AnswerConfig()
        idf = getattr(retriever, "idf", None) or BigramIdf(c.search_text for c in retriever.index.chunks)
        self.selector = EvidenceSelector(corpus, idf, budget_chars=self.config.budget_chars,
                                         passage_chars=self.config.passage_chars,
                                         max_passages=self.config.max_passages)
        self.scope = ScopeChecker(corpus)

    def warm_up(self) -> None:
        """Pay one-off costs before the first user does: the query encoder's first call, and the LLM's
        evaluation of the fixed system prompt (its KV cache is then reused by every question)."""
        self.retriever.encoder.encode_queries(["预热"])
        if self.generator is not None:
            # a remote endpoint that is down is reported at the first question
            with contextlib.suppress(GenerationError):
                list(self.generator.stream(build_messages("你好", [], prompt=self.config.prompt),
                                           GenerationParams(max_tokens=1), Usage()))

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
               cancel: threading.Event | None = None) -> Iterator[StreamEvent]:
        t0 = time.perf_counter()
        q = validate_question(question, history)
        standalone = standalone_question(q, history)
        hits = self.retriever.search(standalone, k=k or self.config.k, filters=filters)
        facts = read_question(standalone)
        evidence = self.selector.select(standalone, hits, diversify=facts.across_reports,
                                        enumeration=facts.enumeration,
                                        enumeration_size=facts.enumeration_size)
        timings = Timings(retrieval_ms=round((time.perf_counter() - t0) * 1000, 1))
        yield EvidenceEvent(standalone_question=standalone, evidence=evidence,
                            retrieval_ms=timings.retrieval_ms)

        base = {"question": q, "standalone_question": standalone, "evidence": evidence, "mode": mode}
        reason = self._refusal_before_answering(standalone, facts, hits, evidence)
        if reason is not None:
            yield AnswerEvent(answer=self._finish(self._refusal(base, reason, evidence), timings, t0))
            return

        if mode == "extractive" or self.generator is None:
            fallback = None if mode == "extractive" else "no LLM is configured"
            wide = self._widened(standalone, evidence, hits)
            answer = self._extractive(base, standalone, facts, evidence, fallback, wide)
            yield AnswerEvent(answer=self._finish(answer, timings, t0))
            return

        usage = Usage()
        draft: list[str] = []
        fallback = None
        try:
            messages = build_messages(standalone, evidence, self._notes(facts, evidence), self.config.prompt)
            params = GenerationParams(max_tokens=self.config.max_tokens, timeout_s=self.config.timeout_s)
            for piece in self.generator.stream(messages, params, usage, cancel=cancel):
                if timings.first_token_ms is None:
                    timings.first_token_ms = round((time.perf_counter() - t0) * 1000, 1)
                draft.append(piece)
                yield TokenEvent(text=piece)
        except GenerationError as e:
            fallback = f"LLM failed ({e}); answered extractively"
        timings.prompt_tokens, timings.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        if cancel is not None and cancel.is_set():
            return
        wide = self._widened(standalone, evidence, hits)  # after generation: not on the first-token path
        if fallback:
            answer = self._extractive(base | {"mode": "llm"}, standalone, facts, evidence, fallback, wide)
        else:
            answer = self._from_draft(base, "".join(draft), standalone, facts, evidence, wide)
        yield AnswerEvent(answer=self._finish(answer, timings, t0))

    # -- decisions ---------------------------------------------------------------------------------------

    def _refusal_before_answering(self, question: str, facts: QuestionFacts, hits: Sequence[Hit],
                                  evidence: Sequence[Evidence]) -> str | None:
        if not hits or not evidence:
            return "没有检索到相关段落"
        verdict = self.scope.check(facts)
        if not verdict.in_scope:
            return verdict.reason
        if self.best_relevance(question, evidence) < self.config.min_relevance:
            return "检索到的段落与问题关系不大"
        return None

    def best_relevance(self, question: str, evidence: Sequence[Evidence]) -> float:
        q = query_grams(question, self.selector.idf)
        texts = (f"{evidence_label(e)} {' '.join(e.section_path)} {e.text}" for e in evidence)
        return max((relevance(q, t) for t in texts), default=0.0)

    def _widened(self, question: str, evidence: Sequence[Evidence], hits: Sequence[Hit]
                 ) -> dict[int, Evidence]:
        """The passages as quoted to the reader: grown within their hits (answering/evidence.py, widen)."""
        return self.selector.widen(question, evidence, hits, self.config.excerpt_chars)

    @staticmethod
    def _notes(facts: QuestionFacts, evidence: Sequence[Evidence]) -> list[str]:
        text = "\n".join(e.text for e in evidence)
        return [f"问题中的「{n}」在材料中没有出现，请以材料中的数字为准。"
                for n in facts.premise_numbers if not number_supported(n, text)]

    # -- answers -----------------------------------------------------------------------------------------

    def _from_draft(self, base: dict, draft: str, question: str, facts: QuestionFacts,
                    evidence: Sequence[Evidence], wide: dict[int, Evidence]) -> Answer:
        check = check_answer(draft, _checked_evidence(evidence))
        unsupported = [Unsupported(text=s.text, reason=s.reason) for s in check.dropped if s.text.strip()]
        claims = [s for s in check.kept if s.supported]
        if not claims:
            # The model refused or said nothing checkable. Retrieval passed the relevance bar, so quote the
            # best passages rather than refuse on the model's say-so; quantity questions still need a number.
            answer = self._extractive(base, question, facts, evidence,
                                      "the LLM draft had no supported sentence; answered extractively", wide)
            return answer.model_copy(update={"unsupported": unsupported + answer.unsupported})
        q = query_grams(question, self.selector.idf)
        gap = _quantity_gap(facts, [s.text for s in claims], evidence, q)
        if gap and not _quantity_gap(facts, [e.text for e in evidence if e.kind != "heading"], evidence, q):
            # the brief left out the amount the passages state: quote them rather than refuse
            answer = self._extractive(base, question, facts, evidence,
                                      "the LLM draft did not state the amount asked; answered extractively",
                                      wide)
            return answer.model_copy(update={"unsupported": unsupported + answer.unsupported})
        if gap:
            return self._refusal(base, gap, evidence, unsupported)
        return self._cited(base, check, evidence, unsupported, facts, wide)

    def _cited(self, base: dict, check: AnswerCheck, evidence: Sequence[Evidence],
               unsupported: list[Unsupported], facts: QuestionFacts, wide: dict[int, Evidence]) -> Answer:
        by_id = {e.id: e for e in evidence}
        order = check.used_evidence
        renumber = {old: n for n, old in enumerate(order, start=1)}
        claims_of: dict[int, list[str]] = {i: [] for i in order}
        for s in check.kept:
            for i in s.final_markers:
                claims_of[i].append(s.text)
        citations = [_citation(renumber[i], by_id[i], claims_of[i]) for i in order]
        text = _MARKER_RE.sub(lambda m: f"[{renumber.get(int(m.group(1)), m.group(1))}]", check.text)
        how = self.config.complete_with_quotes
        if how != "off" and facts.asks_quantity:
            # A quantity brief stands on its own numbers, so no further passages; but the sentences it took
            # them from follow verbatim: the reader sees each figure in its context, and a small model's
            # brief often keeps one of two figures asked for (「多少个乡镇和村」). Measured in eval/README.md.
            lines = [_quote_line(by_id[i], c.quote, c.n) for i, c in zip(order, citations, strict=True)]
            text += "\n原文：\n" + "\n".join(lines)
        elif how != "off":
            headings = [e for e in evidence if e.kind == "heading" and e.id not in renumber]
            if headings:
                lines, extra_citations = self._heading_lines(headings, first_n=len(citations) + 1)
                citations.extend(extra_citations)
                text += "\n" + "\n".join(lines)
            quotable = self._quotable(base["standalone_question"], evidence)
            extra = [e for e in quotable if how == "all" or e.id not in renumber]
            if extra:
                lines = []
                for e in extra:
                    w = wide.get(e.id, e)
                    if e.id in renumber:  # cited already: its citation now quotes the whole passage
                        n = renumber[e.id]
                        citations[n - 1] = _span_citation(n, w, w.char_start, w.char_end)
                    else:
                        n = len(citations) + 1
                        citations.append(_span_citation(n, w, w.char_start, w.char_end))
                    lines.append(_quote_line(w, w.text, n))
                text += ("\n原文摘录：\n" if how == "all" else "\n原文还提到：\n") + "\n".join(lines)
        text = self._premise_note(facts, evidence) + text
        return Answer(**base, answer=text.strip(), refused=False, citations=citations,
                      unsupported=unsupported, model=self.model_name if base["mode"] == "llm" else None)

    @staticmethod
    def _heading_lines(evidence: Sequence[Evidence], first_n: int = 1) -> tuple[list[str], list[Citation]]:
        """The sub-headings an enumeration question is answered by, one cited line each."""
        headings = [e for e in evidence if e.kind == "heading"]
        if not headings:
            return [], []
        parent = headings[0].section_path[:-1]
        lines = [f"《{headings[0].report_title}》{parent[-1] if parent else ''}下列各项："]
        citations = []
        for i, e in enumerate(headings, start=first_n):
            citations.append(_span_citation(i, e, e.char_start, e.char_end))
            lines.append(f"「{' '.join(e.text.split())}」[{i}]")
        return lines, citations

    def _quotable(self, question: str, evidence: Sequence[Evidence]) -> list[Evidence]:
        """The passages worth quoting: relevance at least half the best passage's, at most
        ``extractive_sentences`` of them, best first. Sub-headings are listed apart."""
        q = query_grams(question, self.selector.idf)
        scored = sorted(((relevance(q, e.text), e) for e in evidence if e.kind != "heading"),
                        key=lambda x: -x[0])
        top = scored[0][0] if scored else 0.0
        return [e for sc, e in scored[: self.config.extractive_sentences] if sc >= top / 2]

    def _premise_note(self, facts: QuestionFacts, evidence: Sequence[Evidence]) -> str:
        text = "\n".join(e.text for e in evidence)
        missing = [n for n in facts.premise_numbers if not number_supported(n, text)]
        if not missing:
            return ""
        return f"注意：所引材料中没有问题里的「{'」「'.join(missing)}」，以下以材料为准。\n"

    def _extractive(self, base: dict, question: str, facts: QuestionFacts, evidence: Sequence[Evidence],
                    fallback: str | None, wide: dict[int, Evidence]) -> Answer:
        """The best sentences of the best passages, verbatim, each cited. No model involved."""
        q = query_grams(question, self.selector.idf)
        lines, citations = self._heading_lines(evidence)
        scored = []
        for e in evidence:
            if e.kind == "heading":
                continue
            spans = _sentences(e.text, e.char_start)
            rel = [relevance(q, e.text[a - e.char_start : b - e.char_start]) for a, b in spans]
            best = max(range(len(spans)), key=lambda i: rel[i])
            scored.append((rel[best], e, spans, best))
        top = max((s[0] for s in scored), default=0.0)
        n_headings = len(citations)
        for score, e, spans, best in scored:
            if len(citations) - n_headings >= self.config.extractive_sentences or score < top / 2:
                continue
            a, b = spans[best]
            if self.config.extractive_quote == "passage":
                # a quantity answer quotes the passage that states the number, not its neighbours' numbers
                if not facts.asks_quantity:
                    e = wide.get(e.id, e)
                a, b = e.char_start, e.char_end
            # a short sentence (「一是加强领导。」) says little alone: take the next one too
            elif b - a < 40 and best + 1 < len(spans):
                b = spans[best + 1][1]
            quote_text = e.text[a - e.char_start : b - e.char_start]
            if facts.asks_quantity and _quantity_gap(facts, [quote_text], [], q) and not _quantity_gap(
                    facts, [e.text], [], q):
                a, b, quote_text = e.char_start, e.char_end, e.text  # the number is elsewhere in the passage
            n = len(citations) + 1
            citations.append(_span_citation(n, e, a, b))
            lines.append(_quote_line(e, quote_text, n))
        if not citations:
            return self._refusal(base, "没有可引用的句子", evidence, fallback_reason=fallback)
        gap = _quantity_gap(facts, [c.quote for c in citations], evidence, q)
        if gap:
            return self._refusal(base, gap, evidence, fallback_reason=fallback)
        text = self._premise_note(facts, evidence) + "报告原文中与问题最相关的内容：\n" + "\n".join(lines)
        return Answer(**base, answer=text, refused=False, citations=citations, fallback=fallback)

    def _refusal(self, base: dict, reason: str, evidence: Sequence[Evidence],
                 unsupported: list[Unsupported] | None = None, fallback_reason: str | None = None) -> Answer:
        citations, lines, seen = [], [], set()
        for e in evidence:
            if e.section_id in seen or len(citations) >= 3:
                continue
            seen.add(e.section_id)
            n = len(citations) + 1
            citations.append(_citation(n, e, []))
            lines.append(f"[{n}] {e.report_title} › {' › '.join(e.section_path) or '正文'}")
        text = f"现有报告中没有找到能回答这个问题的内容（{reason}）。"
        if lines:
            text += "最接近的章节如下，供参考：\n" + "\n".join(lines)
        return Answer(**base, answer=text, refused=True, refusal_reason=reason, citations=citations,
                      unsupported=unsupported or [], fallback=fallback_reason)

    def _finish(self, answer: Answer, timings: Timings, t0: float) -> Answer:
        timings.total_ms = round((time.perf_counter() - t0) * 1000, 1)
        model = answer.model if answer.mode == "llm" and not answer.fallback else None
        return answer.model_copy(update={"timings": timings, "model": model or answer.model})
