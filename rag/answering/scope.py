"""Is the question about something the corpus covers at all? Checks on named bodies, their level and year.

A question about 「市公安局」 when no report is issued by a public-security body, or about 「县水利局2024年」
when that bureau's reports cover 2023 only, has no answer here however good the retrieval looks: the
nearest passages are about some other body or year, and a small model will happily answer from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answering.evidence import bigrams
from rag.config import DEFAULTS
from rag.corpus import Corpus, Report, normalize_for_search, read_source
from rag.text.question import BodyMention, QuestionFacts

BODY_MATCH = DEFAULTS.answer.body_match  # rag/config.py: why 0.6
_GENERIC_TAIL_RE = re.compile(r"(?:部门|单位|系统)$")
_OPENING_CHARS = 160


@dataclass(frozen=True)
class ScopeVerdict:
    in_scope: bool
    reason: str | None = None


class ScopeChecker:
    def __init__(self, corpus: Corpus):
        self.reports = corpus.reports
        self.headers: dict[str, set[str]] = {}
        for source in corpus.files:
            if not source.reports:
                continue
            text = read_source(corpus.source_path(source.reports[0])).text
            for r in source.reports:
                opening = text[r.title_char_end : r.title_char_end + _OPENING_CHARS]
                self.headers[r.id] = bigrams(" ".join([r.title, r.issuing_body or "", opening]))

    def reports_of(self, body: BodyMention) -> list[Report]:
        core = _GENERIC_TAIL_RE.sub("", normalize_for_search(body.core)) or body.core
        grams = bigrams(core)
        if not grams:
            return list(self.reports)
        out = []
        for r in self.reports:
            share = len(grams & self.headers[r.id]) / len(grams)
            level_ok = body.level is None or body.level != "省" or r.admin_level == "省"
            if share >= BODY_MATCH and level_ok:
                out.append(r)
        return out

    def check(self, facts: QuestionFacts) -> ScopeVerdict:
        for body in facts.bodies:
            reports = self.reports_of(body)
            if not reports:
                return ScopeVerdict(False, f"报告库中没有「{body.text}」的材料")
            years = {y for r in reports for p in r.periods for y in re.findall(r"20\d{2}", p)}
            # Only a year tied to the body (「县水利局2024年…」) restricts it; 「要到2025年完成」 does not.
            tied = [y for y in facts.years if re.search(re.escape(body.text) + rf"\s*{y}\s*年", facts.text)]
            missing = [y for y in tied if years and y not in years]
            if missing:
                have = "、".join(sorted(years))
                return ScopeVerdict(False, f"「{body.text}」的材料只涉及{have}年，没有{missing[0]}年的内容")
        return ScopeVerdict(True)
