"""Answer metrics (eval/answers.py) on hand-built answers: what counts as supported, needed and a claim."""

from __future__ import annotations

from eval.answers import score, summarize
from eval.check_gold import GoldItem, Side, Source
from rag.contracts import Answer, Citation, Table, TableCell

QUOTE_A = "全年共安排审计项目29个，其中市本级审计项目19个。"
QUOTE_B = "完成28个乡镇、334个村点位安装。"


def _citation(n: int, quote: str) -> Citation:
    return Citation(n=n, quote=quote, report_id=f"r{n}", report_title="某局2023年工作总结",
                    source_file="x.txt", section_id=f"s{n}", section_path=["一、主要工作"],
                    line_start=n, line_end=n, char_start=0, char_end=len(quote))


def _item(key_facts: list[str]) -> GoldItem:
    return GoldItem.model_construct(id="q001", question="安排了多少个审计项目？", type="fact",
                                    answerable=True, expected="answer", key_facts=key_facts, sources=[],
                                    notes="test")


def _answer(text: str, *quotes: str) -> Answer:
    q = "安排了多少个审计项目？"
    return Answer(question=q, standalone_question=q, answer=text, refused=False, mode="llm",
                  citations=[_citation(i, quote) for i, quote in enumerate(quotes, 1)])


def test_supported_sentence_with_a_needed_citation():
    r = score(_item(["29个", "市本级审计项目19个"]),
              _answer("全年共安排审计项目29个。[1]\n原文：\n《某局》：「" + QUOTE_A + "」[1]", QUOTE_A))
    assert r.key_fact_recall == 1.0
    assert r.claim_sentences == r.cited_sentences == r.supported_cited == 2  # the 原文 header is no claim
    assert (r.markers, r.markers_needed) == (2, 2)


def test_wrong_number_is_unsupported_and_padding_citations_are_not_needed():
    text = "全年共安排审计项目30个。[1]\n全年共安排审计项目29个。[1][2]"
    r = score(_item(["29个"]), _answer(text, QUOTE_A, QUOTE_B))
    assert r.supported_cited == 1 and r.numbers_ok < r.numbers
    # [1] alone supports the second sentence: it is needed, [2] is not; the first sentence's [1] supports
    # nothing, so it is not needed either
    assert (r.markers, r.markers_needed) == (3, 1)
    s = summarize([r])
    assert s["citation_precision"] == 0.5 and s["citation_needed"] == round(1 / 3, 4)


def test_a_sentence_that_needs_both_citations():
    text = "全年共安排审计项目29个，完成28个乡镇、334个村点位安装。[1][2]"
    r = score(_item(["29个"]), _answer(text, QUOTE_A, QUOTE_B))
    assert r.supported_cited == 1 and (r.markers, r.markers_needed) == (2, 2)


def test_a_key_fact_with_alternatives_counts_when_any_one_is_found():
    facts = ["29个", ["60.39亿", "60.4亿"]]
    rounded = score(_item(facts), _answer("全年共安排审计项目29个，涉及资金60.4亿元。[1]", QUOTE_A))
    assert rounded.key_fact_recall == 1.0 and rounded.facts_found == ["29个", "60.4亿"]
    exact = score(_item(facts), _answer("全年共安排审计项目29个，涉及资金60.39亿元。[1]", QUOTE_A))
    assert exact.key_fact_recall == 1.0 and exact.facts_found == ["29个", "60.39亿"]
    neither = score(_item(facts), _answer("全年共安排审计项目29个。[1]", QUOTE_A))
    assert neither.key_fact_recall == 0.5 and neither.facts_found == ["29个"]
    assert summarize([rounded, neither])["key_fact_recall"] == 0.75


def test_gold_items_with_alternatives_validate_and_score():
    item = GoldItem.model_validate({
        "id": "q001", "question": "安排了多少个审计项目？", "type": "fact", "answerable": True,
        "expected": "answer", "key_facts": [["29个", "二十九个"]], "notes": "test",
        "sources": [{"file": "x.txt", "report_title": "某局2023年工作总结", "section": [], "line": 1,
                     "quote": QUOTE_A}]})
    assert score(item, _answer("安排审计项目二十九个。[1]", QUOTE_A)).key_fact_recall == 1.0


def _typed(type_: str, expected: str, key_facts: list[str], quote: str = "") -> GoldItem:
    from eval.check_gold import Source

    source = Source(file="x.txt", report_title="某局工作总结", section=[], line=1, quote=quote or "x" * 10)
    sources = [source] if quote else []
    return GoldItem.model_construct(id="q002", question="安排了多少个审计项目？", type=type_,
                                    answerable=expected == "answer", expected=expected, key_facts=key_facts,
                                    sources=sources, notes="test", tags=[])


def test_key_facts_on_the_answers_own_sentences_leave_the_excerpts_out():
    text = "全年共安排审计项目30个。[1]\n原文摘录：\n《某局》：「" + QUOTE_A + "」[1]"
    r = score(_item(["29个"]), _answer(text, QUOTE_A))
    assert r.key_fact_recall == 1.0 and r.key_fact_recall_own == 0.0  # a wrong brief above a right excerpt


