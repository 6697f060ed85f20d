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
from rag.text.lexicon import (
    ACROSS_BODIES,
    ACROSS_DOCUMENTS,
    ACROSS_ORGANISATIONS,
    ACROSS_PERSONS,
    GENERIC_TAILS,
    PERIODS,
    PLACE_UNITS,
    QUESTION_BODY_SUFFIXES,
)
from rag.text.normalize import normalize_for_search
from rag.text.question import QuestionFacts, read_question

# -- kinds ------------------------------------------------------------------------------------------------

# 「哪些单位」「哪几个区县」「哪些民政部门」「有几份报告」: the bodies (or reports) across the corpus that
# state something. Group 1 is the kind of body asked about (「民政」), group 2 what is counted.
_WHO_RE = re.compile(
    r"(?:哪些|哪几(?:个|家|份|所|位|名)?|有几份|多少份)"
    r"([\u4e00-\u9fff]{0,4}?)"
    rf"({ACROSS_BODIES}|{ACROSS_ORGANISATIONS}|{ACROSS_DOCUMENTS}|{ACROSS_PERSONS})"
)
_ORGANISATION_RE = re.compile(ACROSS_ORGANISATIONS)
# What a who-question counts when it is reports (or the one person each is about), not bodies.
_REPORT_NOUNS_RE = re.compile(rf"(?:{ACROSS_DOCUMENTS}|{ACROSS_PERSONS})")
# Kinds of body that are administrative levels, not fields: matched against a report's level.
LEVEL_KINDS = {"乡镇": "乡镇", "镇街": "镇街道", "街道": "街道", "社区": "社区村", "村": "村", "县": "县",
               "区": "区", "镇": "镇", "乡": "乡", "区县": "区县", "县区": "区县", "县市区": "区县市"}
# The verbs that carry a who-question to its subject: 「哪些单位|提到了|安全生产检查」, and where they say it
# (「的材料里」「在2023年的工作计划或总结中」).
# (Only the commonest document words here: each alternative is tried at up to 14 positions.)
_WHO_VERB_RE = re.compile(r"(?:的|在)?(?:[^。？?]{0,14}(?:报告|材料|总结|计划|文件|判决书|病历)"
                          r"(?:里|中|内|上|(?=[都也还曾已均明专具重提谈说讲涉部写给记把对将最判被审])))?"
                          r"(?:都|也|还|曾|已|均|明确|专门|具体|重点|正在|曾经)*"
                          r"(?:提到了?|谈到了?|说到了?|讲到了?|提及了?|涉及了?|提出了?|部署了?|写到了?|给出了?|"
                          r"有关于|关于|在|正在|有|把|将|对)?"
                          # what the body does to the subject: 「在|做|防溺水」「开展|反诈」
                          r"(?:做好|抓好|落实好|开展了?|推进|推动|落实|实施|加强|部署|做|搞|抓)?")
# More levels after the first: 「哪些乡镇、街道或村一级的报告」.
# 「乡」 never before 「镇」: 「乡镇」 is read one way only, or a run of them would backtrack exponentially.
_LEVEL_NOUN = r"(?:乡镇|镇街|街道|社区|村|县|区|镇|乡(?!镇))"
_LEVELS_ONLY_RE = re.compile(rf"^(?:[、，,和或及与]?{_LEVEL_NOUN})+$")
_MORE_LEVELS_RE = re.compile(rf"(?:[、，,和或及与]?{_LEVEL_NOUN})+(?:一级|级)?|(?:一级|级)")
_LEVEL_UNIT_RE = re.compile(r"的?(?:单位|部门|机构|政府)")
# 「河长制（河湖长制）」「第五次全国经济普查（五经普）」: another name for the same thing, either counts.
# The name before the bracket is looked at behind (two characters), not captured: a captured run would be
# rescanned from every position of a long run of name characters, quadratic on a long text.
_ALIAS_RE = re.compile(r"(?<=[\u4e00-\u9fffA-Za-z0-9]{2})[（(](?:包括|包含|含|如|即)?([^（）()]{2,12})[）)]")
# 「发放消费券来促进消费」: what follows a purpose word says why, not what is done.
_PURPOSE_RE = re.compile(r"(?:来|用来|用于|以便|从而|进而|以此)"
                         r"(?:促进|推动|提升|提高|保障|实现|加强|带动|解决)")
