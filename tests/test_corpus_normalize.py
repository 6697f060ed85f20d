"""Search normalisation: placeholders restored by context, real letters left alone."""

from __future__ import annotations

import re

import pytest

from rag.text.normalize import normalize_for_search


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("加强D建工作", "加强党建工作"),
        ("局D组充分发挥领导核心作用", "局党组充分发挥领导核心作用"),
        ("深入学习贯彻D的二十大精神", "深入学习贯彻党的二十大精神"),
        ("推动全面从严治D向纵深发展", "推动全面从严治党向纵深发展"),
        ("坚持全面从严治D。", "坚持全面从严治党。"),
        ("留D察看处分1人", "留党察看处分1人"),
        ("以A新时代中国特色社会主义思想为指导", "以习近平新时代中国特色社会主义思想为指导"),
        ("充分利用AAA工作群、AAA公众号及时推送", "充分利用微信工作群、微信公众号及时推送"),
        ("两地窗口单位AAA群", "两地窗口单位微信群"),
        ("在AAA上开辟专栏", "在微信上开辟专栏"),
        ("深入推广医保“企业AAA”", "深入推广医保“企业微信”"),
        ("扎实开展ZT教育", "扎实开展主题教育"),
        ("推动T教育走深走实", "推动主题教育走深走实"),
        ("讲廉政DK1次", "讲廉政党课1次"),
        ("“TD日+”活动", "“主题党日+”活动"),
        ("xxxx年x月，XX县xx镇", "XX年x月,XX县XX镇"),
        ("　　全角　空格\t与换行\n", "全角 空格 与换行"),
    ],
)
def test_placeholders_are_restored(text: str, expected: str) -> None:
    assert normalize_for_search(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "劝离搬出D级危房10余户",
        "C类企业144户，D类企业36户",
        "邹新花园D区建设",
        "评定A类企业186户",
        "获批国家AAA级旅游景区",
        "创建为国家AAAA级旅游景区",
        "信用等级AAA",
        "加快推进A级旅游景区提质升级",
        "推进DIP支付方式改革",
        "全县DP保持稳定增长",
        "5G基站XX个",
        "3D打印",
        "T型钢",
        "A、B、C、D",
        "G50宣广高速",
    ],
)
def test_real_letters_are_left_alone(text: str) -> None:
    folded = normalize_for_search(text)
    assert re.findall("[A-Za-z]+", folded) == re.findall("[A-Za-z]+", text)
    for word in ("党", "微信", "习近平", "主题"):
        assert word not in folded, (text, folded)


def test_width_folding_lets_full_width_placeholders_match() -> None:
    assert normalize_for_search("Ｄ建") == "党建"
    assert normalize_for_search("（一）") == "(一)"
