"""Search normalisation: the form of a text that queries are matched against.

The source files replace sensitive words with placeholders: 「D」 for 党 (D建, D的二十大, 从严治D),
「AAA」 for 微信 (AAA公众号, AAA群), 「A」 for 习近平 (A新时代…思想), 「T」/「ZT」 for 主题, 「DK」 for 党课,
and 「XX」/「xx」 for redacted names and numbers. Users type the real words, so the search form restores
them, using the context of each letter run rather than a list of phrases: 「D级危房」, 「D类企业」,
「AAA级旅游景区」, 「DIP」, 「5G」 and 「DP」 are left alone. Displayed text and quotes keep the original.
"""

from __future__ import annotations

import re
import unicodedata

REDACTION = "XX"

_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_CJK_RE = re.compile(f"[{_CJK}]")
# A run of Latin letters that is not glued to other letters or to a preceding digit (3D, 5G stay put).
_LETTER_RUN_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]+(?![A-Za-z])")
_SPACE_RE = re.compile(r"\s+")

# A capital followed by one of these is a grade or a label (D级危房, D类企业, A区, B段), not a placeholder.
_LABEL_SUFFIX_RE = re.compile(r"^(?:级|类|区|型|栋|幢|座|段|档|号|版|轮|照|证)")
# A letter in an enumeration of labels: 「A、B、C、D」.
_LABEL_LIST_RE = re.compile(r"[A-Ca-c]\s*[、,，/和及与]\s*$")
# T as a shape or object (T型, T恤), not 主题.
_T_OBJECT_RE = re.compile(r"^(?:型|字|恤|台|梁|形|细胞|淋巴)")
# 「A新时代中国特色社会主义思想」, 「A总书记」: the phrases the A placeholder stands in.
_XI_RE = re.compile(r"^(?:新时代|总书记|同志|法治思想|经济思想|生态文明思想|强军思想|外交思想|文化思想)")
# AAA as a rating: 「AAA级」, 「信用等级AAA」, 「评为AAA」.
_RATING_AFTER_RE = re.compile(r"^(?:级|等级|信用|\+)")
_RATING_BEFORE_RE = re.compile(r"(?:信用|等级|评级|评为|评定为|评定|获评|荣获|认定为|达到)\s*$")


def _is_cjk(ch: str) -> bool:
    return bool(ch) and bool(_CJK_RE.match(ch))


def _replace_run(match: re.Match[str]) -> str:
    run = match.group(0)
    text = match.string
    before = text[max(0, match.start() - 6) : match.start()]
    after = text[match.end() : match.end() + 6]
    left = before[-1:] if before else ""
    right = after[:1]
    upper = run.upper()

    if len(run) >= 2 and set(upper) == {"X"}:
        return REDACTION
    if run != upper:  # placeholders are capitals; 「xx」 was handled above
        return run
    if upper == "D":
        if _LABEL_SUFFIX_RE.match(after) or _LABEL_LIST_RE.search(before):
            return run
        return "党" if _is_cjk(left) or _is_cjk(right) else run
    if upper == "DK":
        return "党课" if _is_cjk(left) or _is_cjk(right) else run
    if upper == "T":
        if _LABEL_SUFFIX_RE.match(after) or _T_OBJECT_RE.match(after) or _LABEL_LIST_RE.search(before):
            return run
        return "主题" if _is_cjk(right) else run
    if upper == "ZT":
        return "主题" if _is_cjk(right) else run
    if upper == "TD":  # 「TD日」 = 主题党日
        return "主题党" if _is_cjk(right) else run
    if upper == "AAA":
        if _RATING_AFTER_RE.match(after) or _RATING_BEFORE_RE.search(before):
            return run
        return "微信"
    if upper == "A":
        return "习近平" if _XI_RE.match(after) else run
    return run


def normalize_for_search(text: str) -> str:
    """Search form of ``text``: NFKC width folding, placeholders restored, redactions unified to XX,
    whitespace collapsed.

    The result is for matching only; it is not aligned with the original text.
    """
    folded = unicodedata.normalize("NFKC", text)
    restored = _LETTER_RUN_RE.sub(_replace_run, folded)
    return _SPACE_RE.sub(" ", restored).strip()
