"""Who said it: the body, or else the place, a report speaks for (the 单位 column of cross-report tables).

The parser reads a report's issuing body from its title, opening sentence or file name (rag/corpus/
parser.py). Some reports have none there: titled only 「2023年上半年工作总结…」, they name their body
on a header line (「苹果市珠港区人民法院」 above 「刑事判决书」, 「医院名称：朱雀市中心医院」), in the
sentence that hands the report over (「现将XX镇2023年上半年工作总结…汇报如下」), or only by naming their
place again and again (「繁昌区」 in a 商务 report that says 「我区」), or, redacted, as 「XX镇」. The rules
here read those, in that order, with the parser's own body rules (rag/corpus/metadata.py) and scope.py's
count of what makes a place a report's own. A report that names no one has no speaker: the table shows
「—」, never a guess.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from rag.answering.scope import PLACE_MENTIONS
from rag.corpus import Corpus, Report, read_source
from rag.corpus.metadata import (
    MAX_BODY_CHARS,
    TITLE_END_RE,
    YEAR,
    body_from_title,
    level_of_body,
)
from rag.corpus.numbering import parse_marker
from rag.corpus.segment import title_text
from rag.text.lexicon import DOCUMENT_KINDS, ORG_SUFFIXES, PERIODS, PLACE_UNITS
from rag.text.normalize import REDACTION

SpeakerSource = Literal["title", "opening", "file_name", "header", "place"]


@dataclass(frozen=True)
class Speaker:
    name: str
    # title / opening / file_name: the parser's issuing body; header, opening (a hand-over sentence) or
    # place: read here from the report's text
    source: SpeakerSource


_HEADER_LINES = 6  # a judgment's court stands a few lines down: 「# 刑事判决书」, 「#### 案号：…」, the court
_OPENING_CHARS = 300
# A line with clause punctuation is a sentence, not a header naming its body.
_SENTENCE_PUNCT_RE = re.compile(r"[，,。；;：:！？!?]")
# 「医院名称：朱雀市中心医院」「审理法院：…」: a header field that holds the writer's name (「检察院名称：…」
# names a party).
_NAME_FIELD_RE = re.compile(r"^(?:(?:医院|单位|机构)?名称|审理法院)\s*[：:]\s*")
# A judgment's header ends where it lists its parties by role (「被告人：…」, 「公诉机关」 over or under the
# prosecutor's 「XX区人民检察院」): a body named from there on is a party, not the court that writes.
_PARTY_RE = re.compile(r"公诉机关|原告|被告|上诉人|申请人|第三人|辩护人|代理人")
_PARTY_LABEL_RE = re.compile(rf"^[\s#*_]*(?:{_PARTY_RE.pattern})[\s*_：:]*$")  # anchored: linear
# What may follow a body on a line that names it: a period (「XX局2023年…」), a title's end or a kind.
_PERIOD_START_RE = re.compile(rf"(?:{YEAR}|{PERIODS}|年度|今年|本年)")
# 「现将XX镇2023年上半年工作总结…汇报如下」: the writer hands its report over under its own name.
_HAND_OVER_RE = re.compile(r"现将([^，,。；;：:\n]+)")

# A place named with its unit (「繁昌区」「无为市」), not an everyday word ending in one (住宅小区, 社区,
# 自治区, 保护区, 城镇, 乡村, 市场, 区域) nor a unit standing for its organs or level (「根据市委…」「区级」
# 「市直」). Villages are left out: a town's report names its villages, not itself, again and again.
_PLACE_UNIT_RE = re.compile(r"(?:(?<![小社街辖园景片治护划])区|(?<![城乡小])镇|市|县|乡|街道(?!路))"
                            r"(?![场民容貌政值域块间级直委属村镇])")
_UNIT_RE = re.compile(rf"{PLACE_UNITS}|[省市州]")  # a name holds no unit: 「芜湖市繁昌区」 is two places
_CJK_RE = re.compile(r"[\u4e00-\u9fff]+")
# A name starts after punctuation, another place's unit, a preposition or a date (「在繁昌区」
# 「2023年颍东区」), never with one, nor with a word that points instead of naming (「全区」「我市」).
_BEFORE_NAME = frozenset("在对与和的及于向从至到为由将把给同比经年")
_NOT_NAME_START = _BEFORE_NAME | frozenset("全我本各该其此每")
_SELF_UNIT_RE = re.compile(r"[我本全](街道|[市县区镇乡])")  # 「我区」「全镇」: the units a report speaks as


def speaker_of(report: Report, text: str) -> Speaker | None:
    """Who ``report`` speaks for. ``text`` is the report's own text as its file has it, lines and all,
    from its title line on. The issuing body when the parser found one; else a body a header line or the
    hand-over sentence names; else the place the text names as its own (see ``_own_place``)."""
    if report.issuing_body:
        return Speaker(report.issuing_body, report.issuing_body_source or "title")
    lines = [line for line in text.split("\n") if line.strip()][: _HEADER_LINES + 1]
    for line, after in zip(lines[:_HEADER_LINES], [*lines[1:], ""], strict=False):
        if _PARTY_RE.search(line) or _PARTY_LABEL_RE.fullmatch(after):
            break
        if body := _named_body(line):
            return Speaker(body, "header")
    # The parser read the opening's first sentences already (metadata.body_from_opening); what it leaves
    # is the sentence that hands the report over.
    hand_overs = (_named_body(m.group(1)) for m in _HAND_OVER_RE.finditer(text[:_OPENING_CHARS]))
    if body := next(filter(None, hand_overs), None):
        return Speaker(body, "opening")
    if place := _own_place(report, text):
        return Speaker(place, "place")
    # A report of a level (「镇2023年…」, 「在镇党委…领导下」) whose text writes that level's name redacted
    # (「XX镇乡村振兴工作站」) has no other name: the redacted one, as titles give it (「XX镇2023…」).
    if report.admin_level and re.search(f"{REDACTION}{report.admin_level}", text, re.IGNORECASE):
        return Speaker(REDACTION + report.admin_level, "place")
    return None


def speakers_of(corpus: Corpus) -> dict[str, Speaker]:
    """Every report's speaker by id, read once at load (each file read once); a report that names no one
    is left out."""
    out: dict[str, Speaker] = {}
    for source in corpus.files:
        lines = read_source(corpus.source_path(source.reports[0])).lines if source.reports else []
        for r in source.reports:
            if speaker := speaker_of(r, "\n".join(lines[r.title_line - 1 : r.line_end])):
                out[r.id] = speaker
    return out


def _named_body(line: str) -> str | None:
    """The body a header line names: alone (「苹果市珠港区人民法院」, 「医院名称：…」) or ahead of a period, a
    title's end or a document kind (「XX局2023年工作总结」「XX区人民法院刑事判决书」); not a heading
    (「（二）持续改善市容…」) nor a sentence."""
    line = _NAME_FIELD_RE.sub("", title_text(line)).strip()
    if not line or len(line) > MAX_BODY_CHARS or parse_marker(line) or _SENTENCE_PUNCT_RE.search(line):
        return None
    body = body_from_title(line)
    if body is None or not body.endswith(ORG_SUFFIXES) or not line.startswith(body):
        return None
    rest = line[len(body):].strip()
    titled = _PERIOD_START_RE.match(rest) or TITLE_END_RE.search(rest) or rest.endswith(DOCUMENT_KINDS)
    return body if not rest or titled else None


def _own_place(report: Report, text: str) -> str | None:
    """The place the text names as its own: named with its unit at least twice, its name as often as
    scope.py counts a report's own place (PLACE_MENTIONS), strictly more often than any other, and of
    the unit the report speaks as where it says (「我区」, its level) — a town's report that names its
    district more than itself is not the district's."""
    named: Counter[tuple[str, str]] = Counter()  # (name, unit) → times named with its unit
    for m in _PLACE_UNIT_RE.finditer(text):
        for start in range(m.start() - 2, max(m.start() - 5, -1), -1):  # 2–4 characters, as level_of_body
            name = text[start : m.start()]
            if not _CJK_RE.fullmatch(name) or _UNIT_RE.search(name) or name[0] in _NOT_NAME_START:
                break
            before = text[start - 1] if start else "。"
            if not _CJK_RE.match(before) or before in _BEFORE_NAME or _UNIT_RE.match(before):
                named[name, m.group()] += 1
    own_units = {report.admin_level, *_SELF_UNIT_RE.findall(text)} - {None}
    ranked = sorted(((n, name + unit) for (name, unit), n in named.items()
                     if n >= 2 and (not own_units or unit in own_units)
                     and level_of_body(name + unit) is not None  # 「开发区」「高新区」 name no place
                     and text.count(name) >= PLACE_MENTIONS), reverse=True)
    if not ranked or (len(ranked) > 1 and ranked[1][0] == ranked[0][0]):
        return None  # none, or two places named as often: not for us to pick
    return ranked[0][1]
