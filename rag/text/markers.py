"""Citation markers ([1], 【1】, (来源1) …) and the sentences of an answer they attach to.

* :func:`parse_markers` reads the markers, in whatever format a model used, and returns the sentence
  without them.
* :func:`split_sentences` cuts an answer at 。！？； and newlines; markers written after the full stop
  (「…改造。[1]」) stay with their sentence.
"""

from __future__ import annotations

import re
import unicodedata

from rag.text.sentences import SENTENCE_STOPS

_DIGIT = "0-9０-９"
_MARKER_NUM = rf"[{_DIGIT}]{{1,3}}"  # evidence ids are small; 〔2023〕 is a document number, not a marker
_LABEL = (
    r"(?:来源|出处|证据|材料|资料|报告|参考|引用|引文|依据|文档|文献|段落|片段|原文|参见|见|"
    r"passage|source|ref|doc|evidence|context|[#＃^])"
)
# One optional colon between two runs of spaces, written so the spaces have a single way to match
# (``\s*[:：]?\s*`` splits a run of spaces between its two halves in n ways: exponential when repeated).
_LABELS = rf"(?:{_LABEL}(?:\s*[:：])?\s*)*"
_ITEM = rf"{_LABELS}(?:第\s*)?{_MARKER_NUM}(?:\s*[-－–—~～至到]\s*{_MARKER_NUM})?(?:\s*[段条篇号])?"
_LIST = rf"{_ITEM}(?:\s*(?:[,，、;；/／&]|和|及|与)\s*{_ITEM})*"
SQUARE = rf"[\[［【〔〖]\s*{_LIST}\s*[\]］】〕〗]"
# Parentheses hold ordinary text too (「（2023年）」, 「（1）」 list items), so they count as markers only
# with a label (「（来源1）」), or bare at the very end of the sentence (「…改造(1)。」).
LABELLED_PAREN = rf"[(（]\s*(?={_LABEL}){_LIST}\s*[)）]"
TERMINATORS = SENTENCE_STOPS
_BARE_PAREN_END = rf"[(（]\s*{_LIST}\s*[)）](?=\s*[{TERMINATORS}]*\s*$)"

# Every pattern here is linear on adversarial text (tests/test_text_linear.py): a run of spaces (or digits)
# that a pattern may start with is tried from its first character only — ``(?<!\s)\s*`` — otherwise a
# search restarts inside the run at every position and costs n² on a long run that does not match.
_MARKER_RE = re.compile(rf"(?<!\s)\s*(?:{SQUARE}|{LABELLED_PAREN}|{_BARE_PAREN_END})", re.IGNORECASE)
_LIST_IN_MARKER_RE = re.compile(rf"({_MARKER_NUM})(?:\s*[-－–—~～至到]\s*({_MARKER_NUM}))?")
# What is left of 「来源：[1]」 once the marker is gone, and brackets emptied by it.
_MARKER_RESIDUE_RE = re.compile(
    r"(?:[(（\[［【]|(?<!\s))\s*(?:来源|出处|参考|引用|依据)\s*[:：]\s*[)）\]］】]?(?=[\s。！？；!?;]*$)"
)
_EMPTY_BRACKETS_RE = re.compile(r"[\[［【〔(（]\s*[\]］】〕)）]")
_SPACE_BEFORE_PUNCT_RE = re.compile(r"(?<![ \t\u3000])[ \t\u3000]+(?=[，。！？；：、,!?;:)）”’」』])")
_MULTI_SPACE_RE = re.compile(r"[ \t\u3000]{2,}")


def _to_int(digits: str) -> int:
    return int(unicodedata.normalize("NFKC", digits))


def _marker_ids(marker: str) -> list[int]:
    ids: list[int] = []
    for m in _LIST_IN_MARKER_RE.finditer(marker):
        first = _to_int(m.group(1))
        last = _to_int(m.group(2)) if m.group(2) else first
        if first <= last <= first + 10:
            ids.extend(range(first, last + 1))
        else:
            ids.extend([first, last])
    return ids


def parse_markers(sentence: str) -> tuple[str, list[int]]:
    """The sentence without its citation markers, and the evidence ids they name (written order, no repeats).

    Accepted: 「[1]」 「[1,2]」 「[1][3]」 「[1-3]」 「【1】」 「［1］」 「〔1〕」 「[来源1]」 「[^1]」
    「(来源1)」 「（证据1、2）」 「（见材料3）」, and a bare 「(1)」 at the very end of a sentence.
    Bracketed numbers of four or more digits (「〔2023〕」) are text, not markers.
    """
    ids: list[int] = []

    def take(match: re.Match[str]) -> str:
        for i in _marker_ids(match.group(0)):
            if i not in ids:
                ids.append(i)
        return ""

    clean = _MARKER_RE.sub(take, sentence)
    if ids:  # tidy what the markers leave behind: 「来源：」, 「[]」, 「改造 。」
        clean = _MARKER_RESIDUE_RE.sub("", clean)
        clean = _EMPTY_BRACKETS_RE.sub("", clean)
        clean = _SPACE_BEFORE_PUNCT_RE.sub("", clean)
        clean = _MULTI_SPACE_RE.sub(" ", clean)
    return clean.strip(), ids


# ---------------------------------------------------------------------------------------------------------
# Sentences
# ---------------------------------------------------------------------------------------------------------

# While scanning for a full stop, markers are skipped whole, so 「[1；2]」 is not cut in two.
_SCAN_RE = re.compile(rf"(?P<marker>{SQUARE}|{LABELLED_PAREN})|(?P<stop>[{TERMINATORS}])", re.IGNORECASE)
# What still belongs to a sentence after its full stop: more stops, closing quotes, markers.
_TAIL_RE = re.compile(rf"(?:[{TERMINATORS}”’」』》]|(?<!\s)\s*{SQUARE}|(?<!\s)\s*{LABELLED_PAREN})+",
                      re.IGNORECASE)
CONTENT_CHAR_RE = re.compile(r"[0-9A-Za-z０-９Ａ-Ｚａ-ｚ\u3400-\u4dbf\u4e00-\u9fff]")


def split_answer_lines(text: str) -> list[tuple[str, int]]:
    """Sentences with the index of the answer line they come from (for rendering)."""
    out: list[tuple[str, int]] = []
    for line_no, line in enumerate(text.splitlines()):
        pos = 0
        scan = pos
        while pos < len(line):
            end = len(line)
            while (m := _SCAN_RE.search(line, scan)) is not None:
                if m.group("stop"):
                    tail = _TAIL_RE.match(line, m.start())
                    end = tail.end() if tail else m.end()
                    break
                scan = m.end()
            piece = line[pos:end].strip()
            pos = scan = end
            if not piece:
                continue
            clean, ids = parse_markers(piece)
            if CONTENT_CHAR_RE.search(clean):
                out.append((piece, line_no))
            elif ids and out:  # a line or fragment holding only markers belongs to the sentence before it
                prev, prev_line = out[-1]
                out[-1] = (prev + piece, prev_line)
    return out


def split_sentences(text: str) -> list[str]:
    """Split an answer into sentences at 。！？；(and their ASCII forms) and at newlines.

    List items (「1. …」, 「- …」) are sentences of their own. Markers that follow a sentence's full stop
    (「…完成改造。[1]」) stay attached to it, like those before it (「…完成改造[1]。」); a line holding only
    markers is attached to the sentence before it. Fragments without any content are dropped.
    """
    return [sentence for sentence, _ in split_answer_lines(text)]