# 「具体数字」「具体做法」: what kind of statement is wanted, not its subject.
_WANTED_RE = re.compile(r"的?具体(?:数字|数据|数量|情况|做法|内容|措施)$|的?(?:数字|数据)$")
_COMPARE_RE = re.compile(r"相比|比较|对比|有何(?:不同|区别|异同)|有什么(?:不同|区别|异同)|异同|"
                         r"分别|各是|各有|哪个(?:更|多|高|大|少|低)")
_WHY_HOW_RE = re.compile(r"为什么|为何|原因|如何|怎样|怎么|通过什么|靠什么|采取(?:了)?(?:什么|哪些)|"
                         r"措施|做法|举措|办法|方式|思路|途径")
# 「要开展哪些活动」「重点储备哪些领域的项目」: items asked for, answered as a list (not by a section's
# sub-headings, which only 「哪几方面」-like questions ask for: QuestionFacts.enumeration).
_WHICH_RE = re.compile(r"哪些")
_SUMMARY_RE = re.compile(r"总体情况|整体情况|主要成效|主要成绩|概括|概述|总结一下|简要介绍|介绍一下|整体来看")

# -- scope ------------------------------------------------------------------------------------------------

_MONTHS = r"\d{1,2}\s*[-—至到~]\s*\d{1,2}\s*月(?:份)?"  # 「1-10月」
_PERIOD_RE = re.compile(rf"(?:20\d{{2}}\s*年(?:度)?)?(?:{PERIODS}|{_MONTHS})|20\d{{2}}\s*年(?:度)?")
# 「在《2023年下半年工作计划材料专辑》里」「局机关那本汇编中」: one compilation (a file) of the library. Its
# title's words say which; its period and kind words are the compilation's, not the question's scope.
_COMPILATION_END_RE = re.compile(r"(?:专辑|汇编|合集|选编|文集)》?(?:[里中内]|当中|之中)?")
_NOT_IN_COMPILATION = set("《》，,。？? \t\n")
_COMPILATION_CHARS = 30
_KIND_RE = re.compile(r"工作(?:总结|计划|安排|思路|要点)|总结|计划")
# A place named apart from a body: 「枫香塘村」「中华南路街道」「XX镇」: the unit, and the name characters
# before it back to a word that cannot be part of a name (a particle, a verb of assignment, an organ suffix).
_PLACE_UNIT_RE = re.compile(rf"(?:{PLACE_UNITS})(?![村镇街级])"
                            r"(?![\u4e00-\u9fff]{0,3}(?:局|委|办|中心|站|所|振兴|建设|治理|规划))")
_NOT_IN_PLACE_NAME = set("年月的在对和与及驻派局委办科厅署心了是有为从向把要将给个多少几哪什么各每全本该其等"
                         "些万千百、，,。？?（）()")
_LEAD_VERB_RE = re.compile(r"^(?:负责|管辖|位于|地处|包括|来自|推进|建设|有)")
_GENERIC_PLACES = (
    "乡村", "农村", "城乡", "乡镇", "村镇", "城镇", "集镇", "行政村", "自然村", "村社", "村居", "辖区",
    "城区", "园区", "社区", "片区", "景区", "山区", "库区", "全县", "全区", "本县", "本区", "旗县",
    "小区", "校区", "街区", "矿区", "辖区内", "功能区", "示范区", "开发区", "保护区",
)  # fmt: skip

# -- subject and measure ----------------------------------------------------------------------------------

# Asking words and particles: what kind of answer is wanted, not what it is about.
_ASKING_RE = re.compile(
    r"请问|请|一下|具体|分别|主要|大概|大约|一共|总共|"
    r"多少|几|多大|多高|多长|多重|"
    r"有哪些|哪些|哪几|哪个|哪里|哪一?[天年月]|哪|什么|啥|如何|怎样|怎么样|怎么|为什么|为何|是否|有没有|是不是|有何|"
    r"各自|各(?![类项级地部单种个界条])|"
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
    "各自", "各",
    "年底", "年内", "今年", "去年", "明年", "工作", "方面", "情况", "内容", "安排",
)  # fmt: skip
# What a count or amount is counted in (「多少个」「几亩」「多少万元」): dropped with the asking word.
_COUNTERS = "个家项次人所条件名户座台辆处批场期级倍亩吨天元米%套份篇起宗枚场节台株头只"
_END_PARTICLES = ("的", "了", "等", "是", "有", "各")
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


