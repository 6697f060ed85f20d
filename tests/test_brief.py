"""The answer's points and its composed brief (rag/answering/brief.py): the answer first, shaped by the plan's
kind, each line a verbatim clause of the sentence its citation quotes — never a passage."""

from __future__ import annotations

import re

from rag.answering.brief import compose, more_sentences, select_points
from rag.answering.context import AskContext
from rag.answering.plan import read_plan
from rag.answering.verify.binding import bound
from rag.contracts import Evidence
from rag.text.bigrams import BigramIdf, query_grams

TASKS = ("今年重点做好三项工作。一是完成第一批8个镇的公益性公墓升级改造，年底前全部投入使用；"
         "二是推进殡葬领域突出问题专项整治；三是加强殡葬服务机构监管。下半年还将组织一次全面检查。")
WHY = ("由于部分乡镇财政困难，配套资金到位率偏低，导致项目进度滞后。"
       "同时，施工力量不足也影响了工期。为此，县里建立了周调度机制。")


def _passage(i: int, text: str, heading: str = "一、重点工作", start: int = 0) -> Evidence:
    return Evidence(id=i, chunk_id=f"c{i}", report_id=f"r{i}", report_title=f"某县民政局2023年工作计划{i}",
                    source_file=f"f{i}.txt", section_id=f"s{i}", section_path=[heading], line_start=1,
                    line_end=1, char_start=start, char_end=start + len(text), text=text, score=1.0)


def _ctx(question: str, *texts: str) -> AskContext:
    evidence = [_passage(i, t) for i, t in enumerate(texts, start=1)]
    idf = BigramIdf([*texts, "其他无关的文字内容", "工作总结和工作计划"])
    plan = read_plan(question)
    grams = query_grams(question, idf)
    about = " ".join(w for w in (plan.subject, plan.measure) if w)
    ctx = AskContext(question=question, standalone=question, mode="extractive", plan=plan, hits=[],
                     evidence=evidence, grams=grams, subject_grams=query_grams(about, idf) or grams)
    if plan.asks_quantity:
        ctx.bound = bound(plan, evidence, ctx.subject_grams)
    return ctx


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _check_verbatim(text: str, citations) -> None:
    """Every cited line's clause is in the sentence its citation quotes."""
    quotes = {c.n: c.quote for c in citations}
    for line in _lines(text):
        markers = [int(n) for n in re.findall(r"\[(\d+)\]", line)]
        if not markers:
            continue
        clause = re.sub(r"\[\d+\]", "", line).rstrip("。").split("：", 1)[-1]
        clause = re.sub(r"^\d+\. ", "", clause)
        assert any(clause in quotes[n] for n in markers), (clause, quotes)


def test_points_are_sentences_of_the_passages_numbered_from_one():
    ctx = _ctx("今年要完成哪些重点工作？", TASKS, WHY)
    points = select_points(ctx)
    assert [p.id for p in points] == list(range(1, len(points) + 1))
    for p in points:
        source = next(e for e in ctx.evidence if e.source_file == p.source_file)
        assert source.text[p.char_start - source.char_start : p.char_end - source.char_start] == p.text
        assert p.text.count("。") + p.text.count("；") <= 2  # a sentence (and a short one's neighbour)


def test_a_quantity_brief_names_the_subject_then_the_clause_with_the_figure():
    ctx = _ctx("第一批公益性公墓升级改造涉及多少个镇？", TASKS, WHY)
    ctx.points = select_points(ctx)
    text, citations, _ = compose(ctx, ctx.points)
    first = _lines(text)[0]
    assert "8个镇" in first and first.endswith("[1]。")
    assert "：" in first and len(first) < 80  # the subject, then one clause, not the passage
    assert "8个镇" in citations[0].quote
    _check_verbatim(text, citations)


def test_a_list_brief_has_one_cited_item_per_line_in_the_reports_order():
    ctx = _ctx("今年重点做好哪三项工作？", TASKS)
    ctx.points = select_points(ctx)
    text, citations, _ = compose(ctx, ctx.points)
    lines = _lines(text)
    assert lines[0].endswith("：")
    items = [line for line in lines[1:] if re.match(r"\d+\. ", line)]
    assert len(items) >= 3
    assert any("公益性公墓" in i for i in items) and any("专项整治" in i for i in items)
    assert all(re.search(r"\[\d+\]$", i) for i in items)
    assert not any(i.split(". ", 1)[1].startswith(("一是", "二是")) for i in items)  # numbered by us
    _check_verbatim(text, citations)


def test_a_why_brief_is_a_few_cited_sentences():
    ctx = _ctx("项目进度为什么滞后？", WHY, TASKS)
    ctx.points = select_points(ctx)
    text, citations, _ = compose(ctx, ctx.points)
    lines = _lines(text)
    assert 2 <= len(lines) <= 5
    assert "配套资金到位率偏低" in text
    _check_verbatim(text, citations)


