"""Recognising text that belongs to the download, not to any report.

Compilations come from material-sharing sites that add paywall markers (``##paidbegin##``), adverts for
the site at the start and end of the file, a table of contents and a count line. These rules recognise
such lines by what they are, so a new compilation from the same kind of site is cleaned the same way.
"""

from __future__ import annotations

import re

# Paywall markers; they can stand alone or be glued to a title or even the middle of a sentence.
PAID_MARKER_RE = re.compile(r"#{2}\s*paid\s*(?:begin|end)\s*#{2}", re.IGNORECASE)

# Characters used to indent or pad lines: ASCII and full-width spaces, en/em spaces, NBSP, tabs, BOM.
WHITESPACE = " \t\u3000\u2002\u2003\u00a0\ufeff\u200b"

TOC_HEADING_RE = re.compile(r"^目\s*录(?:[\t .…·]*\d{1,4})?$")

# A compilation's own title: 「…汇编（25篇）」, 「…材料专辑」.
COMPILATION_RE = re.compile(r"汇编|专辑|合集|选编|文集|范文集|[（(]\s*\d+\s*篇\s*[）)]")
COUNT_RE = re.compile(r"[（(]\s*(\d+)\s*篇\s*[）)]")
COUNT_ONLY_RE = re.compile(r"^[（(]\s*(?:共\s*)?\d+\s*篇\s*[）)]$")

# Signals of a site advert. One signal alone is not enough (a report may mention 公众号 or 会员), two are.
_ADVERT_SIGNALS = [
    re.compile(r"^【[^】]{1,16}】\s*[—\-－]{1,2}"),  # 【XX素材库】——…
    re.compile(r"素材库|素材需求"),
    re.compile(r"代笔|润笔"),
    re.compile(r"s?vip\s*会员", re.IGNORECASE),
    re.compile(r"会员群|网盘群"),
    re.compile(r"客服"),
    re.compile(r"谨防假冒|唯一平台|认准"),
    re.compile(r"持续接单|代发布"),
    re.compile(r"获取海量|一键(?:精准搜索|快速查找|极速下载)|每天更新"),
    re.compile(r"(?:添加|加入|联系)[^，。,]{0,10}(?:微信|QQ|客服|君|AAA)", re.IGNORECASE),
    re.compile(r"(?:微信|QQ|AAA)\s*[:：]\s*[0-9A-Za-z]", re.IGNORECASE),
]


def strip_paid_markers(text: str) -> str:
    return PAID_MARKER_RE.sub("", text)


def is_advert(content: str) -> bool:
    """True for a line advertising the material site (needs two independent signals)."""
    hits = sum(1 for pattern in _ADVERT_SIGNALS if pattern.search(content))
    return hits >= 2


def is_toc_heading(content: str) -> bool:
    return bool(TOC_HEADING_RE.match(content))


def looks_like_compilation_title(content: str) -> bool:
    return bool(COMPILATION_RE.search(content))


def declared_count(content: str) -> int | None:
    """The number of reports a compilation announces, e.g. 「（26篇）」."""
    match = COUNT_RE.search(content)
    return int(match.group(1)) if match else None
