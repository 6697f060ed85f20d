"""Figures as values: numbers with magnitudes and units, percentages, dates, quarters and codes.

:func:`extract_numbers` reads every figure a sentence states into a canonical form; :func:`number_supported`
says whether a text states that figure, comparing values (「1.5亿元」 = 「15000万元」 ≠ 「15亿元」, 「三个」 =
「3个」, 「8个」 is not in 「18个」).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from rag.text.lexicon import HALF_YEARS, QUARTER
from rag.text.markers import parse_markers, split_sentences
from rag.text.normalize import normalize_for_search
from rag.text.numerals import CN_DIGITS, CN_NUM_CHARS, CN_SMALL_NUM_CHARS, cn_decimal, cn_number

# Measure words and units a number can carry, longest first. Canonical spellings: 月份→月, 年度→年 …
_UNIT_WORDS = """
    个百分点 百分点 % ‰ 平方公里 平方千米 平方米 立方米 公里 千米 公顷 千克 公斤 千瓦时 千瓦 兆瓦
    米 亩 吨 克 升 美元 元 人次 户次 家次 车次 架次 批次 课时 学时
    个月 月份 月 年度 年 日 天 周年 周 小时 分钟 届
    个 人 名 位 户 家 项 次 场 批 处 件 起 条 座 栋 幢 套 台 辆 艘 盏 所 间 张 份 本 册 篇 部 支 只
    头 株 棵 块 片 段 类 种 期 轮 宗 笔 组 队 床 倍 级 层 号 岁
