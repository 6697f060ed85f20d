"""Could any report hold the question's scope? The body, place and period of the plan, against the corpus.

A question about 「市公安局」 when no report is by or about a public-security body, or about
「县水利局2024年」 when that bureau's reports cover 2023 only, has no answer here however good the
retrieval looks: the nearest passages are about some other body or year, and a small model will happily
answer from them.

Bodies are matched after writing abbreviations out (rag/text/organs.py: 城管部门 ≈ 城市管理局, 人社局 ≈
人力资源和社会保障局), against each report's header (title, issuing body, opening) *and* its full text: a
village work team 「市人社局派驻XX村」 is named only in its report's text, a place only in a report's body.
A scope is refused only when no report can hold it, and the refusal names what was not found. A body that
only appears in other reports' text (「配合市公安局…」) is in scope, but then the answer must come from a
sentence that names it (service.py).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from rag.config import DEFAULTS
from rag.contracts import QuestionPlan
from rag.corpus import Corpus, Report, normalize_for_search, read_source
from rag.corpus.parser import name_parts
from rag.text.bigrams import bigrams
from rag.text.lexicon import GENERIC_TAILS, LEVELS, PLACE_UNITS
from rag.text.organs import organ_forms
from rag.text.question import body_core

BODY_MATCH = DEFAULTS.answer.body_match  # rag/config.py: why 0.6
_GENERIC_TAIL_RE = re.compile(rf"(?:{GENERIC_TAILS})$")
_OPENING_CHARS = 160
# An anonymised or indefinite name (「XX村」「某镇」) says nothing the corpus could be checked for.
_ANONYMOUS_RE = re.compile(r"^(?:[xX]{2,}|某)")
_PLACE_UNIT_RE = re.compile(rf"(?:{PLACE_UNITS})$")
# What an organ's name ends in; the rest names its field: 「商务局」 → 商务.
_ORGAN_SUFFIX_RE = re.compile(r"(?:委员会|办公室|管理局|局|委|办|厅|署|中心|站|所|科|部门|系统)$")
# How often a report names a place when it is that place's report, not a mention in passing.
PLACE_MENTIONS = 5


def place_names(body: str) -> list[str]:
    """The place names a body's name opens with: 「苏州市医保局」 → 苏州, 「池州市XX区民政局」 → 池州;
    anonymised (XX, 某) and bare levels (「县」) name no place."""
    core = body_core(body)
    prefix = body[: len(body) - len(core)] if body.endswith(core) else ""
    names = re.split(r"[省市县区州旗]|街道|[xX]{2,}|某", normalize_for_search(prefix))
    return [n for n in names if len(n) >= 2 and not _ANONYMOUS_RE.search(n)]


def place_name(place: str) -> str:
    """A place's name without its unit, loosely (「石墨产业镇」 → 石墨产业): a short one keeps it."""
    name = _PLACE_UNIT_RE.sub("", place)
    return name if len(name) >= 2 else place


_PLACE_WITH_UNIT_RE = re.compile(r"[^省市县区州旗\sxX某]{2,7}?[省市县区州旗]")


def places_with_units(name: str) -> list[str]:
    """The places a body's name opens with, each with its unit: 「烟波市青田区人民法院」 → 烟波市, 青田区
    (so that 「青田市烟波区」 is told apart); anonymised and bare levels give none."""
    core = body_core(name)
    prefix = name[: len(name) - len(core)] if name.endswith(core) else ""
    return _PLACE_WITH_UNIT_RE.findall(normalize_for_search(prefix))