# 「两个区财政局」「各县」「哪些民政部门」: a kind of body, not one body.
_GENERIC_BODY_RE = re.compile(rf"^(?:两个|几个|各|哪些|哪几个|多个|所有|各个)|(?:{GENERIC_TAILS})$|"
                              rf"^在?(?:{ACROSS_ORGANISATIONS})$")  # 「在医院病历里」: no hospital named


# -- the two sides of a comparison, as the question names them -------------------------------------------

# What a side's name ends in: an organ or a place unit (「…的那个市审计局」「…的那个县」「乌市教育系统」).
_SIDE_TAIL = rf"(?:{QUESTION_BODY_SUFFIXES}|县|区|市|镇|乡|村|旗|盟|系统|学校|部门|计划|总结|报告)"
# After the second side's name: the rest of the question (a time word, 「在…上」, 「的…」, 「各」…).
_SIDE_B_END_RE = re.compile(rf"{_SIDE_TAIL}(?=在|的|上半年|下半年|今年|明年|去年|全年|20\d\d|各|分别|有何|"
                            r"有什么|哪个|相比|对比|都|是否|谁)")
_SIDE_NAME_END_RE = re.compile(rf"{_SIDE_TAIL}(?:[（(][^）)]{{0,20}}[）)])?$")  # bounded: linear on any text
# A question that sets two sides against each other: 「各…」「分别」「有何不同」「相比」.
_SIDES_CUE_RE = re.compile(r"各|分别|不同|区别|异同|相比|对比|比较|哪个更|谁更")
_TWO_OF_RE = re.compile(r"^(?:两|二)(?:个|家|份|所)")
# 「池州那个区民政局」「那所中药科技学校」: which one is meant, not part of the name.
_THAT_ONE_RE = re.compile(r"的?那(?:个|所|家|份|位)")


def _side_texts(norm: str) -> tuple[str, str, str] | None:
    """「A和B，上半年各…」 → (A, B, 「，上半年各…」): the sides split at 「，和」 when the question has one
    (「搞沱湖和怀洪新河专项行动的那个县水利局，和…」), else at the first 和/与/跟 that follows a name."""
    sep = re.search(r"[，,](?:和|与|跟|同)", norm)
    if sep is not None:
        a, start = norm[: sep.start()], sep.end()
    else:
        for c in re.finditer(r"和|与|跟|同", norm):
            if _SIDE_NAME_END_RE.search(norm[: c.start()]):
                a, start = norm[: c.start()], c.end()
                break
        else:
            return None
    a = re.split(r"[，,。？?；;]", a)[-1]
    tail = norm[start:]
    stop = re.search(r"[，,。？?；;]", tail)
    b = tail[: stop.start()] if stop else tail
    ends = [m.end() for m in _SIDE_B_END_RE.finditer(b)]
    if ends and not _SIDE_NAME_END_RE.search(b):  # 「B在…上」: B ends at its last name word
        b = b[: ends[-1]]
    a, b = a.strip(), b.strip()
    if not (2 <= len(a) <= 40 and 2 <= len(b) <= 40):
        return None
    # 「城区和乡镇各多少」: parts of one body's figure, not two bodies
    if any(x in _GENERIC_PLACES or _LEVELS_ONLY_RE.match(x) for x in (a, b)):
        return None
    return a, b, tail[len(b):]


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
    who = _WHO_RE.search(norm)
    if who:
        return "aggregate" if _REPORT_NOUNS_RE.fullmatch(who.group(2)) else "who"
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
    if _WHICH_RE.search(norm):
        return "list"
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
        word = re.sub(r"^.*[的在了把对要将]", "", word).strip("各上")
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
                # 「于某某」「张某」: a surname, not an edge word
                if piece.startswith(w) and len(piece) > len(w) and piece[len(w)] != "某":
                    piece, changed = piece[len(w):], True
                # a last character is often part of a word (「存在」「对于」): only particles go
                if piece.endswith(w) and len(piece) > len(w) and (len(w) > 1 or w in _END_PARTICLES):
                    piece, changed = piece[: -len(w)], True
        if len(piece) >= 2 and piece not in _EDGE_WORDS:
            pieces.append(piece)
    return " ".join(dict.fromkeys(pieces))


