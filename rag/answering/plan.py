"""What the question asks, read once into a typed :class:`QuestionPlan` that every later stage reads.

The plan says what kind of answer is wanted (a figure, a list, a reason…), about what (the subject), in
what measure and unit (总投资 / 万元), within what scope (body, place, period, report kind, as the question
states them; one scope per side of a comparison), and what the question takes for granted (premises). It
is built from the wording alone, with the Chinese-text rules of rag/text/ — no corpus, no model — in well
under a millisecond, and is shown with every answer (`plan` in the API and `rag ask --json`), so a reader can
see what the service understood.

Later stages use it: scope.py checks the scope against the corpus, evidence.py picks passages for it,
binding.py keeps a figure only where the cited clause states it for the subject and measure, and the
refusal names what is missing (「报告中没有给出新建少年宫项目的总投资」).
"""

from __future__ import annotations

import re

from rag.contracts import PlanKind, QuestionPlan, Scope
from rag.text.lexicon import PERIODS
from rag.text.normalize import normalize_for_search
from rag.text.question import QuestionFacts, read_question

# -- kinds ------------------------------------------------------------------------------------------------

# 「哪些单位」「哪几个部门」: a list of bodies across reports.
_WHO_RE = re.compile(r"哪些(?:单位|部门|地方|地区|机构|县|区|镇|乡|村|局|报告)|"
                     r"哪几(?:个|家|份)(?:单位|部门|地方|报告)")
_COMPARE_RE = re.compile(r"相比|比较|对比|有何(?:不同|区别|异同)|有什么(?:不同|区别|异同)|异同|"
                         r"分别|各是|各有|哪个(?:更|多|高|大|少|低)")
_WHY_HOW_RE = re.compile(r"为什么|为何|原因|如何|怎样|怎么|通过什么|靠什么|采取(?:了)?(?:什么|哪些)|"
                         r"措施|做法|举措|办法|方式|思路|途径")
_SUMMARY_RE = re.compile(r"总体情况|整体情况|主要成效|主要成绩|概括|概述|总结一下|简要介绍|介绍一下|整体来看")

# -- scope ------------------------------------------------------------------------------------------------

_MONTHS = r"\d{1,2}\s*[-—至到~]\s*\d{1,2}\s*月(?:份)?"  # 「1-10月」
_PERIOD_RE = re.compile(rf"(?:20\d{{2}}\s*年(?:度)?)?(?:{PERIODS}|{_MONTHS})|20\d{{2}}\s*年(?:度)?")
_KIND_RE = re.compile(r"工作(?:总结|计划|安排|思路|要点)|总结|计划")
# A place named apart from a body: 「枫香塘村」「中华南路街道」「XX镇」: the unit, and the name characters
# before it back to a word that cannot be part of a name (a particle, a verb of assignment, an organ suffix).
_PLACE_UNIT_RE = re.compile(r"(?:社区|街道|村|镇|乡|县|区|旗)(?![村镇街])"
                            r"(?![\u4e00-\u9fff]{0,3}(?:局|委|办|中心|站|所|振兴|建设|治理|规划))")
_NOT_IN_PLACE_NAME = set("年月的在对和与及驻派局委办科厅署心了是有为从向把要将给个多少几哪什么各每全本该其等"
                         "些万千百、，,。？?（）()")
_LEAD_VERB_RE = re.compile(r"^(?:负责|管辖|位于|地处|包括|来自|推进|建设|有)")
_GENERIC_PLACES = (
    "乡村", "农村", "城乡", "乡镇", "村镇", "城镇", "集镇", "行政村", "自然村", "村社", "村居", "辖区",
    "城区", "园区", "社区", "片区", "景区", "山区", "库区", "全县", "全区", "本县", "本区", "旗县",
)  # fmt: skip

# -- subject and measure ----------------------------------------------------------------------------------