def test_a_long_sentence_is_cut_to_its_clauses_about_the_question():
    long = ("会议强调，要坚持以人民为中心的发展思想，统筹发展和安全，扎实推进各项工作，"
            "认真落实上级决策部署，进一步完善工作机制，全年新建农村公路120公里，"
            "改造危桥15座，确保群众出行安全，努力推动交通运输事业高质量发展再上新台阶。")
    ctx = _ctx("全年新建农村公路多少公里？", long)
    ctx.points = select_points(ctx)
    text, citations, _ = compose(ctx, ctx.points)
    first = _lines(text)[0]
    assert "120公里" in first and len(first) < len(long)
    # the point (prompt and citation) is its clauses about the question: contiguous, verbatim
    assert citations[0].quote in long and "120公里" in citations[0].quote and len(citations[0].quote) <= 100
    _check_verbatim(text, citations)


def test_more_sentences_do_not_repeat_the_points():
    ctx = _ctx("今年要完成哪些重点工作？", TASKS, WHY)
    points = select_points(ctx)
    more = more_sentences(ctx, points, 3)
    for m in more:
        assert not any(p.source_file == m.source_file and m.char_start < p.char_end
                       and p.char_start < m.char_end for p in points)


def test_the_lead_is_the_subject_as_the_question_words_it_or_nothing():
    from rag.answering.brief import _lead

    asked = "新建少年宫项目总投资多少万元？"
    assert _lead(read_plan(asked), asked) == read_plan(asked).target  # said so in the question
    # 「哪家民宿被评为…」: a subject cut out of the question word is no lead, and neither is one patched
    # together from two questions' pieces
    for q in ("太湖县文旅体局2023年上半年有哪家民宿被评为国家丙级民宿？",
              "要抓好哪个工业园区的征拆扫尾工作？又依托哪家劳务公司开展产业工人培训？"):
        assert _lead(read_plan(q), q) == ""


def test_a_heading_line_inside_a_passage_is_no_point():
    ctx = _ctx("今年重点做好哪些工作？", "一、2022年上半年工作总结\n" + TASKS)
    assert not any(p.text.startswith("一、2022") for p in select_points(ctx))


def test_the_prompt_shows_the_first_points_within_its_budget():
    from rag.answering.brief import PROMPT_CHARS, prompt_points

    ctx = _ctx("今年重点做好哪三项工作？", TASKS, WHY)
    points = select_points(ctx)
    shown = prompt_points(points)
    assert shown and shown == points[: len(shown)]
    assert len(shown) == 1 or sum(len(p.text) for p in shown) <= PROMPT_CHARS
    long = [p.model_copy(update={"text": "很长的句子。" * 60}) for p in points]
    assert prompt_points(long) == long[:1]  # at least one, however long


ITEMS = ("在总结成绩的同时，也清醒认识到工作中存在的问题和不足：\n"
         "一是组织收入工作面临更大压力。今年房地产行业持续低迷，经济下行压力明显加大。\n二是优化营商环境面临更高标准，服务统筹不到位。\n三是带好干部队伍面临更高期待。")


def _listed(question: str) -> AskContext:
    """A context whose passage holds only item 一's text, and whose section writes the list out."""
    from rag.answering.evidence import ItemList

    body = "今年房地产行业持续低迷，经济下行压力明显加大。"
    ctx = _ctx(question, body)
    at = ITEMS.index(body)
    ctx.evidence = [_passage(1, body, start=at)]
    whole = _passage(1, ITEMS)

    def span(text: str) -> Evidence:
        a = ITEMS.index(text)
        return whole.model_copy(update={"text": text, "char_start": a, "char_end": a + len(text)})

    ctx.item_lists = {"s1": [ItemList(
        lead=span("在总结成绩的同时，也清醒认识到工作中存在的问题和不足："),
        items=[span("一是组织收入工作面临更大压力。"), span("二是优化营商环境面临更高标准，服务统筹不到位。"),
               span("三是带好干部队伍面临更高期待。")], end=len(ITEMS))]}
    return ctx


def test_a_list_written_as_enumerated_sentences_is_answered_with_all_its_items():
    ctx = _listed("工作中存在哪几方面问题？")
    ctx.points = select_points(ctx)
    text, citations, _ = compose(ctx, ctx.points)
    lines = _lines(text)
    assert lines[0].endswith("：") and "问题和不足" in lines[0]  # the sentence announcing them leads
    assert [line.split(". ", 1)[1].split("[")[0] for line in lines[1:]] == [
        "组织收入工作面临更大压力", "优化营商环境面临更高标准，服务统筹不到位", "带好干部队伍面临更高期待"]
    _check_verbatim(text, citations)
    for c in citations:
        assert ITEMS[c.char_start : c.char_end] == c.quote


def test_items_answer_a_question_that_counts_them_not_one_asking_what_a_sentence_names():
    assert len(select_points(_listed("工作中存在哪三方面问题？"))) == 4
    # not a list of three items, nor a question that does not count them
    assert all("是" not in p.text[:2] for p in select_points(_listed("工作中存在哪四方面问题？")))
    assert all("是" not in p.text[:2] for p in select_points(_listed("工作中存在的问题有哪些？")))
