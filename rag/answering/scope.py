"""Could any report hold the question's scope? The body, place and period of the plan, against the corpus.

A question about 「市公安局」 when no report is by or about a public-security body, or about 「县水利局2024年」
when that bureau's reports cover 2023 only, has no answer here however good the retrieval looks: the
nearest passages are about some other body or year, and a small model will happily answer from them.

Bodies are matched after writing abbreviations out (rag/text/organs.py: 城管部门 ≈ 城市管理局, 人社局 ≈
人力资源和社会保障局), against each report's header (title, issuing body, opening) *and* its full text: a
village work team 「市人社局派驻XX村」 is named only in its report's text, a place only in a report's body. A
scope is refused only when no report can hold it, and the refusal names what was not found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.config import DEFAULTS
from rag.contracts import QuestionPlan
from rag.corpus import Corpus, Report, normalize_for_search, read_source
from rag.text.bigrams import bigrams
from rag.text.organs import organ_forms
from rag.text.question import body_core

BODY_MATCH = DEFAULTS.answer.body_match  # rag/config.py: why 0.6
_GENERIC_TAIL_RE = re.compile(r"(?:部门|单位|系统)$")
_OPENING_CHARS = 160
# An anonymised or indefinite name (「XX村」「某镇」) says nothing the corpus could be checked for.
_ANONYMOUS_RE = re.compile(r"^(?:[xX]{2,}|某)")
_PLACE_UNIT_RE = re.compile(r"(?:社区|街道|村|镇|乡)$")


@dataclass(frozen=True)
class ScopeVerdict:
    in_scope: bool
    reason: str | None = None
    # Bodies no report is by, only mentioned in reports' text (「配合市公安局…」): the answer must come from
    # a sentence that names the body, or it is some other body's work.
    mentioned_only: tuple[str, ...] = ()


class ScopeChecker:
    def __init__(self, corpus: Corpus):
        self.reports = corpus.reports
        self.headers: dict[str, set[str]] = {}
        self.texts: dict[str, str] = {}  # each report's whole text, in search form
        for source in corpus.files:
            if not source.reports:
                continue
            src = read_source(corpus.source_path(source.reports[0]))
            for r in source.reports:
                opening = src.text[r.title_char_end : r.title_char_end + _OPENING_CHARS]
                self.headers[r.id] = bigrams(" ".join([r.title, r.issuing_body or "", opening]))
                end = src.line_starts[r.line_end] if r.line_end < len(src.line_starts) else len(src.text)
                self.texts[r.id] = normalize_for_search(src.text[r.title_char_start : end])

    def issued_by(self, body: str) -> list[Report]:
        """Reports whose header names ``body`` (in any of its written forms) as their author."""
        level = body[0] if body[0] in "省市县区" else None
        out = []
        for form in organ_forms(body):
            core = _GENERIC_TAIL_RE.sub("", normalize_for_search(body_core(form))) or form
            grams = bigrams(core)
            if not grams:
                continue
            for r in self.reports:
                level_ok = level != "省" or r.admin_level == "省"
                if r not in out and level_ok and len(grams & self.headers[r.id]) / len(grams) >= BODY_MATCH:
                    out.append(r)
        return out

    def mentioning(self, name: str) -> list[Report]:
        """Reports whose text names ``name`` (in any of its written forms, without the level prefix)."""
        return [r for r in self.reports if self.names(name, self.texts[r.id])]

    def check(self, plan: QuestionPlan) -> ScopeVerdict:
        scopes = plan.sides or [plan.scope]
        mentioned_only: list[str] = []
        for scope in scopes:
            if scope.body and not _ANONYMOUS_RE.search(body_core(scope.body)):
                authors = self.issued_by(scope.body)
                if not authors:
                    if not self.mentioning(scope.body):
                        return ScopeVerdict(False, f"报告库中没有「{scope.body}」的材料")
                    mentioned_only.append(scope.body)
                verdict = self._period(plan, scope.body, authors)
                if verdict is not None:
                    return verdict
            if scope.place and not _ANONYMOUS_RE.search(scope.place):
                name = _PLACE_UNIT_RE.sub("", scope.place)
                place = scope.place if len(name) < 2 else name
                if not any(place in text for text in self.texts.values()):
                    return ScopeVerdict(False, f"报告库中没有关于「{scope.place}」的材料")
        return ScopeVerdict(True, mentioned_only=tuple(mentioned_only))

    @staticmethod
    def names(body: str, text: str) -> bool:
        """Whether ``text`` (search form) names ``body`` in one of its written forms."""
        return any(len(f) >= 2 and f in text for f in {normalize_for_search(body_core(x)) for x in organ_forms(body)})

    def _period(self, plan: QuestionPlan, body: str, authors: list[Report]) -> ScopeVerdict | None:
        """「县水利局2024年」 when that body's own reports cover 2023 only. Only a year tied to the body
        restricts it (「要到2025年完成」 does not), and only the body's own reports say what it covers."""
        years = {y for r in authors for p in r.periods for y in re.findall(r"20\d{2}", p)}
        if not years:
            return None
        question = plan.facts.text
        tied = [y for y in plan.facts.years if re.search(re.escape(body) + rf"\s*{y}\s*年", question)]
        missing = [y for y in tied if y not in years]
        if missing:
            have = "、".join(sorted(years))
            return ScopeVerdict(False, f"「{body}」的材料只涉及{have}年，没有{missing[0]}年的内容")
        return None
