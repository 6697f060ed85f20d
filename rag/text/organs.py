"""Names of government bodies as people write them: abbreviations, colloquial forms, and full names.

A question says 「城管部门」「人社局」「发改委」; the report is titled 「县城市管理局…」
「…人力资源和社会保障局」「县发展和改革委员会」, or names itself only in its text. Scope checks
compare names after writing abbreviations out, so each abbreviation is written here once, not per
question. The list holds the standard short forms of Chinese government organs (as government sites and
the press abbreviate them).
"""

from __future__ import annotations

import re

from rag.text.lexicon import GENERIC_TAILS

# short form → full form, longest short forms first when they overlap (「市场监管」 before 「监管」)
ORGAN_ALIASES: dict[str, str] = {
    "发改委": "发展和改革委员会", "发改局": "发展和改革局", "发改": "发展和改革",
    "经信委": "经济和信息化委员会", "经信局": "经济和信息化局", "经信": "经济和信息化",
    "工信局": "工业和信息化局", "工信": "工业和信息化",
    "人社局": "人力资源和社会保障局", "人社": "人力资源和社会保障",
    "住建局": "住房和城乡建设局", "住建委": "住房和城乡建设委员会", "住建": "住房和城乡建设",
    "城管局": "城市管理局", "城管": "城市管理", "城管执法": "城市管理综合执法",
    "医保局": "医疗保障局", "医保": "医疗保障",
    "卫健委": "卫生健康委员会", "卫健局": "卫生健康局", "卫健": "卫生健康",
    "文旅局": "文化和旅游局", "文旅体局": "文化旅游体育局", "文广旅局": "文化广电和旅游局",
    "文广新局": "文化广电新闻出版局", "文旅": "文化和旅游",
    "市监局": "市场监督管理局", "市场监管局": "市场监督管理局", "市场监管": "市场监督管理",
    "自规局": "自然资源和规划局", "环保局": "生态环境局", "国资委": "国有资产监督管理委员会",
    "农业局": "农业农村局", "农委": "农业农村委员会",
    "交通局": "交通运输局", "教体局": "教育体育局", "科技局": "科学技术局", "科工局": "科技和工业信息化局",
    "应急局": "应急管理局", "公管局": "公共资源交易监督管理局",
    "数据局": "数据资源管理局", "大数据局": "数据资源管理局", "机关事务局": "机关事务管理局",
    "经开区": "经济开发区", "改革办": "全面深化改革委员会办公室", "深改办": "全面深化改革委员会办公室",
    "民宗局": "民族宗教事务局", "退役军人局": "退役军人事务局", "供销社": "供销合作社",
}  # fmt: skip
_ALIAS_RE = re.compile("|".join(sorted(map(re.escape, ORGAN_ALIASES), key=len, reverse=True)))
# The generic end of a colloquial name: 「城管部门」「民政系统」「税务机关」 name the organ, not a unit
# called 部门.
_GENERIC_TAIL_RE = re.compile(rf"(?:{GENERIC_TAILS}|机关|口)$")


def full_organ_name(name: str) -> str:
    """``name`` with its abbreviations written out: 「县城管部门」 → 「县城市管理」,
    「市人社局」 → 「市人力资源和社会保障局」. Full names pass unchanged (a full name never contains a
    short form as a different word)."""
    core = _GENERIC_TAIL_RE.sub("", name) or name
    return _ALIAS_RE.sub(lambda m: ORGAN_ALIASES[m.group(0)], core)


def organ_forms(name: str) -> list[str]:
    """The forms a body's name may be written in a report: as asked, and with abbreviations written out
    (without a generic tail such as 部门)."""
    forms = [name, _GENERIC_TAIL_RE.sub("", name) or name, full_organ_name(name)]
    return list(dict.fromkeys(f for f in forms if f))
