"""Enumerated sentences (rag/text/items.py): which sentences are the items of one list."""

from __future__ import annotations

import pytest

from rag.text.items import enumerator, item_runs


@pytest.mark.parametrize(("text", "expected"), [
    ("一是组织收入工作面临更大压力。", ("shi", 1)),
    ("三是强化宣传和安全生产队伍建设，", ("shi", 3)),
    ("（二）狠抓产业链条提升。", ("paren", 2)),
    ("2.优化网格化管理监测。", ("digit", 2)),
    ("十二、其他工作", ("dun", 12)),
    ("第三，加强监管。", ("di", 3)),
    ("2.5亿元用于建设", None),  # a figure, not an item
    ("今年重点做好三项工作。", None),
])
def test_enumerator_reads_style_and_number(text, expected):
    assert enumerator(text) == expected


def test_a_list_counts_up_from_one_with_text_between_its_items():
    sentences = ["问题和不足：", "一是收入压力大。", "房地产低迷。", "二是营商环境标准高。",
                 "三是队伍期待高。",
                 "下一步，我们将继续努力。"]
    assert item_runs(sentences) == [[1, 3, 4]]


def test_a_second_list_starts_again_at_one_and_other_styles_do_not_join():
    sentences = ["存量方面，关注两个不遗漏。", "一是核心企业。", "二是特殊企业。", "增量方面：",
                 "一是新增企业。",
                 "（二）另一层级。", "二是入库企业。", "四是跳号。"]
    assert item_runs(sentences) == [[1, 2], [4, 6]]


def test_a_lone_item_or_a_list_not_from_one_is_no_list():
    assert item_runs(["一是加强领导。", "其他内容。"]) == []
    assert item_runs(["二是加强领导。", "三是强化落实。"]) == []
