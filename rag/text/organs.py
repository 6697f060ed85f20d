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


# -- bodies named by their field ----------------------------------------------------------------------

# A question names a kind of body by its field in everyday words (「哪些管环保的部门」「社保部门」); the
# body's official name says it otherwise (「生态环境局」「人力资源和社会保障局」). Field word → the words the
# official names of that field's organs contain, as county and city governments name them since the 2018
# reform (old names kept where bodies still carry them). A field word that is itself in the official name
# (民政, 财政) maps to itself, so the keys are also the list of known fields. The last group are kinds of
# body rather than fields: their word closes the name (「…人民法院」「…人民医院」).
FIELD_ORGANS: dict[str, tuple[str, ...]] = {
    # economy, finance, oversight
    "发展改革": ("发展和改革",), "工业": ("工业和信息化", "经济和信息化"), "商务": ("商务",),
    "财政": ("财政",), "国资": ("国有资产",), "税务": ("税务",), "审计": ("审计",), "统计": ("统计",),
    "工商": ("市场监督管理", "工商行政管理"), "质监": ("市场监督管理", "质量技术监督"),
    "审批": ("行政审批", "政务服务"), "大数据": ("数据资源", "大数据"),
    # land, environment, farming, water
    "环保": ("生态环境", "环境保护"), "环境": ("生态环境", "环境保护"),
    "国土": ("自然资源", "国土资源"), "规划": ("自然资源", "城乡规划", "规划"),
    "林业": ("林业", "林草"), "农业": ("农业农村", "农业"), "农村": ("农业农村", "乡村振兴"),
    "扶贫": ("乡村振兴", "扶贫开发"), "水利": ("水利", "水务"), "水务": ("水务", "水利"),
    "粮食": ("粮食和物资储备", "粮食"),
    # building, towns, transport
    "城建": ("住房和城乡建设", "城乡建设", "城市建设"), "建设": ("住房和城乡建设", "城乡建设", "建筑工务"),
    "住房": ("住房和城乡建设", "住房保障", "住房公积金"), "交通": ("交通运输",),
    # people: work, welfare, health, schooling, culture
    "社保": ("人力资源和社会保障", "社会保险", "社会保障"), "劳动": ("人力资源和社会保障", "劳动"),
    "就业": ("人力资源和社会保障", "就业"), "民政": ("民政",), "卫生": ("卫生健康", "卫生计生", "卫生"),
    "疾控": ("疾病预防控制",), "医疗": ("医疗", "医院", "保健院", "卫生院"), "教育": ("教育",),
    "科技": ("科学技术", "科技"), "文化": ("文化",), "旅游": ("旅游",), "体育": ("体育",),
    "广电": ("广播电视", "广电"),
    # safety, law, party
    "安监": ("应急管理", "安全生产监督管理"), "安全生产": ("应急管理", "安全生产"), "应急": ("应急",),
    "消防": ("消防救援", "消防"), "人防": ("人民防空",), "公安": ("公安",),
    "司法": ("司法", "法院", "检察院"), "政法": ("政法", "公安", "法院", "检察院", "司法"),
    "纪检": ("纪律检查", "纪委", "监察"),
    # kinds of body
    "法院": ("法院", "法庭"), "检察院": ("检察院",), "医院": ("医院", "保健院", "卫生院"),
    "学校": ("学校", "学院", "大学", "中学", "小学"), "开发区": ("开发区", "经济开发区", "高新区", "经开区"),
}  # fmt: skip

_ORG_TAIL_RE = re.compile(r"(?:委员会|局|委|办|厅)$")
_ASKING_RE = re.compile(r"^(?:负责|主管|分管|管(?![委理])|搞|抓)(?=..)|的$")
# What may stand before a word of a body's name: the start, a place or level (「繁昌区」「市委」「国家」,
# a placeholder 「XX」), a joiner inside a merged organ (「文化广电和旅游」「财政局（国资委）」), or another
# organ's word (「工信商务局」「文化旅游体育局」).
_ORGAN_WORDS = sorted({w for k, ws in FIELD_ORGANS.items() for w in (k, *ws)} | set(ORGAN_ALIASES)
                      | {_ORG_TAIL_RE.sub("", v) for v in ORGAN_ALIASES.values()}, key=len, reverse=True)
# What an organ's word may follow (checked with str methods: one pattern with every organ word in it,
# anchored at the end, rescans from every position of a long text).
_BEFORE_CHARS = frozenset("省市县区州盟旗镇乡村Xx×某和与及、（([［")
_BEFORE_WORDS = ("省委", "市委", "县委", "区委", "州委", "党委", "街道", "社区", "国家", *_ORGAN_WORDS)


def _word_may_start(prefix: str) -> bool:
    return not prefix or prefix[-1] in _BEFORE_CHARS or prefix.endswith(_BEFORE_WORDS)
_CLOSING = "]］)）」】"  # stripped from a name's end with whitespace (a 「[\s]+$」 pattern is quadratic)


def field_organ_words(field: str) -> tuple[str, ...]:
    """The words an official name of a body of ``field`` contains: 「管环保的部门」 → 环保, 生态环境,
    环境保护; 「人社」 → 人社, 人力资源和社会保障."""
    core = _ASKING_RE.sub("", _GENERIC_TAIL_RE.sub("", field) or field) or field
    bare = _ORG_TAIL_RE.sub("", core) or core
    words = [core, full_organ_name(core), *FIELD_ORGANS.get(core, FIELD_ORGANS.get(bare, ()))]
    return tuple(dict.fromkeys(w for w in words if w))


def names_field(body_name: str, field: str) -> bool:
    """Whether the body ``body_name`` (「繁昌区生态环境分局」) is of ``field`` (「环保」): one of the field's
    words stands in the name as a word of its own.

    Without a word segmenter (rag.text imports no jieba) a word counts where it opens the name, follows
    what may stand before an organ's word (_word_may_start), or closes the name (the kind of body:
    「…人民法院」). So 「县人民政府」 is no 民政 body (民政 follows 人) and 「区财政局」 no 政 body; the
    cost is a place written without its unit (「淮南商务局」), which is not matched."""
    words = field_organ_words(field)
    for name in dict.fromkeys((body_name, full_organ_name(body_name))):
        name = name.rstrip(_CLOSING + " \t\r\n\u3000")
        for word in words:
            for m in re.finditer(re.escape(word), name):
                if m.end() == len(name) or _word_may_start(name[: m.start()]):
                    return True
    return False
