"""Metadata from titles and opening sentences, on titles beyond the five files."""

from __future__ import annotations

import pytest

from rag.corpus.metadata import describe_writer, parse_periods, report_kind


@pytest.mark.parametrize(
    ("title", "opening", "expected"),
    [
        ("县水利局2023年上半年工作总结和下半年工作计划", None, ("县水利局", "title", "县")),
        ("XX市XX区税务局2023年下半年工作计划", None, ("XX市XX区税务局", "title", "区")),
        ("区住房和城乡建设局2023年工作总结", None, ("区住房和城乡建设局", "title", "区")),  # not 乡
        ("县城市管理局2023年工作总结", None, ("县城市管理局", "title", "县")),  # not 市
        ("长沙市岳麓区商务局2023年工作总结", None, ("长沙市岳麓区商务局", "title", "区")),
        ("XX市XX区XX街道XX社区2023年工作总结", None, ("XX市XX区XX街道XX社区", "title", "村")),
        ("国家税务总局XX县税务局2023年工作总结", None, ("国家税务总局XX县税务局", "title", "县")),
        ("XX经济开发区2023年度工作总结", None, ("XX经济开发区", "title", None)),  # a zone, not a level
        ("XX州统计局2023年工作计划", None, ("XX州统计局", "title", "市")),
        ("县审计局法治政府建设2023年工作总结", None, ("县审计局", "title", "县")),  # topic dropped
        ("2023年县自然资源和规划局工作总结和2024年工作计划", None, ("县自然资源和规划局", "title", "县")),
        ("XX局关于2023年工作总结的报告", None, ("XX局", "title", None)),
        ("教育局2023年下半年工作计划", "在县委、县政府的坚强领导下，我局始终坚持", ("教育局", "title", "县")),
        (
            "2023年上半年工作总结和下半年工作安排",
            "2023年以来,市医保局在市委、市政府的正确领导下,坚持以人民为中心",
            ("市医保局", "opening", "市"),
        ),
        ("村2023年工作总结", "今年以来，驻XX村工作队在局D组正确领导下", ("驻XX村工作队", "opening", "村")),
        ("镇2023年工作总结", "2023年以来，XX镇D委政府坚持产业发展", ("XX镇", "opening", "镇")),
        ("镇2023年工作总结", "今年以来，我镇坚决贯彻落实县委决策部署", (None, None, "镇")),
        ("2023年工作总结", "根据市政府工作部署，现将工作情况汇报如下", (None, None, None)),
    ],
)
def test_issuing_body_and_level(title: str, opening: str | None, expected: tuple) -> None:
    assert describe_writer(title, opening) == expected


@pytest.mark.parametrize(
    ("title", "periods"),
    [
        ("县水利局2023年上半年工作总结和下半年工作计划", ["2023年上半年", "2023年下半年"]),
        ("XX镇2023下半年工作计划", ["2023年下半年"]),
        ("2023工作总结2024年工作计划", ["2023年", "2024年"]),
        ("2023年度工作总结及2024年度工作计划", ["2023年", "2024年"]),
        ("经济开发区2023年下半年工作总结和2024年上半年工作安排", ["2023年下半年", "2024年上半年"]),
        ("2023年应急工作服务中心上半年工作总结及下半年工作计划", ["2023年上半年", "2023年下半年"]),
        ("XX区统计局2024年第一季度工作总结", ["2024年第一季度"]),
        ("XX局工作总结", []),
    ],
)
def test_periods(title: str, periods: list[str]) -> None:
    assert parse_periods(title) == periods


def test_half_without_year_takes_the_default_year() -> None:
    assert parse_periods("XX局上半年工作总结", default_year="2023") == ["2023年上半年"]


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("民政局2023年上半年工作总结", "总结"),
        ("XX街道2023年下半年工作计划", "计划"),
        ("XX乡人民政府2024年工作要点", "计划"),
        ("XX局2023年上半年工作情况汇报", "总结"),
        ("经济开发区2022年上半年工作总结和下半年工作思路", "both"),
        ("XX局2023年大事记", None),
    ],
)
def test_kind(title: str, kind: str | None) -> None:
    assert report_kind(title) == kind