def _who(norm: str) -> tuple[str | None, str] | None:
    """A who-question's kind of body (「民政」「乡镇」; None for any) and its subject: what follows the
    「哪些…单位」 phrase and its verb, else what precedes it (「安全生产检查在哪些单位的报告里提到」)."""
    m = _WHO_RE.search(norm)
    if m is None:
        return None
    kind_words, noun = m.group(1), m.group(2)
    if _REPORT_NOUNS_RE.fullmatch(noun):  # 「哪些刑事案件」: a kind of document or case, not of body
        kind_words = ""
    kind = LEVEL_KINDS.get(noun) if noun in LEVEL_KINDS and not kind_words else None
    if kind_words:
        kind_words = re.sub(r"^(?:个|家|份|所|的|级)", "", kind_words)
        kind = LEVEL_KINDS.get(kind_words + noun) or (kind_words if len(kind_words) >= 2 else None)
    end = m.end()
    more = _MORE_LEVELS_RE.match(norm, end)
    if more and kind is not None and set(kind) <= set("".join(LEVEL_KINDS.values())):
        kind += "".join(LEVEL_KINDS[x] for x in re.findall(_LEVEL_NOUN, more.group(0)))
        end = more.end()
    if kind is not None and (unit := _LEVEL_UNIT_RE.match(norm, end)):  # 「县级|部门」「乡镇一级|单位」
        end = unit.end()
    after = norm[end:]
    verb = _WHO_VERB_RE.match(after)
    assert verb is not None  # every part of the pattern is optional: it matches the empty string
    after = after[verb.end():]
    after = _PURPOSE_RE.split(after)[0]
    after = _WANTED_RE.sub("", re.sub(r"[？?。！!]+$", "", after))
    # 「河长制（河湖长制）」「反诈、防范电信网络诈骗」: either name, either item, is the subject stated
    after = _ALIAS_RE.sub(r"或\1", after).replace("、", "或")
    subject = _subject(after, []) or _subject(norm[: m.start()], [])
    return kind, subject


