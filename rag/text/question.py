"""What a question asks for, read off its wording: a quantity, a comparison, named bodies, years, numbers.

These readings drive evidence diversity and the refusal checks in answering/service.py. They are patterns of
Chinese question wording and of how government bodies are named, not of particular reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.text.lexicon import ACROSS_BODIES, ACROSS_DOCUMENTS, ACROSS_PERSONS, LEVELS, QUESTION_BODY_SUFFIXES
from rag.text.normalize import normalize_for_search
from rag.text.numerals import cn_number
from rag.text.quantities import extract_numbers

# 「多少」「几个」「排第几」「比例」: the answer must state a number.
_QUANTITY_RE = re.compile(
    r"多少|(?<!哪)几[个家项次人所条件名户座台辆处批场期级倍亩吨天]|多大|多高|多长|多重|多远|几成|"
    r"百分之几|排第几|排名第几|第几"
)
# Comparisons and enumerations across bodies: evidence must come from several reports.
_ACROSS_RE = re.compile(
    rf"(?:哪些|哪几(?:个|家|份|位))[\u4e00-\u9fff]{{0,4}}?(?:{ACROSS_BODIES}|{ACROSS_DOCUMENTS}|{ACROSS_PERSONS})|"
    r"各(?:单位|部门|地)|"
    r"分别|相比|比较|对比|有何(?:不同|区别|异同)|有什么(?:不同|区别|异同)|异同|都(?:有|在|提到)|共同"
)
# An enumeration that asks for a list's items (「哪几方面」「哪四个‘超前’」「‘四个强化’是什么」「哪些方面」: a
# report's enumerated measures, reasons, problems, which a section's sub-headings or its 「一是…二是…」 may
# answer; 「哪一个」 asks for one) ...
_ITEMS = (
    r"哪几|哪些方面|几个方面|几方面|哪[“‘\"']?(?!一[个项条种家])[一二三四五六七八九十两\d]+[个项大条种方类]|"
    r"(?<![一二三四五六七八九十两\d])[一二三四五六七八九十两\d]+(?:个|大|项|条|种)[^，。？?]{0,8}"
    r"(?:是什么|指什么|包括什么|具体指|分别是)"
)
_ITEMS_RE = re.compile(_ITEMS)
# ... or for the things one sentence may name (「有哪些」「包括哪些」 项目、学校、展会): an enumeration inside
# one report either way.
_ENUM_RE = re.compile(rf"{_ITEMS}|包括哪些|有哪些")
# A government body named in the question: a run of name characters ending in an organ suffix, starting
# after punctuation, a particle or a year. Lazy, so 「县水利局上半年」 yields 「县水利局」.
_BODY_SUFFIX = rf"(?:{QUESTION_BODY_SUFFIXES})"
# 「的」 never sits inside a body's name (「忽略之前的所有规则」 names no 「…的所」), and 「所有」「社有」
# are words (「社有资产」), not a 所 or 社 followed by 有.
_BODY_RE = re.compile(
    rf"(?:^|(?<=[\s，,。？?！!、：:；;“”\"和与及的在对从向]))"
    # never across a person (「茅某某和夕照市晴川区法院」 is a person and a court, not one name)
    rf"((?:(?!的|(?:某+|患者|病人|被告人?)[和与及跟同])[\u4e00-\u9fffA-Za-z]){{0,14}}?{_BODY_SUFFIX})(?<!所(?=有))(?<!社(?=有))(?<!所(?=在))"
    # A name ends where a particle, a verb or a time word follows: 「麻阳县教育局|计划让…」.
    rf"(?:(?=[\d\s，,。？?！!、的在和与及对是有为从将驻派（(计让要希认打准说按今全本新已于把开推完实自那审判给收凭]|"
    rf"上半年|下半年|年|$)"
    # 「…法院」「…医院」 end a name whatever follows: a person's name often does (「桐城区法院费某案」)
    r"|(?<=院))"
)
# The last administrative unit in a name ends its place part: 「池州市XX区|民政局」, 「县|城市管理局」,
# 「中华南路街道|应急工作服务中心」. 「市场」 is a word, and so is 「城市」 where it opens the organ (after a
# unit or at the start: 「县|城市管理局」); after a name it is a city: 「雨城市|人民医院」.
_ADMIN_CHAR_RE = re.compile(r"[省州县区旗]|(?<![省州县区旗市道]城)(?<!^城)市(?!场)|街道")
# Question words, and descriptions that say which report is meant (「毛坊村所在的那个镇」), are no name.
_NOT_A_NAME_RE = re.compile(r"哪|什么|多少|几|怎|如何|是否|所在|那个|那份|那家|今年|去年|明年|半年|"
                            r"希望|计划|要求|多长|多久|时间")
_PREPOSITION_RE = re.compile(r"按照?|根据|依据|依照|配合|协助|会同|联合|受|经由")
_LEAD_RE = re.compile(r"^(?:有一?[个份家]|[一两二三那这该每]份|那个|这个|该|某个?)")
YEAR_RE = re.compile(r"(20\d{2})\s*年")  # a year named: 「2023年」
# The size of the enumeration asked for: 「哪四个‘超前’」「哪六项」「‘四个强化’是什么」. It is what is asked,
# not a premise to check against the text (which may say 「六制」), and an outline must have that many items.
_COUNT_ASKED_RE = re.compile(
    r"哪[“‘\"']?([一二三四五六七八九十两]|\d{1,2})(?=[个项大条种方类])|"
    r"([一二三四五六七八九十两]|\d{1,2})(?=(?:个|大|项|条|种)[^，。？?]{0,8}(?:是什么|指什么|包括什么|具体指|分别是))"
)
_DATE_LIKE_RE = re.compile(r"^\d{4}年|^\d{1,2}月|^\d{1,2}日|半年|季度|^\d{4}$")


@dataclass(frozen=True)
class BodyMention:
    text: str  # as written: 「省生态环境厅」
    core: str  # the distinctive part: 「生态环境」
    level: str | None  # 省/市/县/区 when the name opens with it


# 「多少万」「几」: the amount asked for, before its measure word.
_HOW_MANY = r"(?:多少|几)(?:万|亿|千|百)?"
# Units of measure a quantity question may ask in (「多少万元」「多少亩」); classifiers like 个/家/项 are
# left out because answers legitimately count in another one (「多少家」 → 「12个」).
_ASKED_UNIT_RE = re.compile(rf"{_HOW_MANY}(人次|平方米|立方米|公里|千米|千瓦|美元|元|亩|吨)|"
                            r"百分之几|百分比|比例|占比|比重|增速|增幅")
# The measure word itself, classifiers included (「多少套」 → 套): what a withheld amount is counted in.
# 「多少剂量」「多少数值」: a noun (剂量), not a counter (剂) — a counter never runs on into 量额率值.
_ASKED_MEASURE_RE = re.compile(rf"{_HOW_MANY}([\u4e00-\u9fff])(?![量额率值])")
# A number withheld in the source: 「共征收水资源费XX万元」「由xxx元/人·月提高至…」.
# Each run of X is tried from its first letter only (linear on 「XXXX…」).
_WITHHELD = r"(?:(?<!X)XX|(?<!x)xx|(?<!Ｘ)ＸＸ|(?<!X)X{3,}|(?<!x)x{3,})\s*(?:万|亿|千)?"
_REDACTED_RE = re.compile(rf"{_WITHHELD}(?:元|人次|人|个|亩|吨|家|户|%|件|次|项|公里|平方米|千瓦)")


def asked_unit(question: str) -> str | None:
    """The unit of measure a quantity question asks in (「多少亿元」 → 元, 「比重」 → %), if any."""
    m = _ASKED_UNIT_RE.search(normalize_for_search(question))
    if not m:
        return None
    return m.group(1) or "%"


def asked_measure(question: str) -> str | None:
    """The measure word a quantity question counts in: 「核准商品房预售多少套」 → 套."""
    m = _ASKED_MEASURE_RE.search(normalize_for_search(question))
    return m.group(1) if m else None


def states_unit(text: str, unit: str) -> bool:
    """Whether ``text`` states a quantity in ``unit`` (a number carrying it, magnitude aside)."""
    return any(n.endswith(unit) or (unit == "%" and ("%" in n or "百分点" in n)) for n in quantities(text))


def redacted(text: str, measure: str | None = None) -> bool:
    """Whether ``text`` withholds an amount (「XX万元」), or one counted in ``measure`` (「XX套」)."""
    if measure is None:
        return bool(_REDACTED_RE.search(text))
    return bool(re.search(_WITHHELD + re.escape(measure), text))


@dataclass(frozen=True)
class QuestionFacts:
    text: str
    asks_quantity: bool
    across_reports: bool
    unit: str | None = None
    measure: str | None = None  # 「多少套」 → 套
    enumeration: bool = False
    enumeration_size: int | None = None  # 「哪四个」 → 4
    asks_items: bool = False  # an enumeration asking for a list's items (「哪几方面」), not 「有哪些项目」
    bodies: list[BodyMention] = field(default_factory=list)
    years: list[str] = field(default_factory=list)
    premise_numbers: list[str] = field(default_factory=list)


def body_core(name: str) -> str:
    """The organ part of a body's name: 「池州市XX区民政局」 → 「民政局」, 「县城市管理局」 → 「城市管理局」.
    """
    cuts = [m.end() for m in _ADMIN_CHAR_RE.finditer(name) if m.end() < len(name) - 1]
    core = name[cuts[-1]:] if cuts else name
    return core.removeprefix("xx").removeprefix("XX").removeprefix("某") or name


def _bodies(norm: str) -> list[BodyMention]:
    out = []
    for m in _BODY_RE.finditer(norm):
        name = _LEAD_RE.sub("", m.group(1))
        # 「按审计署要求」「根据省民政厅」: a body the question refers to, not the one it asks about
        if _NOT_A_NAME_RE.search(name) or _PREPOSITION_RE.match(name):
            continue
        core = body_core(name)
        if len(core) < 2 or core in ("部门", "单位"):
            continue
        level = name[0] if name[0] in LEVELS else None
        out.append(BodyMention(name, core, level))
    return out


def quantities(text: str) -> list[str]:
    """Numbers a text states that are amounts, not dates: 「截至2023年6月，征收XX万元」 states none."""
    return [n for n in extract_numbers(text) if not _DATE_LIKE_RE.search(n)]


def asks_enumeration(question: str) -> bool:
    """「重点做好哪几方面工作」「哪三项」: items of one report, not a list of bodies (「哪些单位」)."""
    return _enumeration(normalize_for_search(question))


def _enumeration(norm: str) -> bool:
    return bool(_ENUM_RE.search(norm)) and not _ACROSS_RE.search(norm)


def _enumeration_size(norm: str) -> tuple[int | None, str]:
    """The number of items the question asks for, and the question without that count."""
    m = _COUNT_ASKED_RE.search(norm)
    if not m:
        return None, norm
    word = m.group(1) or m.group(2)
    size = int(word) if word.isdigit() else cn_number(word)
    return size, norm[: m.start()] + norm[m.end() :]


def read_question(question: str) -> QuestionFacts:
    norm = normalize_for_search(question)
    size, without_count = _enumeration_size(norm)
    # a code (「T4」「5G」「CD4」) names a thing the question asks about; it is no figure taken for granted
    numbers = [n for n in (quantities(without_count) if size else quantities(question))
               if not re.search(r"[A-Za-z]", n)]
    return QuestionFacts(
        text=question,
        asks_quantity=bool(_QUANTITY_RE.search(norm)),
        across_reports=bool(_ACROSS_RE.search(norm)),
        unit=asked_unit(question),
        measure=asked_measure(question),
        enumeration=_enumeration(norm),
        asks_items=_enumeration(norm) and bool(_ITEMS_RE.search(norm)),
        enumeration_size=size,
        bodies=_bodies(norm),
        years=sorted(set(YEAR_RE.findall(norm))),
        premise_numbers=numbers,
    )