# Asking words and particles: what kind of answer is wanted, not what it is about.
_ASKING_RE = re.compile(
    r"请问|请|一下|具体|分别|主要|大概|大约|一共|总共|"
    r"多少|几|多大|多高|多长|多重|"
    r"有哪些|哪些|哪几|哪个|哪里|哪|什么|啥|如何|怎样|怎么样|怎么|为什么|为何|是否|有没有|是不是|有何|"
    r"不同|区别|异同|相比|对比|比较|"
    r"[吗呢吧啊]|[？?！!。，,：:；;、“”\"'‘’（）()《》]"
)
# 「推进华阳河蓄滞洪区建设的那个县」「提出‘五个提升’的那份」: which report is meant, not what is asked.
_DESCRIBED_RE = re.compile(
    r"[^\s，,。？?；;（）()]{2,30}?的?那(?:个|份|家|位)[\u4e00-\u9fff]{0,6}?"
    r"(?=[\s，,。？?；;（）()]|$|[上下]半年|20\d\d)|"
    # an injected instruction says nothing of the subject
    r"你现在是[^，,。：:]*|不需要注明出处|忽略[^，,。：:]*"
)
# Verbs that only carry the question (「提出」「要」「计划」): dropped from the subject's edges.
_EDGE_WORDS = (
    "提出了", "提出", "提到", "计划", "打算", "准备", "要求", "需要", "要", "将", "在", "对", "于", "把",
    "的", "了", "是", "为", "有", "达到", "达", "到", "和", "与", "及", "中", "上", "里", "等", "年底前",
    "年底", "年内", "今年", "去年", "明年", "工作", "方面", "情况", "内容", "安排",
)  # fmt: skip
# What a count or amount is counted in (「多少个」「几亩」「多少万元」): dropped with the asking word.
_COUNTERS = "个家项次人所条件名户座台辆处批场期级倍亩吨天元米%套份篇起宗枚场节台株头只"
_END_PARTICLES = ("的", "了", "等", "是", "有")
# The measure asked: the noun right before 「多少/几」 (「总投资多少万元」 → 总投资), or a measure noun
# (「的长度」).
_MEASURE_BEFORE_RE = re.compile(
    r"([\u4e00-\u9fff]{2,4}?)(?:了|的|是|为|达到?|有|约|共|一共|总共|累计|要|将|能)?(?:多少|几)")
_MEASURE_NOUN_RE = re.compile(r"(占有率|[\u4e00-\u9fff]{1,2}率|长度|面积|规模|金额|总额|总量|数量|人数|户数|"
                              r"个数|比例|比重|占比|增速|增幅|总投资|投资额?|资金|经费|收入|产值|营收|税收|"
                              r"里程|容量|产量|排名)")


# A date or a person's name asked for: the passage about the subject must state one.
_ASKS_DATE_RE = re.compile(r"什么时候|何时|哪一天|哪天|几月几[日号]|几号|具体日期|什么时间|哪个月")
_ASKS_NAME_RE = re.compile(r"(?:长|书记|主任|负责人|同志)的?(?:叫什么(?:名字)?|姓名|名字|是谁)")


def _periods(norm: str) -> tuple[str | None, list[str]]:
    spans = [m.group(0).replace(" ", "") for m in _PERIOD_RE.finditer(norm)]
    return (spans[0] if spans else None), spans


def _places(norm: str, bodies: list[str]) -> list[str]:
    out = []
    for m in _PLACE_UNIT_RE.finditer(norm):
        i = m.start()
        while (i > 0 and m.start() - i < 8 and norm[i - 1] not in _NOT_IN_PLACE_NAME
               and not norm[i - 1].isdigit()):
            i -= 1
        name = _LEAD_VERB_RE.sub("", norm[i : m.end()])
        if (m.start() - i < 2 and not name.startswith("某")) or name in _GENERIC_PLACES or any(
                name.endswith(g) for g in _GENERIC_PLACES) or any(name in b for b in bodies):
            continue
        out.append(name)
    return list(dict.fromkeys(out))


