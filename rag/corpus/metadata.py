"""Report metadata read from the text: kind, periods, issuing body and administrative level."""

from __future__ import annotations

import re
from typing import Literal

from rag.corpus.models import AdminLevel, ReportKind
from rag.text.lexicon import DOCUMENT_KINDS, ORG_SUFFIXES, PERIODS, STRONG_ORG_SUFFIXES

# Words that say what a report is. Titles end with one of them (plus an optional parenthetical).
SUMMARY_WORDS = ("总结", "回顾", "汇报", "报告", "述职")
PLAN_WORDS = ("计划", "安排", "打算", "思路", "要点", "谋划", "举措")
_KIND_RE = re.compile("|".join(SUMMARY_WORDS + PLAN_WORDS))
TITLE_END_RE = re.compile(
    "(?:" + "|".join(SUMMARY_WORDS + PLAN_WORDS) + r")(?:材料)?(?:\s*[（(][^（）()]{1,12}[）)])?$"
)

YEAR = r"(?:19|20)\d{2}"
_HALF = PERIODS
_PERIOD_TOKEN_RE = re.compile(rf"(?P<year>{YEAR})\s*(?:年度|年)?\s*(?P<half>{_HALF})?|(?P<lone>{_HALF})")
HAS_YEAR_RE = re.compile(rf"{YEAR}|[xX]{{4}}年|[〇零一二][〇零一二三四五六七八九]{{3}}年")

# Endings of organisation names: 「县水利局」, 「区供销社」, 「市委改革办」, 「驻XX村工作队」.
_ORG_SUFFIXES = ORG_SUFFIXES
_ORG_SUFFIX_ALT = "|".join(_ORG_SUFFIXES)
_STRONG_SUFFIX_RE = re.compile(STRONG_ORG_SUFFIXES)
# Admin-unit words with no name: a title that starts with only 「镇」 says nothing about who wrote it.
_DOCUMENT_KIND_RE = re.compile(f"(?:{'|'.join(DOCUMENT_KINDS)})$")
GENERIC_BODIES = {"", "市", "区", "县", "乡", "镇", "街道", "村", "社区", "州", "旗", "单位", "本单位"}

# 「…，市医保局在市委、市政府的正确领导下」: an organisation at the start of a clause, then its action.
_OPENING_VERB = (
    r"在|将|坚持|深入|认真|紧紧|始终|以|全面|围绕|聚焦|立足|积极|把|按照|高度|不断|牢牢|切实|持续|扎实|紧扣|"
    r"锚定|坚决|全力|主动|紧盯|准确|深刻|贯彻|全体|D委|党委|D组|党组|上下"
)
_OPENING_ORG_RE = re.compile(
    rf"^(?P<org>[^\s，,。；;：:、]{{1,24}}?(?:{_ORG_SUFFIX_ALT})(?:[（(][^（）()]{{1,10}}[）)])?)(?={_OPENING_VERB})"
)
_TIME_LEAD_RE = re.compile(
    rf"^(?:(?:{YEAR}|[xX]{{4}}|今|本|一|去|明)?\s*年?度?(?:{_HALF})?(?:以来|来|中|初|底)?)"
)
# Pronouns (我局, 全县) name no one; a clause opening with a preposition names a superior
# (在县委…, 根据市政府…).
_NOT_A_WRITER_RE = re.compile(r"^(?:我|本|全|各|该|在|根据|按照|对|为|关于|经|由|从|自|随着|通过|围绕)")

_UNITS = ("街道", "社区", "镇", "乡", "村", "县", "区", "市", "州", "盟", "旗")
_UNIT_ALT = "|".join(_UNITS)
# Prefecture-level 州/盟 count as 市, 旗 as 县, and a 社区 is the urban 村.
_UNIT_LEVEL: dict[str, AdminLevel] = {
    "市": "市", "州": "市", "盟": "市", "区": "区", "县": "县", "旗": "县",
    "乡": "乡", "镇": "镇", "街道": "街道", "村": "村", "社区": "村",
}  # fmt: skip
_NAMED_UNIT_RE = re.compile(rf"(?:XX|xx|[\u4e00-\u9fff]{{2,4}}?)({_UNIT_ALT})")
_REDACTED_UNIT_RE = re.compile(rf"(?:XX|xx)({_UNIT_ALT})")
_LEADING_UNIT_RE = re.compile(rf"^({_UNIT_ALT})")
_SUPERIOR_RE = re.compile(rf"在({_UNIT_ALT})(?:委|D委|党委|D工委|党工委)")
# Development zones end in 区 but are not an administrative level of their own.
_ZONE_RE = re.compile(r"(?:开发|高新|经开|园|新|工业|保税|自贸|示范|试验|景)区$")


MAX_BODY_CHARS = 60


def report_kind(title: str) -> ReportKind | None:
    words = _KIND_RE.findall(title)
    summary = any(w in SUMMARY_WORDS for w in words)
    plan = any(w in PLAN_WORDS for w in words)
    if summary and plan:
        return "both"
    if summary:
        return "总结"
    if plan:
        return "计划"
    return None


