"""Enumerated items written as sentences: 「一是…。二是…。三是…。」「（1）…（2）…」「1.… 2.…」.

A report's section often lists its measures, reasons or problems not as sub-headings but as sentences
opened by a counting word. The items of one list share a style of enumerator and count up from one; a
second list in the same section (「存量方面…一是…二是… 增量方面…一是…」) starts again at one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.text.numerals import cn_section

_CN = "一二三四五六七八九十"
# The enumerator a sentence opens with, one named group per style (the style is the group's name).
ENUMERATOR_RE = re.compile(
    rf"^\s*(?:[（(](?P<paren>[{_CN}]{{1,3}}|\d{{1,2}})[)）]|(?P<shi>[{_CN}]{{1,3}})是|"
    rf"(?P<dun>[{_CN}]{{1,3}})、|(?P<digit>\d{{1,2}})[.、．](?!\d)|第(?P<di>[{_CN}]{{1,3}})[，,、是])\s*")


def enumerator(text: str) -> tuple[str, int] | None:
    """The style and number of the enumerator ``text`` opens with: 「二是…」 → ("shi", 2); else None."""
    m = ENUMERATOR_RE.match(text)
    if m is None:
        return None
    style = m.lastgroup or ""
    numeral = m.group(style)
    n = int(numeral) if numeral.isdigit() else cn_section(numeral)
    return (style, n) if n else None


def item_runs(sentences: Sequence[str]) -> list[list[int]]:
    """The lists among ``sentences``: runs of indices whose enumerators share a style and count 1, 2, 3…
    (other sentences may stand between items: an item runs on for several sentences). Runs of two or more,
    in order of their first item."""
    runs: list[list[int]] = []
    open_runs: dict[str, tuple[list[int], int]] = {}  # style -> (its run, the last number)
    for i, text in enumerate(sentences):
        e = enumerator(text)
        if e is None:
            continue
        style, n = e
        if n == 1:
            run = [i]
            runs.append(run)
            open_runs[style] = (run, 1)
        elif style in open_runs and open_runs[style][1] == n - 1:
            run = open_runs[style][0]
            run.append(i)
            open_runs[style] = (run, n)
    return [r for r in runs if len(r) >= 2]
