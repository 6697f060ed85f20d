"""Chinese numerals: 三 → 3, 二十三 → 23, 一千二百万 → 12000000, 二〇二三 → 2023, 十二点五 → 12.5."""

from __future__ import annotations

from decimal import Decimal

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
CN_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUM_CHARS = "零〇一二两三四五六七八九十百千万亿"
# Numerals up to the hundreds: heading numbers (「十二、」「（三）」) and percentages (「百分之十二」).
CN_SMALL_NUM_CHARS = "零〇一二两三四五六七八九十百"
CN_NUMERAL_MAX = 32


def cn_section(numeral: str) -> int | None:
    """一 → 1, 十二 → 12, 三百零五 → 305, 两千 → 2000; None when malformed (十四五, 三四)."""
    total, digit, last_unit, after_zero = 0, None, 10_000, False
    for ch in numeral:
        if ch in CN_DIGITS:
            if digit is not None and not after_zero:
                return None
            after_zero = CN_DIGITS[ch] == 0
            digit = None if after_zero else CN_DIGITS[ch]
        elif ch in CN_SMALL_UNITS:
            unit = CN_SMALL_UNITS[ch]
            if unit >= last_unit:
                return None
            total += (digit if digit is not None else 1) * unit
            digit, last_unit, after_zero = None, unit, False
        else:
            return None
    return total + (digit or 0)


def cn_number(numeral: str) -> int | None:
    """Value of a Chinese numeral (with 万/亿), or of a digit-by-digit year (二〇二三); None if malformed.
    The longest real numeral (九千九百九十九万九千九百九十九亿…) has under 32 characters: a longer run is not
    a number (and would recurse once per 万 — 「一万一万…」 from a question once raised RecursionError)."""
    if len(numeral) > CN_NUMERAL_MAX:
        return None
    if len(numeral) == 4 and all(ch in CN_DIGITS and ch != "两" for ch in numeral):
        return int("".join(str(CN_DIGITS[ch]) for ch in numeral))
    for big, factor in (("亿", 10**8), ("万", 10**4)):
        if big in numeral:
            head, _, tail = numeral.rpartition(big)
            high = cn_number(head) if head else 1
            low = cn_number(tail.lstrip("零〇")) if tail.strip("零〇") else 0
            return None if high is None or low is None else high * factor + low
    return cn_section(numeral)


def cn_decimal(numeral: str) -> Decimal | None:
    head, _, tail = numeral.partition("点")
    whole = cn_number(head)
    if whole is None or any(ch not in CN_DIGITS for ch in tail):
        return None
    return Decimal(f"{whole}.{''.join(str(CN_DIGITS[ch]) for ch in tail)}" if tail else whole)