@functools.lru_cache(maxsize=256)
def _name_forms(body: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The organ forms (search form, level left out) and the place names of a body's name — each with its
    unit too, so that 「青田市烟波区」 is not 「烟波市青田区」; cached, as the answer stage asks for the same
    body once per evidence sentence."""
    forms = {normalize_for_search(body_core(x)) for x in organ_forms(body)}
    return tuple(f for f in forms if len(f) >= 2), (*place_names(body), *places_with_units(body))


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
        self.text_grams: dict[str, set[str]] = {}
        # what each report's own name says of where it is: title, issuing body, file-name words
        self.own_names: dict[str, str] = {}
        self.placed: set[str] = set()  # reports whose title or issuing body names a place
        for source in corpus.files:
            if not source.reports:
                continue
            src = read_source(corpus.source_path(source.reports[0]))
            for r in source.reports:
                opening = src.text[r.title_char_end : r.title_char_end + _OPENING_CHARS]
                self.headers[r.id] = bigrams(" ".join([r.title, r.issuing_body or "", opening]))
                self.own_names[r.id] = normalize_for_search(
                    " ".join([r.title, r.issuing_body or "", *name_parts(r.source_file)]))
                if any(places_with_units(n) for n in (r.issuing_body or "", r.title)):
                    self.placed.add(r.id)
                end = src.line_starts[r.line_end] if r.line_end < len(src.line_starts) else len(src.text)
                self.texts[r.id] = normalize_for_search(src.text[r.title_char_start : end])
                self.text_grams[r.id] = bigrams(self.texts[r.id])

    def issued_by(self, body: str) -> list[Report]:
        """Reports whose header names ``body`` (in any of its written forms) as their author."""
        level = body[0] if body[0] in LEVELS else None
        out: list[Report] = []
        for form in organ_forms(body):
            core = _GENERIC_TAIL_RE.sub("", normalize_for_search(body_core(form))) or form
            tries = [core]
            if len(core) >= 5 and not place_names(form):  # 「淮南商务局」: a place without its level
                tries.append(core[2:])
            for name in tries:
                out.extend(r for r in self._headed(name, level) if r not in out)
        # A report named for another place is not this body's (「星辰市人民医院」 is not
        # 「霜叶市第一人民医院」; 「青田市烟波区」 is not 「烟波市青田区」); one whose name states no
        # place may be (「市医保局」): reports often never name their own city.
        return self._same_place(body, out)

    def _same_place(self, body: str, reports: list[Report]) -> list[Report]:
        asked = places_with_units(body)
        return [r for r in reports if not asked or r.id not in self.placed
                or all(p in self.own_names[r.id] for p in asked)]

    def _headed(self, core: str, level: str | None) -> list[Report]:
        """Reports whose header holds the organ name ``core``. The place a question gives with it is not
        required in the text: reports often never name their own city (a 医保局 report asked about as
        「阜阳市医保局」)."""
        grams = bigrams(core)
        out: list[Report] = []
        if grams:
            for r in self.reports:
                level_ok = level != "省" or r.admin_level == "省"
                if level_ok and len(grams & self.headers[r.id]) / len(grams) >= BODY_MATCH:
                    out.append(r)
        return out

    def located(self, body: str) -> list[Report]:
        """Reports of the body's place that speak of its field: a report by 繁昌区商务局 may be titled
        only 「2023年上半年工作总结…」, but it names 繁昌 again and again (a place named in passing does
        not count) and speaks of 商务."""
        out: list[Report] = []
        for form in organ_forms(body):
            field = _ORGAN_SUFFIX_RE.sub("", normalize_for_search(body_core(form)))
            places = place_names(form)
            if len(field) < 2 or not places:
                continue
            out.extend(r for r in self.reports if r not in out and field in self.texts[r.id]
                       and all(self.texts[r.id].count(p) >= PLACE_MENTIONS for p in places))
        return self._same_place(body, out)

    def mentioning(self, name: str) -> list[Report]:
        """Reports whose text names ``name`` (in any of its written forms, without the level prefix)."""
        return [r for r in self.reports if self.names(name, self.texts[r.id])]

    def check(self, plan: QuestionPlan) -> ScopeVerdict:
        scopes = plan.sides or [plan.scope]
        mentioned_only: list[str] = []
        for scope in scopes:
            if scope.body and not _ANONYMOUS_RE.search(body_core(scope.body)):
                authors = self.issued_by(scope.body) or self.located(scope.body)
                if not authors:
                    if not self.mentioning(scope.body):
                        return ScopeVerdict(False, f"报告库中没有「{scope.body}」的材料")
                    mentioned_only.append(scope.body)
                verdict = self._period(plan, scope.body, authors)
                if verdict is not None:
                    return verdict
            if scope.place and not _ANONYMOUS_RE.search(scope.place):
                # the name without its unit, loosely (「石墨产业镇」 for a town with a 石墨产业园)
                name = _PLACE_UNIT_RE.sub("", scope.place)
                grams = bigrams(place_name(scope.place))
                if grams and not any(len(grams & g) / len(grams) >= BODY_MATCH
                                     for g in self.text_grams.values()):
                    return ScopeVerdict(False, f"报告库中没有关于「{scope.place}」的材料")
                # 「颍东区2022年」: the reports of that place (that name it again and again) cover 2023 only
                own = [r for r in self.reports if self.texts[r.id].count(name) >= PLACE_MENTIONS] \
                    if len(name) >= 2 else []
                verdict = self._period(plan, scope.place, own, mentioned_years=True)
                if verdict is not None:
                    return verdict
        return ScopeVerdict(True, mentioned_only=tuple(mentioned_only))

    @staticmethod
    def names(body: str, text: str) -> bool:
        """Whether ``text`` (search form) names ``body`` in one of its written forms."""
        forms, places = _name_forms(body)
        return any(f in text for f in forms) and all(p in text for p in places)

    def _period(self, plan: QuestionPlan, body: str, authors: list[Report],
                mentioned_years: bool = False) -> ScopeVerdict | None:
        """「县水利局2024年」 when that body's own reports cover 2023 only. Only a year tied to the body
        restricts it (「要到2025年完成」 does not), and only the body's own reports say what it covers."""
        years = {y for r in authors for p in r.periods for y in re.findall(r"20\d{2}", p)}
        if not years:
            return None
        question = plan.facts.text
        # 「淮南经信局2022年度亩均效益评价」: a year that names a topic's period, not the report's
        tied = [y for y in plan.facts.years
                if re.search(re.escape(body) + rf"\s*{y}\s*年(?!度[^工总计])", question)]
        missing = [y for y in tied if y not in years]
        if mentioned_years:
            # A place's reports look back (「2022年在全省营商环境评价中排…」): a year they mention is covered.
            missing = [y for y in missing if not any(f"{y}年" in self.texts[r.id] for r in authors)]
        if missing:
            have = "、".join(sorted(years))
            return ScopeVerdict(False, f"「{body}」的材料只涉及{have}年，没有{missing[0]}年的内容")
        return None
