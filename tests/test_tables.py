"""Cross-report questions answered as tables (who / aggregate / compare): the plan's reading, the scan,
the rendering, and the service's rows — real chunks and BM25 over the bundled corpus, fake encoder."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from rag.answering.plan import read_plan
from rag.answering.scan import _names_field
from rag.answering.service import AnswerService
from rag.answering.tables import aligned, csv_text, markdown
from rag.config import AnswerConfig
from rag.contracts import AnswerEvent, RowEvent, Table, TableCell
from rag.corpus import read_source


@pytest.fixture(scope="module")
def service(real_corpus, fake_retriever) -> AnswerService:
    return AnswerService(fake_retriever, real_corpus, None, AnswerConfig())


def _source_slice(corpus, citation) -> str:
    text = read_source(Path(corpus.data_dir) / citation.source_file).text
    return text[citation.char_start:citation.char_end]


# -- the plan ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "kind", "body_kind", "subject"), [
    ("哪些单位提到了安全生产检查？", "who", None, "安全生产检查"),
    ("哪些民政部门在建老年食堂？", "who", "民政", "建老年食堂"),
    ("哪些县级部门提到了乡村振兴？", "who", "县", "乡村振兴"),
    ("哪些乡镇一级的单位提到了人居环境整治？", "who", "乡镇", "人居环境整治"),
    ("哪些报告提到了老年食堂？", "aggregate", None, "老年食堂"),
])
def test_who_and_aggregate_questions_scan_every_report(question, kind, body_kind, subject):
    plan = read_plan(question)
    assert (plan.kind, plan.scope.body_kind, plan.subject) == (kind, body_kind, subject)
    assert plan.scans_reports


def test_a_who_question_about_one_named_body_is_answered_the_ordinary_way():
    plan = read_plan("县水利局有哪些单位参加了防汛演练？")
    assert not plan.scans_reports
    # companies one report lists are a list inside it, not a question across reports
    plan = read_plan("经济开发区新组建的医化集团打算合资成立哪几家公司？")
    assert plan.kind == "list" and not plan.across_reports


@pytest.mark.parametrize(("question", "kind", "subject"), [
    ("哪些法院的判决书把被告人定为交通肇事罪？", "who", "被告人定为交通肇事罪"),
    ("哪几份判决书审理的是挪用公款案？", "aggregate", "审理的是挪用公款案"),
    ("哪些患者被诊断为贫血？", "aggregate", "被诊断为贫血"),
    ("哪些病历提到了磁共振（MRI）检查？", "aggregate", "磁共振或MRI检查"),
    ("哪些患者做过超声检查（包括B超、彩超）？", "aggregate", "过超声检查或B超或彩超"),
    ("哪些公司提到了碳排放？", "who", "碳排放"),
])
def test_documents_people_and_organisations_of_other_genres_are_counted_across_reports(question, kind,
                                                                                     subject):
    plan = read_plan(question)
    assert (plan.kind, plan.subject, plan.scope.body_kind) == (kind, subject, None)
    assert plan.scans_reports


@pytest.mark.parametrize(("question", "compilation", "subject"), [
    ("在《2023年下半年工作计划材料专辑》里，哪些单位提到了防汛？", "2023年下半年工作计划材料专辑", "防汛"),
    ("在局机关汇编里，哪些单位提到了安全生产？", "局机关汇编", "安全生产"),
])
def test_a_compilation_named_in_the_question_is_its_scope_not_its_subject(question, compilation, subject):
    plan = read_plan(question)
    assert (plan.scope.compilation, plan.subject, plan.scope.period) == (compilation, subject, None)
    assert plan.scans_reports


def test_two_sides_named_by_a_person_and_a_court_are_two_courts():
    plan = read_plan("柿园市碧落区法院的茅某某和夕照市晴川区法院的狄某某，两人的刑期各是多少？")
    assert [s.body for s in plan.sides] == ["柿园市碧落区法院", "夕照市晴川区法院"]


@pytest.mark.parametrize(("question", "labels"), [
    ("县水利局和县林业局在安全生产上的做法有何不同？", ["县水利局", "县林业局"]),
    ("两个区财政局在化解隐性债务上的思路有何不同？", ["区财政局", "区财政局"]),
])
def test_a_comparison_has_one_scope_per_side(question, labels):
    plan = read_plan(question)
    assert plan.kind == "compare" and len(plan.sides) == 2
    assert [s.body or s.label for s in plan.sides] == labels


def test_a_field_is_a_word_of_the_body_name_not_a_substring():
    assert _names_field("区民政局", "民政") and _names_field("区卫生健康局", "卫生健康")
    assert not _names_field("县人民政府", "民政")  # 人民|政府, not 民政


# -- rendering --------------------------------------------------------------------------------------------


TABLE = Table(kind="reports", columns=["单位", "原文要点"], rows=[
    [TableCell(text="区民政局"), TableCell(text="巩固提升已建成的老年食堂（助餐点）|二期。", citations=[1])],
    [TableCell(text="县民政局"), TableCell(text="新建\n老年食堂3个，\"助餐\"", citations=[2, 3])],
])


def test_markdown_escapes_pipes_and_keeps_markers():
    lines = markdown(TABLE).splitlines()
    assert lines[0] == "| 单位 | 原文要点 |" and lines[1] == "|---|---|"
    assert lines[2] == "| 区民政局 | 巩固提升已建成的老年食堂（助餐点）\\|二期。[1] |"
    assert lines[3] == '| 县民政局 | 新建 老年食堂3个，"助餐"[2][3] |'  # one line per row


def test_csv_round_trips_through_a_csv_reader():
    rows = list(csv.reader(io.StringIO(csv_text(TABLE))))
    assert rows[0] == ["单位", "原文要点"]
    assert rows[2] == ["县民政局", '新建\n老年食堂3个，"助餐"[2][3]']


def test_aligned_columns_count_chinese_characters_double():
    text = aligned(TABLE, max_width=20)
    head, rule, *rows = text.splitlines()
    start = head.index("原文要点")
    assert all(r[len("区民政局"):].lstrip() for r in rows)
    assert rule.split("  ")[0] == "-" * 8  # 区民政局: 4 wide characters
    assert rows[0].endswith("…") and len(rows) == 2 and start > 0


# -- the service ------------------------------------------------------------------------------------------


def test_who_question_streams_verified_rows_then_a_table_answer(service, real_corpus):
    events = list(service.stream("哪些单位提到了安全生产检查？", mode="extractive"))
    rows = [e for e in events if isinstance(e, RowEvent)]
    answer = events[-1].answer
    assert isinstance(events[-1], AnswerEvent) and not answer.refused and answer.table is not None
    assert len(rows) == len(answer.table.rows) >= 10
    assert answer.answer.startswith(f"共有{len(rows)}份报告提到「安全生产检查」")
    reports = {c.report_id for c in answer.citations}
    assert len(reports) == len(rows)  # one row per report
    for event, cells in zip(rows, answer.table.rows, strict=True):
        assert event.row == cells
        (n,) = cells[3].citations
        (citation,) = event.citations
        assert citation.n == n
        # the cell is the cited clause, verbatim in the source file
        assert cells[3].text == " ".join(_source_slice(real_corpus, citation).split())
    # most rows state safety inspections outright; a few match on part of the subject (「生产…检查」), the
    # precision the scan bar is calibrated for (eval: reports found on cross-dev)
    on_subject = [row for row in answer.table.rows if "安全" in row[3].text]
    assert len(on_subject) >= 0.8 * len(rows)
    assert "| 单位 | 报告 | 时期 | 原文要点 |" in answer.answer


def test_a_kind_of_body_keeps_only_its_reports(service):
    answer = service.ask("哪些民政部门在建老年食堂？", mode="extractive")
    assert not answer.refused and answer.table is not None
    assert {row[0].text for row in answer.table.rows} <= {"区民政局", "县民政局", "市民政局", "民政局"}


def test_tables_need_no_model_and_say_so(real_corpus, fake_retriever):
    class Exploding:
        name = "must-not-run"

        def stream(self, *args, **kwargs):
            raise AssertionError("the table path called the LLM")

    svc = AnswerService(fake_retriever, real_corpus, Exploding(), AnswerConfig())  # type: ignore[arg-type]
    answer = svc.ask("哪些单位提到了安全生产检查？", mode="llm")
    assert answer.table is not None and answer.model is None and "不经LLM" in (answer.fallback or "")


def test_nothing_found_is_refused_with_the_nearest_sections(service):
    answer = service.ask("哪些单位提到了火星移民计划？", mode="extractive")
    assert answer.refused and answer.refusal_code == "off_topic" and answer.table is None


def test_a_compilation_limits_the_rows_and_is_named_in_the_answer(service, real_corpus):
    answer = service.ask("在局机关汇编里，哪些单位提到了安全生产？", mode="extractive")
    assert not answer.refused and answer.table is not None
    title = "各级局机关2023年上半年工作总结暨下半年工作计划材料汇编（6篇）"
    assert answer.answer.startswith(f"在《{title}》中共找到")
    assert {c.source_file for c in answer.citations} == {"002_052bd2239a47e2bc.txt"}


def test_a_compilation_the_library_lacks_is_out_of_scope_with_the_ones_it_has(service):
    answer = service.ask("在2022年防汛汇编里，哪些单位提到了防汛？", mode="extractive")
    assert answer.refused and answer.refusal_code == "out_of_scope"
    assert "2022年防汛汇编" in (answer.refusal_reason or "") and "材料专辑" in (answer.refusal_reason or "")


def test_a_field_in_everyday_words_finds_the_bodies_of_its_official_name(service):
    answer = service.ask("哪些环保部门提到了秸秆禁烧？", mode="extractive")
    assert answer.refusal_code != "out_of_scope"
    assert service.scanner.reports_for(read_plan("哪些环保部门提到了秸秆禁烧？"))
    assert all("生态环境" in (service.scanner.reports[i].issuing_body or "")
               for i in service.scanner.reports_for(read_plan("哪些环保部门提到了秸秆禁烧？")))


def test_a_row_quoting_several_clauses_marks_each(real_corpus):
    from rag.answering.scan import Mention
    from rag.answering.tables import report_rows
    from rag.retrieval.chunking import chunk_corpus

    chunk = next(c for c in chunk_corpus(real_corpus) if c.chunk_type == "text" and len(c.text) > 120)
    report = next(r for r in real_corpus.reports if r.id == chunk.report_id)
    a, b = chunk.char_start, chunk.char_start + 20
    second = Mention(report, chunk, b + 30, b + 60, 0.5, 0.5)
    row = Mention(report, chunk, a, b, 0.9, 0.5, more=(second,), speaker="繁昌区")
    cells, evidence, citations = next(report_rows([row]))
    assert cells[0].text == "繁昌区" and [c.n for c in citations] == [1, 2] and len(evidence) == 2
    assert cells[3].text.endswith("[2]") and "[1]；" in cells[3].text and cells[3].citations == [1, 2]
    assert markdown(Table(kind="reports", columns=["原文要点"], rows=[[cells[3]]])).count("[1]") == 1


def test_a_kind_of_body_the_corpus_lacks_is_out_of_scope(service):
    answer = service.ask("哪些海关部门提到了跨境电商？", mode="extractive")
    assert answer.refused and answer.refusal_code == "out_of_scope"
    assert "海关" in (answer.refusal_reason or "")


def test_comparison_is_a_table_aligned_by_aspect_each_side_from_its_own_report(service, real_corpus):
    answer = service.ask("县水利局和县林业局在安全生产上的做法有何不同？", mode="extractive")
    assert not answer.refused and answer.table is not None and answer.table.kind == "compare"
    assert answer.table.columns == ["方面", "县水利局", "县林业局"]
    by_n = {c.n: c for c in answer.citations}
    for row in answer.table.rows:
        for side, cell in zip(["水利局", "林业局"], row[1:], strict=True):
            for n in cell.citations:
                assert side in by_n[n].report_title  # never the other side's report
                assert cell.text == " ".join(_source_slice(real_corpus, by_n[n]).split())
    assert any(cell.citations for row in answer.table.rows for cell in row[1:2])
    assert any(cell.citations for row in answer.table.rows for cell in row[2:3])


# -- over HTTP --------------------------------------------------------------------------------------------


@pytest.fixture
def client(settings, service):
    from api.app import create_app
    from tests.local_client import local_client

    with local_client(create_app(settings, service=service), raise_server_exceptions=False) as c:
        yield c


def test_sse_streams_row_events_before_the_answer(client):
    from tests.test_api_endpoints import parse_sse

    r = client.post("/v1/ask/stream", json={"question": "哪些民政部门在建老年食堂？"})
    assert r.status_code == 200
    events = parse_sse(r.text)
    names = [name for name, _ in events]
    assert names[0] == "evidence" and names[-1] == "answer" and "token" not in names
    rows = [RowEvent.model_validate(data) for name, data in events if name == "row"]
    final = events[-1][1]["answer"]
    assert rows and [r.row for r in rows] == [Table.model_validate(final["table"]).rows[i]
                                               for i in range(len(rows))]
    assert all(rows[0].columns == r.columns == ["单位", "报告", "时期", "原文要点"] for r in rows)


def test_openai_route_returns_the_table_as_markdown_with_its_sources(client):
    r = client.post("/v1/chat/completions",
                    json={"messages": [{"role": "user", "content": "哪些民政部门在建老年食堂？"}]})
    assert r.status_code == 200, r.text
    body = r.json()
    content = body["choices"][0]["message"]["content"]
    assert "| 单位 | 报告 | 时期 | 原文要点 |" in content and "\n来源：\n[1] " in content
    assert Table.model_validate(body["table"]).rows


def test_openapi_documents_the_row_event(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert "RowEvent" in schemas and "TableCell" in schemas