def _kind(norm: str, facts: QuestionFacts, n_scopes: int) -> PlanKind:
    if _WHO_RE.search(norm):
        return "who"
    if _COMPARE_RE.search(norm) and n_scopes >= 2:
        return "compare"
    if facts.asks_quantity:
        return "quantity"
    if facts.enumeration:
        return "list"
    if _SUMMARY_RE.search(norm):
        return "summary"
    if _WHY_HOW_RE.search(norm):
        return "why_how"
    if _COMPARE_RE.search(norm):
        return "compare"
    return "fact"


def _measure(norm: str, facts: QuestionFacts) -> str | None:
    if not facts.asks_quantity:
        return None
    m = _MEASURE_NOUN_RE.search(norm)
    if m:
        return m.group(1)
    m = _MEASURE_BEFORE_RE.search(norm)
    if m:
        word = m.group(1)
        for edge in ("要", "将", "能", "共", "了", "的", "是", "有", "在"):
            word = word.removesuffix(edge)
        word = re.sub(r"^.*[的在了把对要将]", "", word)
        return word if len(word) >= 2 else None
    return None


def _subject(norm: str, removed: list[str]) -> str:
    """The question without its scope, measure unit and asking words: the words the answer is about."""
    text = norm
    for part in sorted((r for r in removed if r), key=len, reverse=True):
        text = text.replace(part, " ")
    text = _DESCRIBED_RE.sub(" ", text)
    text = _ASKING_RE.sub(" ", text)
    pieces = []
    for piece in text.split():
        changed = True
        while changed and piece:
            changed = False
            for w in _EDGE_WORDS:
                if piece.startswith(w) and len(piece) > len(w):
                    piece, changed = piece[len(w):], True
                # a last character is often part of a word (「存在」「对于」): only particles go
                if piece.endswith(w) and len(piece) > len(w) and (len(w) > 1 or w in _END_PARTICLES):
                    piece, changed = piece[: -len(w)], True
        if len(piece) >= 2 and piece not in _EDGE_WORDS:
            pieces.append(piece)
    return " ".join(dict.fromkeys(pieces))


def read_plan(question: str) -> QuestionPlan:
    """The plan of ``question`` (a standalone question: follow-ups are rewritten first)."""
    norm = normalize_for_search(question)
    facts = read_question(question)
    period, periods = _periods(norm)
    kind_m = _KIND_RE.search(norm)
    report_kind = None
    if kind_m:
        report_kind = "总结" if "总结" in kind_m.group(0) else "计划" if re.search("计划|安排|思路|要点",
                                                                              kind_m.group(0)) else None
    bodies = [b.text for b in facts.bodies]
    places = _places(norm, bodies)
    place = places[0] if places else None
    body = bodies[0] if bodies else None
    scope = Scope(body=body, place=place, period=period, report_kind=report_kind)
    # one side per named body (or place, or period) when the question sets two against each other
    side_names = bodies if len(bodies) >= 2 else places if len(places) >= 2 else []
    sides = [Scope(body=b if side_names is bodies else None, place=b if side_names is places else None,
                   period=period) for b in side_names]
    if not sides and len(periods) >= 2:
        sides = [Scope(body=body, place=place, period=p) for p in periods]
    kind = _kind(norm, facts, len(sides))
    unscoped = norm
    for part in sorted([*bodies, *places, *periods], key=len, reverse=True):
        unscoped = unscoped.replace(part, "，")
    measure = _measure(unscoped, facts)
    unit_words = [m.group(0) for m in re.finditer(rf"(?:多少|几)(?:万|亿|千|百)?[{_COUNTERS}]?", norm)]
    subject = _subject(norm, [*bodies, *places, *periods, *(m.group(0) for m in _KIND_RE.finditer(norm)),
                              *(facts.premise_numbers), *unit_words])
    return QuestionPlan(
        kind=kind, subject=subject, measure=measure, unit=facts.unit or facts.measure, scope=scope,
        sides=sides if kind == "compare" else [], premises=list(facts.premise_numbers),
        list_size=facts.enumeration_size, facts=facts,
        asks="date" if _ASKS_DATE_RE.search(norm) else "name" if _ASKS_NAME_RE.search(norm) else None,
    )
