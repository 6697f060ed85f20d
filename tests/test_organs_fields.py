"""Bodies named by their field (rag/text/organs.py): 「哪些管环保的部门」 finds 「生态环境局」, and a field
word inside another word (「县人民政府」 for 民政) finds nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT
from rag.corpus import load_corpus
from rag.text.organs import FIELD_ORGANS, field_organ_words, names_field

SECOND_CORPUS = Path(os.environ.get("RAG_SECOND_CORPUS",
                                    PROJECT_ROOT.parent / "shared" / "corpora" / "dragonball-zh"))


def test_a_field_as_asked_is_reduced_to_the_words_of_official_names():
    assert field_organ_words("管环保的部门") == ("环保", "生态环境", "环境保护")
    assert field_organ_words("搞农业的单位") == ("农业", "农业农村")
    assert field_organ_words("税务机关") == ("税务",)
    assert "人力资源和社会保障" in field_organ_words("社保部门")
    assert "人力资源和社会保障" in field_organ_words("人社")  # an abbreviation is written out
    assert field_organ_words("管委会") == ("管委会",)  # 管 that is part of the word stays


@pytest.mark.parametrize(("body", "field"), [
    ("繁昌区生态环境分局", "环保"), ("XX市生态环境局XX分局", "管环保的"), ("县人力资源和社会保障局", "社保"),
    ("区人社局", "社保部门"), ("县农业农村局", "搞农业的"), ("区卫生健康委员会", "卫生"),
    ("区卫健委", "卫生部门"), ("区住房和城乡建设局", "城建"), ("区住建局", "城建"),
    ("区交通运输局", "交通"), ("县文化和旅游局", "旅游"), ("县文旅体局", "体育"), ("县文旅体局", "文化"),
    ("县教育体育局", "教育"), ("县林业局", "林业"), ("县自然资源和规划局", "国土"),
    ("县自然资源和规划局", "规划"), ("市市场监督管理局", "工商"), ("应急管理局", "安监"),
    ("国家税务总局XX县税务局", "税务"), ("区民政局", "民政"), ("工信商务局", "商务"),
    ("市财政局（国资委）", "国资"), ("市委改革办", "改革"), ("XX统计局", "统计"),
    ("苹果市珠港区人民法院", "法院"), ("[碧海市金沙区人民法院]", "法院"), ("霜叶市第一人民医院", "医院"),
    ("黄埔市妇幼保健院", "医疗"), ("XX中药科技学校", "学校"), ("县经济开发区管委会", "开发区"),
    ("市委宣传部", "宣传"), ("县城市管理综合执法局", "城管"),
])  # fmt: skip
def test_a_body_of_the_field(body, field):
    assert names_field(body, field)


@pytest.mark.parametrize(("body", "field"), [
    ("县人民政府", "民政"),  # 民政 inside 人民政府
    ("区财政局", "政"),
    ("区财政局", "税务"),
    ("XX中药科技学校", "科技"),  # a school, not a science bureau
    ("区医保局", "卫生"),
    ("霜叶市第一人民医院", "卫生"),  # a hospital is a 医疗 body, not a 卫生健康 organ
    ("苹果市珠港区人民法院", "医疗"),
    ("县城市管理局", "市场监管"),
    ("市自然资源局", "环保"),
    ("区数据资源管理局", "国土"),
    ("县民政局", "人防"),
])  # fmt: skip
def test_not_a_body_of_the_field(body, field):
    assert not names_field(body, field)


def _matches(bodies: set[str]) -> dict[str, list[str]]:
    found = {f: sorted(b for b in bodies if names_field(b, f)) for f in FIELD_ORGANS}
    for field, names in found.items():  # read with -s: every match, to look through by eye
        if names:
            print(f"{field}: {'、'.join(names)}")
    return found


def test_fields_over_the_bundled_reports():
    bodies = {r.issuing_body for r in load_corpus(PROJECT_ROOT / "data").reports if r.issuing_body}
    found = _matches(bodies)
    assert found["环保"] == ["XX市生态环境局XX分局", "县生态环境分局"]
    assert found["国土"] == ["县自然资源和规划局", "市自然资源局"]
    assert found["城建"] == ["区住建局", "区住房和城乡建设局"]
    assert found["卫生"] == ["区卫生健康局"]
    assert found["民政"] == ["区民政局", "县民政局", "民政局"]
    assert found["旅游"] == ["县文化广电和旅游局", "县文旅体局", "文旅局"]
    assert found["安监"] == ["应急管理局"]
    assert found["学校"] == ["XX中药科技学校"]
    assert not [f for f in FIELD_ORGANS if names_field("县人民政府", f)]


def test_fields_over_the_courts_and_hospitals():
    if not SECOND_CORPUS.is_dir():
        pytest.skip(f"second corpus not at {SECOND_CORPUS}")
    bodies = {r.issuing_body for r in load_corpus(SECOND_CORPUS).reports if r.issuing_body}
    found = _matches(bodies)
    courts = {b for b in bodies if "法院" in b}
    assert courts and set(found["法院"]) == set(found["司法"]) == courts
    assert set(found["医院"]) == set(found["医疗"]) == bodies - courts
    assert {f for f, names in found.items() if names} == {"法院", "司法", "政法", "医院", "医疗"}