def parse_periods(text: str, default_year: str | None = None) -> list[str]:
    """Periods a title names, in order.

    「2023年上半年工作总结和下半年工作计划」 → [2023年上半年, 2023年下半年]; 「2023工作总结2024年工作计划」 →
    [2023年, 2024年]. A half without a year takes the year before it, or ``default_year``.
    """
    periods: list[str] = []
    year = default_year
    for m in _PERIOD_TOKEN_RE.finditer(text):
        if m.group("year"):
            year = m.group("year")
            half = m.group("half")
        else:
            half = m.group("lone")
            if year is None:
                continue
        period = f"{year}年{half}" if half and half != "全年" else f"{year}年"
        if period not in periods:
            periods.append(period)
    # 「2023年应急工作服务中心上半年…」: the bare year only introduced the halves that follow it.
    return [p for p in periods if not any(q != p and q.startswith(p) for q in periods)]


def first_year(text: str) -> str | None:
    m = re.search(YEAR, text)
    return m.group(0) if m else None


def _cut_before_period(title: str) -> str:
    """The part of a title naming the writer: before the first period or kind word, after a leading year."""
    rest = re.sub(rf"^{YEAR}\s*(?:年度|年)?\s*(?:{_HALF})?", "", title)
    cut = re.search(
        rf"{YEAR}|{_HALF}|年度|工作(?:{'|'.join(SUMMARY_WORDS + PLAN_WORDS)})|{_KIND_RE.pattern}", rest
    )
    return rest[: cut.start()] if cut else rest


def body_from_title(title: str) -> str | None:
    """Issuing body named by a title, without a topic such as 「法治政府建设」; None if generic."""
    prefix = re.sub(r"关于$", "", _cut_before_period(title).strip())  # 「XX局关于2023年工作总结的报告」
    kind = _DOCUMENT_KIND_RE.search(prefix)
    if kind:  # 「XX区人民法院刑事判决书」: the court, not its document; 「患者住院病历」: nobody
        prefix = prefix[: kind.start()]
        if not prefix.endswith(_ORG_SUFFIXES):
            return None
    if prefix.endswith(_ORG_SUFFIXES):
        body = prefix
    else:
        body = prefix
        # Longest head that ends like an organisation and leaves a real topic (3+ chars, no other organ).
        # No body's name is longer than MAX_BODY_CHARS: bounding the heads keeps a long line linear.
        for end in range(min(len(prefix) - 1, MAX_BODY_CHARS), 0, -1):
            head, rest = prefix[:end], prefix[end:]
            if head.endswith(_ORG_SUFFIXES) and len(rest) >= 3 and not _STRONG_SUFFIX_RE.search(rest):
                body = head
                break
    return None if body in GENERIC_BODIES else body


def body_from_opening(paragraph: str) -> str | None:
    """The organisation an opening sentence names: 「2023年以来,市医保局在市委…」 → 市医保局."""
    for clause in re.split(r"[，,。；;：:！？!?]", paragraph[:300])[:6]:
        clause = _TIME_LEAD_RE.sub("", clause.strip(), count=1)
        m = _OPENING_ORG_RE.match(clause)
        if m and not _NOT_A_WRITER_RE.match(m.group("org")):
            return m.group("org")
    return None


def level_of_body(body: str) -> AdminLevel | None:
    """Administrative level an organisation name shows: 「XX市XX区税务局」 → 区, 「县水利局」 → 县."""
    if m := _LEADING_UNIT_RE.match(body):
        # A bare unit word at the start names the writer's own level: 「区住房和城乡建设局」.
        return _UNIT_LEVEL[m.group(1)]
    level: AdminLevel | None = None
    pos = 0
    while m := _NAMED_UNIT_RE.match(body, pos):  # a chain of named units, outer to inner
        if _ZONE_RE.search(body[: m.end()]):
            break
        level = _UNIT_LEVEL[m.group(1)]
        pos = m.end()
    m = _REDACTED_UNIT_RE.search(body) if level is None else None
    if m and not _ZONE_RE.search(body[: m.end()]):
        level = _UNIT_LEVEL[m.group(1)]
    return level


def level_from_superior(paragraph: str) -> AdminLevel | None:
    """Level implied by who leads the writer: 「在县委、县政府的坚强领导下」 → 县."""
    m = _SUPERIOR_RE.search(paragraph[:300])
    return _UNIT_LEVEL[m.group(1)] if m else None


def describe_writer(
    title: str, opening: str | None
) -> tuple[str | None, Literal["title", "opening"] | None, AdminLevel | None]:
    """Issuing body, where it came from (title or opening sentence), and the administrative level."""
    body = body_from_title(title)
    source: Literal["title", "opening"] | None = "title" if body else None
    if body is None and opening:
        body = body_from_opening(opening)
        source = "opening" if body else None
    level = level_of_body(body) if body else None
    if level is None:  # a generic title such as 「镇2023年工作总结」 still gives the level
        level = _UNIT_LEVEL.get(_cut_before_period(title).strip())
    if level is None and opening:
        level = level_from_superior(opening)
    return body, source, level