def test_a_brief_of_quoted_passages_is_a_quote_dump_and_a_header_is_no_claim():
    from eval.answers import quote_dump

    dump = "报告原文中与问题最相关的内容：\n《某局》一、审计：「" + QUOTE_A + "」[1]"
    assert quote_dump(dump) and quote_dump("《某局》一、审计：「" + QUOTE_A + "」[1]")
    brief = "审计项目：全年共安排审计项目30个[1]。\n原文还提到：\n《某局》：「" + QUOTE_A + "」[2]"
    assert not quote_dump(brief)  # quotes under the brief are no dump
    r = score(_item(["30个"]), _answer("审计工作共2项：\n1. 全年共安排审计项目30个[1]", QUOTE_A))
    assert not r.quote_dump and r.claim_sentences == 1  # the header line introduces, it claims nothing


def test_misattached_figures_and_withheld_answers_are_counted():
    # an amount in an answer to an unanswerable item is misattached; one that was refused is not counted
    unanswerable = _typed("unanswerable", "refuse", [])
    r = score(unanswerable, _answer("全年共安排审计项目29个。[1]", QUOTE_A))
    assert r.misattached == ["29个"]
    refused = _answer("报告中没有给出审计项目的具体数字。", QUOTE_A).model_copy(
        update={"refused": True, "refusal_code": "not_stated"})
    assert score(unanswerable, refused).misattached == []
    # a quantity item: an amount in neither the source quote nor a key fact
    quantity = _typed("quantity", "answer", ["29个"], quote=QUOTE_A)
    r = score(quantity, _answer("全年共安排审计项目29个，完成28个乡镇。[1][2]", QUOTE_A, QUOTE_B))
    assert r.misattached == ["28个"]
    withheld = _typed("unanswerable", "withheld", [], quote="共征收水资源费XX万元，同比增长")
    said = _answer("报告未公开水资源费的具体数字：原文为“共征收水资源费XX万元”[1]。", QUOTE_A).model_copy(
        update={"refused": True, "refusal_code": "withheld"})
    s = summarize([score(withheld, said), score(unanswerable, refused)])
    assert s["withheld_stated"] == 1.0 and s["refused_unanswerable"] == 1.0
    assert s["refused_unanswerable_explicit"] == 1.0 and s["misattached_figures"] == 0


# -- tables: reports found, side figures --------------------------------------------------------------


def _side_citation(n: int, quote: str, title: str) -> Citation:
    return Citation(n=n, quote=quote, report_id=title, report_title=title, source_file="x.txt",
                    section_id=f"s{n}", section_path=["一"], line_start=n, line_end=n, char_start=0,
                    char_end=len(quote))


def _table_answer(rows: list[list[TableCell]], citations: list[Citation], columns: list[str]) -> Answer:
    from rag.answering.tables import markdown

    table = Table(kind="compare" if columns[0] == "方面" else "reports", columns=columns, rows=rows)
    q = "问题"
    return Answer(question=q, standalone_question=q, answer="共有2份报告提到「审计」：\n\n" + markdown(table),
                  refused=False, mode="extractive", citations=citations, table=table)


def test_reports_found_against_complete_gold():
    a, b, c = "甲局2023年工作总结", "乙局2023年工作总结", "丙局2023年工作总结"
    item = GoldItem.model_construct(
        id="q1", question="哪些单位提到了审计？", type="aggregate", answerable=True, expected="answer",
        key_facts=["审计项目29个"], complete=True, sides=[], notes="t",
        sources=[Source.model_construct(file="x.txt", report_title=t) for t in (a, b)])
    answer = _table_answer(
        [[TableCell(text="甲局"), TableCell(text=QUOTE_A, citations=[1])],
         [TableCell(text="丙局"), TableCell(text=QUOTE_B, citations=[2])]],
        [_side_citation(1, QUOTE_A, a), _side_citation(2, QUOTE_B, c)], ["单位", "原文要点"])
    r = score(item, answer)
    assert (r.report_recall, r.report_precision) == (0.5, 0.5)
    assert r.claim_sentences == 2  # the cited cells; the header, the rule and the metadata cells are not
    assert r.key_fact_recall == 1.0 and summarize([r])["report_recall"] == 0.5


def test_a_side_figure_counts_as_right_only_in_a_cell_citing_that_sides_report():
    a, b = "甲县2023年工作总结", "乙县2023年工作总结"
    sides = [Side.model_construct(label="甲县", file="x.txt", report_title=a, key_facts=["29个"]),
             Side.model_construct(label="乙县", file="x.txt", report_title=b, key_facts=["28个乡镇"])]
    item = GoldItem.model_construct(
        id="q2", question="甲县和乙县各完成了什么？", type="compare", answerable=True, expected="answer",
        key_facts=["29个", "28个乡镇"], complete=False, sides=sides, notes="t",
        sources=[Source.model_construct(file="x.txt", report_title=t) for t in (a, b)])
    right = _table_answer([[TableCell(text="完成"), TableCell(text=QUOTE_A, citations=[1]),
                            TableCell(text=QUOTE_B, citations=[2])]],
                          [_side_citation(1, QUOTE_A, a), _side_citation(2, QUOTE_B, b)],
                          ["方面", "甲县", "乙县"])
    assert (score(item, right).side_figures, score(item, right).side_figures_right) == (2, 2)
    # the same cells citing the other side's report: the figures are shown, bound to the wrong side
    swapped = right.model_copy(
        update={"citations": [_side_citation(1, QUOTE_A, b), _side_citation(2, QUOTE_B, a)]})
    assert (score(item, swapped).side_figures, score(item, swapped).side_figures_right) == (2, 0)
