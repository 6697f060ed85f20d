"""rag/text/lexicon.py: each entry with an example of what it is for (and of what it must not take)."""

from __future__ import annotations

import re

import pytest

from rag.text import lexicon as lx


@pytest.mark.parametrize(("pattern", "yes", "no"), [
    (lx.PLACE_UNITS, "枫香塘村", "枫香塘"),
    (lx.GENERIC_TAILS, "城管部门", "城管局"),
    (lx.QUESTION_BODY_SUFFIXES, "苹果市珠港区人民法院", "苹果市珠港区"),
    (lx.PERIODS, "2023年上半年", "2023年"),
    (lx.DATE_EXPRESSION, "6月30日前完成", "完成改造"),
    (lx.PERSON_NAME, "局长张三主持", "主要负责同志"),
    (lx.SELF_REFERENCES, "本院认为", "苹果市珠港区人民法院认为"),
])
def test_an_entry_matches_its_example_and_not_its_neighbour(pattern, yes, no):
    assert re.search(rf"(?:{pattern})$", yes) or re.search(pattern, yes)
    assert not re.search(rf"(?:{pattern})$", no)


def test_levels_open_body_names():
    assert "县水利局"[0] in lx.LEVELS and "繁昌区商务局"[0] not in lx.LEVELS


def test_a_document_kind_is_what_a_title_names_after_its_author():
    assert any("彩虹市桐城区人民法院刑事判决书".endswith(k) for k in lx.DOCUMENT_KINDS)
    assert not any("县水利局2023年工作总结".endswith(k) for k in lx.DOCUMENT_KINDS)


def test_organ_suffixes_end_body_names_and_strong_ones_mark_a_separate_organisation():
    assert "市医保局".endswith(lx.ORG_SUFFIXES)
    assert re.search(lx.STRONG_ORG_SUFFIXES, "医保局")
    assert not re.search(lx.STRONG_ORG_SUFFIXES, "法治政府建设")


def test_question_words_are_not_what_a_question_is_about():
    assert re.sub(lx.QUESTION_WORDS, "", "新建少年宫项目总投资多少") == "新建少年宫项目总投资"
