"""Refusals: a sentence that says the material lacks something (「材料未提及…」) needs no citation."""

from __future__ import annotations

import re

from rag.answering.verify.support import content_segments

# Saying the material lacks something. The subject is required: 「检查中未查到违规问题」 is a claim, and so
# is 「市政府文件未明确补助标准」; only the material given to the model (材料, 资料, 报告, 原文 …) refuses.
_SOURCE = r"(?:材料|资料|报告(?!期)|原文|文中|文档|所给|给定|提供的|证据|检索结果|上下文)"
_REFUSAL_RE = re.compile(
    rf"{_SOURCE}[^。！？!?;；]{{0,20}}?(?:并未|并没有|没有|未|没|不|无)"
    r"(?:提及|提到|涉及|包含|记载|载明|披露|给出|列出|说明|介绍|显示|提供|找到)"
    r"|(?:未|没有)(?:找到|检索到|查到|查询到)(?:相关|有关|具体)?的?(?:信息|内容|资料|数据|记载|说明|答案)"
    rf"|无法(?:从|根据|依据)?[^。！？!?;；]{{0,8}}?{_SOURCE}[^。！？!?;；]{{0,8}}?"
    r"(?:确定|判断|回答|得知|获知|确认|得出)"
    r"|无法回答"
    r"|(?:没有|无|缺乏)(?:相关|具体|有关|关于)[^。！？!?;；,，]{0,20}?(?:信息|内容|数据|记载|说明|资料)"
)
# Clauses around a refusal that belong to it: a fronted topic (「关于2024年的安排，材料未提及」) and, once
# the subject is given, a bare negation (「根据材料，未提及具体金额，无法回答」).
_TOPIC_RE = re.compile(r"^(?:关于|对于|至于|针对|就)")
_NEGATION_RE = re.compile(
    r"^(?:也|均|都|并|因此|所以|故)?(?:并未|并没有|没有|未|无|不)"
    r"(?:提及|提到|涉及|包含|记载|载明|披露|给出|列出|说明|介绍|显示|提供|找到)"
    r"|^(?:因此|所以|故)?无法"
)
_CONTRAST_RE = re.compile(r"^(?:但是|但|不过|然而|只是|仅|而|可)")
_CLAUSE_SPLIT_RE = re.compile(r"[,，;；:：]")


def refusal_split(norm: str) -> tuple[bool, str | None]:
    """(is a refusal, the claims it carries or None).

    A sentence is a refusal when one of its clauses says the material lacks something and every other
    clause is a fronted topic, a further refusal or empty. Other clauses are claims and are returned
    (without a leading 「但」) to be checked: 「报告未提及金额，但争取1.5亿元奖励」 → 「争取1.5亿元奖励」.
    """
    if not _REFUSAL_RE.search(norm):
        return False, None
    claims = []
    for clause in _CLAUSE_SPLIT_RE.split(norm):
        clause = clause.strip()
        if (_REFUSAL_RE.search(clause) or _TOPIC_RE.match(clause) or _NEGATION_RE.match(clause)
                or not content_segments(clause)):
            continue
        claims.append(_CONTRAST_RE.sub("", clause))
    return (False, "，".join(claims)) if claims else (True, None)
