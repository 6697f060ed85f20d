"""Citation checker: every sentence shown to the user must be supported by the evidence it cites.

The answer model is small and unreliable: it invents numbers, cites the wrong passage or none, and breaks
the marker format. This package takes its answer apart sentence by sentence and decides, for each one,
what may be shown:

* :func:`split_sentences` (rag/text/markers.py) cuts the answer at 。！？； and newlines; markers
  written after the full stop (「…改造。[1]」) stay with their sentence.
* :func:`parse_markers` (rag/text/markers.py) reads the citation markers, in whatever format the model
  used ([1], [1,2], 【1】, ［1］, (来源1), …) and returns the sentence without them.
* :func:`extract_numbers` / :func:`number_supported` (rag/text/quantities.py): every number a sentence
  states must appear, with the same value and unit, in the evidence it cites (「1.5亿元」 is not
  「15亿元」, 「8个」 not 「18个」). Numbers are compared as values, so 「1.5亿元」 = 「15000万元」 and
  「三个」 = 「3个」.
* :func:`support_score` (support.py): the share of the sentence's content characters covered by
  character bigrams that also occur in the evidence.
* Names of bodies and places (「市医保局」, 「枫香塘村」) are anchored (support.py): the two characters
  ending such a name must occur in the evidence, so a fact moved from one bureau or village to another
  fails even when the rest of the sentence matches word for word.
* :func:`check_sentence` (checker.py) accepts a sentence when its cited evidence passes all three tests,
  otherwise re-aligns it to the passage (or pair of passages) that does — repairing a missing or wrong
  marker — and rejects it when none does. Refusals are recognised in refusals.py.
* :func:`check_answer` runs this over a whole answer and renders the sentences that may be shown.

Everything compares the search form of the text (:func:`rag.text.normalize.normalize_for_search`): full
width folded, 「D建」 read as 党建 and 「AAA公众号」 as 微信公众号, so the model may write either form.
Pure Python, no model, well under a millisecond per sentence: evidence profiles are cached by text.

Known blind spots (lexical checks cannot see meaning): two numbers of the passage swapped between their
nouns (「西药1381种、中成药1586种」), one proper name replaced by another not ending in 局/委/厅/镇/村/县
(「滨河公园」 for 「临河园」), a plan told as done, a role changed (「市长任组长」 for 「副市长为组长」),
negation flipped. Numbers written as ordinals without a measure word (「第三人民医院」) are not checked.
"""

from rag.answering.verify.checker import (
    CONNECTIVE_MAX_CHARS,
    DEFAULT_THRESHOLD,
    AnswerCheck,
    SentenceCheck,
    check_answer,
    check_sentence,
)
from rag.answering.verify.support import FUNCTION_WORDS, support_score
from rag.text.markers import parse_markers, split_sentences
from rag.text.quantities import extract_numbers, number_supported

__all__ = [
    "CONNECTIVE_MAX_CHARS",
    "DEFAULT_THRESHOLD",
    "FUNCTION_WORDS",
    "AnswerCheck",
    "SentenceCheck",
    "check_answer",
    "check_sentence",
    "extract_numbers",
    "number_supported",
    "parse_markers",
    "split_sentences",
    "support_score",
]