def read_plan(question: str) -> QuestionPlan:
    """The plan of ``question`` (a standalone question: follow-ups are rewritten first)."""
    norm = normalize_for_search(question)
    facts = read_question(question)
    compilation = None
    if (c := _COMPILATION_END_RE.search(norm)) is not None:
        # the name runs back from its 汇编/专辑 to a bracket or a mark (read backwards: a pattern that
        # looks forward for the end from every position would rescan a long text)
        start, floor = c.start(), max(0, c.start() - _COMPILATION_CHARS)
        while start > floor and norm[start - 1] not in _NOT_IN_COMPILATION:
            start -= 1
        name = norm[start : c.end()].rstrip("》里中内当之")
        compilation = re.sub(r"^(?:在|从|于|按)|的?那?(?:本|个|份)$", "", name) or name
        lead = 1 if start > 0 and norm[start - 1] == "《" else 0
        norm = norm[: start - lead] + "，" + norm[c.end():]
    period, periods = _periods(norm)
    kind_m = _KIND_RE.search(norm)
    report_kind = None
    if kind_m:
        report_kind = "总结" if "总结" in kind_m.group(0) else "计划" if re.search("计划|安排|思路|要点",
                                                                              kind_m.group(0)) else None
    bodies = [b.text for b in facts.bodies]
    # a bare level (「街道或村」 in 「哪些乡镇、街道或村一级」) names no place
    places = [p for p in _places(norm, bodies) if not _LEVELS_ONLY_RE.match(p)]
    place = places[0] if places else None
    body = bodies[0] if bodies else None
    scope = Scope(body=body, place=place, period=period, report_kind=report_kind, compilation=compilation)
    # one side per named body (or place, or period) when the question sets two against each other
    side_names = bodies if len(bodies) >= 2 else places if len(places) >= 2 else []
    sides = [Scope(body=b if side_names is bodies else None, place=b if side_names is places else None,
                   period=period) for b in side_names]
    if not sides and len(periods) >= 2:
        sides = [Scope(body=body, place=place, period=p) for p in periods]
    named = _side_texts(norm) if _SIDES_CUE_RE.search(norm) else None
    if named is not None:
        # sides named by a description (「推行‘三个五’工作机制的那个市审计局」) or a place: one scope each
        def side(text: str) -> Scope:
            found = [b.text for b in read_question(_THAT_ONE_RE.sub("的", text)).bodies]
            spots = [p for p in _places(text, found) if not _LEVELS_ONLY_RE.match(p)]
            # the label ends with the body's name: what follows it (「宣城市经信局|2023年上半年各新建了…」)
            # is the question's, not the side's
            label = text[: text.rfind(found[-1]) + len(found[-1])] if found and found[-1] in text else text
            return Scope(label=label, body=found[-1] if found else None, place=spots[0] if spots else None,
                         period=_periods(text)[0] or period)
        sides = [side(named[0]), side(named[1])]
    # 「两个区财政局」 is read as one body; in 「两份区财政局…计划」 the count stands before it
    two = _TWO_OF_RE.match(body or "") or (body and re.search(_TWO_OF_RE.pattern[1:] + re.escape(body), norm))
    if named is None and two and body and _SIDES_CUE_RE.search(norm):
        # 「两个区财政局…有何不同」: two reports of one kind of body, one side each (compare.py picks them)
        one = body[two.end():] if _TWO_OF_RE.match(body) else body
        sides = [Scope(body=one, period=period)] * 2
        named = ("", "", norm)
    kind = "compare" if named is not None else _kind(norm, facts, len(sides))
    unscoped = norm
    for part in sorted([*bodies, *places, *periods], key=len, reverse=True):
        unscoped = unscoped.replace(part, "，")
    measure = _measure(unscoped, facts)
    unit_words = [m.group(0) for m in re.finditer(rf"(?:多少|几)(?:万|亿|千|百)?[{_COUNTERS}]?", norm)]
    subject = _subject(named[2] if named is not None and kind == "compare" else norm,
                       [*bodies, *places, *periods, *(m.group(0) for m in _KIND_RE.finditer(norm)),
                        *(facts.premise_numbers), *unit_words,
                        *(re.findall(_TWO_OF_RE.pattern[1:], norm) if kind == "compare" else [])])
    if kind in ("who", "aggregate"):
        # 「池州那个区民政局…在哪些村」「XX镇…完成哪几个村」: one body's (or place's) own list, not a scan —
        # a body named through 「那个」 is named all the same
        own = body or next((b.text for b in read_question(_THAT_ONE_RE.sub("的", norm)).bodies), None)
        if own and not _GENERIC_BODY_RE.search(own):
            scope = scope.model_copy(update={"body": own})
            who_m = _WHO_RE.search(norm)
            if who_m is not None and _ORGANISATION_RE.fullmatch(who_m.group(2)):
                kind = "list"  # 「医化集团…成立哪几家公司」: the companies one report names
        elif not place and (who := _who(unscoped)) is not None:
            body_kind, who_subject = who
            subject = who_subject or subject
            # a kind of body, or a generic one (「各区法院」「在医院」), is no body of the question's own
            generic = body_kind or _GENERIC_BODY_RE.search(scope.body or "")
            scope = scope.model_copy(update={"body_kind": body_kind, "body": None if generic else scope.body})
    return QuestionPlan(
        kind=kind, subject=subject, measure=measure, unit=facts.unit or facts.measure, scope=scope,
        sides=sides if kind == "compare" else [], premises=list(facts.premise_numbers),
        list_size=facts.enumeration_size, facts=facts,
        asks="date" if _ASKS_DATE_RE.search(norm) else "name" if _ASKS_NAME_RE.search(norm) else None,
    )
