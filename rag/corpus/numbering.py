"""Heading numbering and its rank.

「一、」 is rank 1, 「（一）」 rank 2, 「1.」/「1、」/「1．」 rank 3, 「（1）」/「①」 rank 4.

Inline enumerations (「一是…二是…」) are not numbering: they carry no separator after the numeral.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.text.numerals import CN_SMALL_NUM_CHARS, cn_number

_CN = CN_SMALL_NUM_CHARS

_PATTERNS: list[tuple[int, re.Pattern[str]]] = [
    (1, re.compile(rf"^([{_CN}]{{1,3}})\s*[、.．]\s*")),
    (2, re.compile(rf"^[（(]\s*([{_CN}]{{1,3}})\s*[）)]\s*[、.．]?\s*")),
    # 「1.5亿元」 is a number, not a heading; 「1.2023年…」 and 「2、2022年度…」 are headings.
    (3, re.compile(r"^(\d{1,2})\s*(?:、|[.．](?!\d)|[.．](?=(?:19|20)\d{2}年))\s*")),
    (4, re.compile(r"^[（(]\s*(\d{1,2})\s*[）)]\s*")),
    (4, re.compile(r"^(\d{1,2})\s*[）)]\s*")),
    (4, re.compile(r"^([\u2460-\u2473])\s*")),  # ①…⑳
]


@dataclass(frozen=True)
class Marker:
    text: str  # the numbering as written, e.g. 「（一）」, without trailing spaces
    rank: int  # 1 for 一、, 2 for （一）, 3 for 1., 4 for （1）/①
    number: int
    rest_start: int  # index in the line where the text after the numbering starts


def parse_marker(content: str) -> Marker | None:
    """The numbering a line starts with, if any."""
    for rank, pattern in _PATTERNS:
        m = pattern.match(content)
        if not m:
            continue
        token = m.group(1)
        number: int | None
        if "\u2460" <= token <= "\u2473":  # checked first: str.isdigit() is true for ① too
            number = ord(token) - 0x2460 + 1
        elif token.isdigit():
            number = int(token)
        else:
            number = cn_number(token)
            if number is None:  # 「十四五、」 is the plan period, not item fourteen-five
                continue
        return Marker(text=content[: m.end()].rstrip(), rank=rank, number=number, rest_start=m.end())
    return None