"""
_UNITS = sorted(_UNIT_WORDS.split(), key=len, reverse=True)
# Canonical spellings; 名 and 位 count people like 人 (「413名专家」 = 「专家413人」).
_UNIT_CANON = {"月份": "月", "年度": "年", "名": "人", "位": "人", "百分点": "个百分点", "公斤": "千克",
               "平方千米": "平方公里"}
_UNIT_RE = "|".join(re.escape(u) for u in _UNITS)
_MAGNITUDES = {"万亿": 12, "千亿": 11, "百亿": 10, "亿": 8, "千万": 7, "百万": 6, "十万": 5, "万": 4, "千": 3,
               "百": 2}
_MAG_RE = r"万亿|千亿|百亿|亿|千万|百万|十万|万|千(?![米克瓦])|百(?!分)"
_AR_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_CN_PCT = rf"[{CN_SMALL_NUM_CHARS}]+(?:点[零〇一二三四五六七八九]+)?"

_NUMBER_START = r"[\dA-Za-z百前第零〇一二两三四五六七八九十千万亿]"  # every character a number can begin with
NUMBER_RE = re.compile(
    # The lookahead of the first character lets the engine skip every other position at once (most text
    # holds no number): 30× faster on prose than trying each alternative at each character.
    rf"(?={_NUMBER_START})(?:"
    # codes mixing letters and digits (5G, PM2.5, G318) are compared literally
    r"(?P<code>(?<![A-Za-z0-9.])(?:[A-Za-z]+\d|\d+[A-Za-z])[A-Za-z0-9]*(?:\.[A-Za-z0-9]+)*)"
    r"|(?P<iso>(?<![\d.])(?P<iso_y>(?:19|20)\d{2})[-/.](?P<iso_m>\d{1,2})[-/.](?P<iso_d>\d{1,2})(?![\d.]))"
    rf"|(?P<yp>(?<![\d.])(?P<yp_y>\d{{4}})\s*年度?\s*(?P<yp_p>上半年|下半年|前三季度|{QUARTER}))"
    r"|(?P<md>(?<![\d.])(?P<md_m>\d{1,2})\s*月份?\s*(?P<md_d>\d{1,2})\s*[日号])"
    rf"|(?P<pct>百分之(?P<pct_v>\d+(?:\.\d+)?|{_CN_PCT}))"
    r"|(?P<q>(?P<q_pre>前)?第?(?:(?<=[前第])\s*)?(?P<q_n>[一二三四1-4])\s*季度)"
    rf"|(?P<ar>(?<![\d.])(?P<ar_v>{_AR_NUM})\s*[余多]?(?P<ar_m>{_MAG_RE})?[余多]?\s*(?P<ar_u>{_UNIT_RE})?)"
    # 「第一人民医院」「第二人民法院」 are names: 人民 is no count of people
    rf"|(?P<cn>(?P<cn_ord>第)?(?<![{CN_NUM_CHARS}])(?P<cn_v>[{CN_NUM_CHARS}]+)[余多]?(?P<cn_u>{_UNIT_RE})"
    r"(?!(?<=人)民))"
    ")"
)
_CN_DIGIT_RE = re.compile("[零〇一二两三四五六七八九十]")
_RANGE_GAP_RE = re.compile(r"^\s*[-－–—~～至到]\s*$")
_PERIODS = HALF_YEARS

# List numbering at the start of a sentence: 「1.」 「2、」 「(1)」 「①」 「一、」 「(一)」 「- 」 「**1.**」.
LIST_PREFIX_RE = re.compile(
    r"^\s*(?:[-*•·+>#]\s*)*"
    r"(?:[(（]\s*(?:\d{1,2}|[一二三四五六七八九十]{1,3})\s*[)）]"
    r"|\d{1,2}\s*(?:[、)）]|\.(?!\d)|\.(?=(?:19|20)\d{2}年))"
    r"|[一二三四五六七八九十]{1,3}\s*[、.]"
    r"|[\u2460-\u2473])"
    r"(?:\s*\*+)?\s*"
)

Key = tuple[object, ...]  # ("q", value, unit), ("v", value), ("md", month, day), ("p", period), ("c", code)


@dataclass(frozen=True)
class Number:
    """One number a text states: canonical spelling, what a claim of it needs, what evidence of it gives."""

    text: str
    requires: frozenset[Key]
    provides: frozenset[Key]
    start: int
    end: int
    value: Decimal | None = None  # quantities only: the number as written, before its magnitude
    magnitude: str = ""
    unit: str = ""

    @property
    def bare(self) -> bool:
        """A quantity without unit or magnitude: takes those of a following range end (「1-6月」)."""
        return self.value is not None and not (self.magnitude or self.unit)



def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _quantity(value: Decimal, unit: str, start: int, end: int, magnitude: str = "") -> Number:
    absolute = value * (Decimal(10) ** _MAGNITUDES.get(magnitude, 0))
    unit = _UNIT_CANON.get(unit, unit)
    requires = {("q", absolute, unit)} if unit else {("v", absolute)}
    provides = {("q", absolute, unit), ("v", absolute)}
    return Number(f"{_fmt(value)}{magnitude}{unit}", frozenset(requires), frozenset(provides), start, end,
                   value=value, magnitude=magnitude, unit=unit)


def _month_day(month: int, day: int, start: int, end: int) -> Number:
    m, d = Decimal(month), Decimal(day)
    provides = {("md", month, day), ("q", m, "月"), ("q", d, "日"), ("v", m), ("v", d)}
    return Number(f"{month}月{day}日", frozenset({("md", month, day)}), frozenset(provides), start, end)


def _period(word: str) -> str:
    """Canonical period: 上半年, 下半年, 前3季度, 第N季度."""
    m = re.fullmatch(r"(前)?第?\s*([一二三四1-4])\s*季度", word)
    if not m:
        return word
    n = CN_DIGITS.get(m.group(2)) or int(m.group(2))
    return f"前{n}季度" if m.group(1) else f"第{n}季度"


def number_tokens(norm: str) -> list[Number]:
    """Numbers stated in ``norm`` (search form, markers and list numbering already removed)."""
    tokens: list[Number] = []
    for m in NUMBER_RE.finditer(norm):
        start, end = m.span()
        if m.group("code"):
            code = m.group("code").upper()
            key = frozenset({("c", code)})
            tokens.append(Number(code, key, key, start, end))
        elif m.group("iso"):
            year = Decimal(m.group("iso_y"))
            tokens.append(_quantity(year, "年", start, end))
            tokens.append(_month_day(int(m.group("iso_m")), int(m.group("iso_d")), start, end))
        elif m.group("yp"):
            year = Decimal(m.group("yp_y"))
            period = _period(m.group("yp_p"))
            base = _quantity(year, "年", start, end)
            requires = base.requires | {("p", period)}
            provides = base.provides | {("p", period)}
            tokens.append(Number(f"{year}年{period}", frozenset(requires), frozenset(provides), start, end))
        elif m.group("md"):
            tokens.append(_month_day(int(m.group("md_m")), int(m.group("md_d")), start, end))
        elif m.group("pct"):
            raw = m.group("pct_v")
            value = Decimal(raw) if raw[0].isdigit() else cn_decimal(raw)
            if value is not None:
                tokens.append(_quantity(value, "%", start, end))
        elif m.group("q"):
            period = _period(m.group("q"))
            key = frozenset({("p", period)})
            tokens.append(Number(period, key, key, start, end))
        elif m.group("ar"):
            try:
                value = Decimal(m.group("ar_v").replace(",", ""))
            except InvalidOperation:  # pragma: no cover - the pattern only admits digits
                continue
            magnitude, unit = m.group("ar_m") or "", m.group("ar_u") or ""
            tokens.append(_quantity(value, unit, start, end, magnitude))
        elif m.group("cn"):
            numeral = m.group("cn_v")
            # A lone 一 is mostly the indefinite article (一个时期, 一批项目) unless ordinal (第一批);
            # runs without a digit (千家万户, 百姓) are words, not numbers.
            if (numeral == "一" and not m.group("cn_ord")) or not _CN_DIGIT_RE.search(numeral):
                continue
            count = cn_number(numeral)
            if count is not None:
                tokens.append(_quantity(Decimal(count), m.group("cn_u"), start, end))
    # A range gives its unit to its first end: 「1-6月」 → 1月, 6月; 「2023-2025年」 → 2023年, 2025年.
    for i in range(len(tokens) - 1, 0, -1):
        first, second = tokens[i - 1], tokens[i]
        if (first.value is not None and first.bare and second.value is not None and not second.bare
                and _RANGE_GAP_RE.match(norm[first.end : second.start])):
            tokens[i - 1] = _quantity(first.value, second.unit, first.start, first.end, second.magnitude)
    return tokens


def claim_form(clean: str) -> str:
    """Search form of a sentence already stripped of markers, without its list numbering."""
    return LIST_PREFIX_RE.sub("", normalize_for_search(clean), count=1)


def extract_numbers(text: str) -> list[str]:
    """Every number-bearing token ``text`` states, in canonical form.

    Integers and decimals (full-width digits folded), percentages (「12.5%」, 「百分之十二」 → 「12%」),
    numbers with magnitudes and units (「1.5亿元」, 「8万余吨」 → 「8万吨」, 「2924个车位」 → 「2924个」),
    dates (「2023年」, 「7月15日」, 「2023年下半年」, 「2023-07-15」 → 「2023年」「7月15日」),
    quarters (「一季度」 → 「第1季度」), Chinese numerals used as quantities (「三个」 → 「3个」,
    「二十三项」 → 「23项」; a lone 一 is left out: 「一个时期」 is an article, not a count) and codes
    such as 「5G」. Citation markers and list numbering at the start (「1.」, 「（一）」) are not
    numbers. Each returned string is accepted by :func:`number_supported`.
    """
    clean, _ = parse_markers(text)
    return [token.text for token in number_tokens(claim_form(clean))]


def period_keys(norm: str) -> set[Key]:
    return {("p", p) for p in _PERIODS if p in norm}



@lru_cache(maxsize=4096)
def number_keys(text: str) -> frozenset[Key]:
    """What figures ``text`` offers as evidence: every number read as in a claim, sentence by sentence
    without list numbering (「1.2023年…」 is not 1.2023), and also from the whole text."""
    norm = normalize_for_search(text)
    keys: set[Key] = period_keys(norm)
    for part in [norm, *(claim_form(sentence) for sentence in split_sentences(text))]:
        for token in number_tokens(part):
            keys |= token.provides
    return frozenset(keys)


def number_supported(num: str, evidence_text: str) -> bool:
    """Whether the number ``num`` (as given by :func:`extract_numbers`, or as written) is in the evidence.

    Exact: the value must be equal (magnitudes expanded, so 「1.5亿元」 = 「15000万元」 but ≠ 「15亿元」)
    and so must the unit when ``num`` has one (「8个」 needs 8 with 个, 「8」 any 8). Numbers are read
    whole, so 「8个」 is not found in 「18个」 and 「1.5」 not in 「21.5」. 余/多 (「150余件」) is ignored.
    A date needs its parts: 「7月15日」 needs that day; 「2023年下半年」 needs 2023年 and 下半年.
    """
    claim = number_tokens(normalize_for_search(num))
    if not claim:  # not a number we can read: fall back to a literal match between non-digits
        needle = normalize_for_search(num)
        return bool(needle) and re.search(rf"(?<![\d.]){re.escape(needle)}(?![\d])",
                                          normalize_for_search(evidence_text)) is not None
    provided = number_keys(evidence_text)
    return all(token.requires <= provided for token in claim)
