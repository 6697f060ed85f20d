"""The parser on small hand-made files: each layout, encoding and malformed case it must handle."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from rag.corpus import SourceFile, load_corpus, parse_bytes, parse_file, source_text
from rag.errors import CorpusError, ReportNotFound, SectionNotFound

FIXTURES = Path(__file__).parent / "fixtures" / "corpus"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def outline(source: SourceFile) -> list[tuple[str, int, list[str | None]]]:
    """Comparable view of a parse: titles, title lines and every section heading."""
    return [(r.title, r.title_line, [s.heading for s in r.iter_sections()]) for r in source.reports]


def assert_offsets_slice_back(source: SourceFile, text: str) -> None:
    for r in source.reports:
        assert text[r.title_char_start : r.title_char_end] == r.title
        for _, p in r.iter_paragraphs():
            assert text[p.char_start : p.char_end] == p.text


def test_compilation_without_table_of_contents() -> None:
    source = parse_file(FIXTURES / "no_toc.txt")
    assert source.warnings == []
    assert source.toc == []
    assert source.compilation_title == "各部门2023年上半年工作总结汇编（3篇）"
    assert source.declared_count == 3
    assert [(r.title_line, r.title) for r in source.reports] == [
        (6, "XX县水利局2023年上半年工作总结和下半年工作计划"),  # 「##paidbegin##」 glued to it
        (21, "2023年上半年工作总结和下半年工作安排"),
        (31, "镇2023年上半年工作总结和下半年工作安排"),
    ]
    water, medical, town = source.reports
    assert [s.heading for s in water.root.children] == ["一、2023年上半年工作总结", "二、下半年工作计划"]
    assert [s.heading for s in water.root.children[0].children[0].children] == [
        "1、中型灌区续建配套项目",
        "2、小型水库维修养护项目",
    ]
    plan = water.root.children[1]
    assert plan.children == [] and [p.kind for p in plan.paragraphs] == ["heading", "item", "item", "item"]
    assert "配移动执法终端设备2部" in water.root.children[0].children[0].children[1].paragraphs[0].text
    assert (medical.issuing_body, medical.issuing_body_source) == ("市医保局", "opening")
    assert (town.issuing_body, town.admin_level) == ("XX镇", "镇")
    last = [p.text for _, p in town.iter_paragraphs()][-1]
    assert last == "加大招商引资力度，持续优化营商环境。"  # the trailing adverts are gone
    assert_offsets_slice_back(source, source_text(FIXTURES / "no_toc.txt"))


def test_single_report_file() -> None:
    source = parse_file(FIXTURES / "single_report.txt")
    assert source.compilation_title is None and source.toc == [] and source.warnings == []
    (r,) = source.reports
    assert (r.id, r.ordinal, r.title_line, r.compilation_title) == ("single_report-r01", 1, 1, None)
    assert (r.issuing_body, r.admin_level, r.periods, r.kind) == (
        "XX区统计局",
        "区",
        ["2024年第一季度"],
        "总结",
    )
    # Starts at （一）: that is level 1; 1. and ① below it are level 2.
    top = r.root.children
    assert [(s.heading, s.level, s.numbering_level) for s in top] == [
        ("（一）夯实统计基础", 1, 2),
        ("（二）做好常规统计", 1, 2),
        ("（三）存在的问题", 1, 2),
    ]
    assert [(s.heading, s.level) for s in top[1].children] == [("①农业统计", 2), ("②工业统计", 2)]
    assert top[0].children[1].paragraphs[0].text == "2.规范数据审核。一是建立审核台账。二是开展数据核查。"
    assert [p.kind for p in top[2].paragraphs] == ["heading", "item", "item", "item", "closing", "closing"]
    assert r.root.paragraphs[0].line == 3 and r.line_end == 16
    assert r.section(f"{r.id}-s2.1").path == ["（二）做好常规统计", "①农业统计"]
    with pytest.raises(SectionNotFound):
        r.section(f"{r.id}-s9")


def test_table_of_contents_with_repeated_titles() -> None:
    source = parse_file(FIXTURES / "toc_titles.txt")
    assert source.warnings == []
    assert [(e.line, e.title, e.page) for e in source.toc] == [
        (8, "镇2023年工作总结及2024年工作计划", 2),
        (9, "县民政局2023年工作总结及2024年工作计划", 5),
        (10, "镇2023年工作总结及2024年工作计划", 9),
    ]
    assert [r.title_line for r in source.reports] == [13, 22, 32]
    assert [r.title for r in source.reports] == [e.title for e in source.toc]
    first, civil, last = source.reports
    assert first.id != last.id and first.title == last.title
    # 「一、2023年工作总结」 is a section heading, not a new report
    assert [s.heading for s in first.root.children] == ["一、2023年工作总结", "二、2024年工作计划"]
    assert [s.heading for s in civil.root.children[0].children] == [
        "（一）围绕“兜底保障”，写好暖心救助文章",
        "（二）围绕“幸福颐养”，写好品质养老文章",
    ]


def test_indented_layout_with_glued_page_numbers() -> None:
    source = parse_file(FIXTURES / "indented.txt")
    assert source.warnings == []
    assert [(e.number, e.title, e.page) for e in source.toc] == [
        (1, "2023年下半年工作计划", 3),
        (2, "XX街道2023年下半年工作计划", 5),
    ]
    plan, street = source.reports
    assert plan.root.children == [] and len(plan.root.paragraphs) == 3  # 一是… stays inline
    # An indented 「2024年工作计划」 inside the body is not a new report: titles here are not indented.
    assert [p.text for p in street.root.children[1].paragraphs][-1] == "2024年工作计划"
    assert street.root.paragraphs == [] and street.root.children[0].paragraphs[0].kind == "run_in"
    assert_offsets_slice_back(source, source_text(FIXTURES / "indented.txt"))


@pytest.mark.parametrize("name", ["no_toc.txt", "toc_titles.txt", "indented.txt", "single_report.txt"])
@pytest.mark.parametrize(
    "variant",
    ["bom", "gbk", "gb18030", "crlf", "crlf_bom", "cr"],
)
def test_encodings_and_newlines_parse_the_same(tmp_path: Path, name: str, variant: str) -> None:
    text = fixture_text(name)
    data = {
        "bom": codecs.BOM_UTF8 + text.encode("utf-8"),
        "gbk": text.encode("gbk"),
        "gb18030": text.encode("gb18030"),
        "crlf": text.replace("\n", "\r\n").encode("utf-8"),
        "crlf_bom": codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode("utf-8"),
        "cr": text.replace("\n", "\r").encode("utf-8"),
    }[variant]
    path = tmp_path / name
    path.write_bytes(data)
    expected = parse_file(FIXTURES / name)
    got = parse_file(path)
    assert outline(got) == outline(expected)
    assert [r.id for r in got.reports] == [r.id for r in expected.reports]
    assert_offsets_slice_back(got, source_text(path))


def test_part_heading_without_numbering_does_not_split_a_report() -> None:
    # No blank lines, no indentation: layout says nothing, so 「2024年工作计划」 is judged by meaning.
    text = (
        "XX县统计局2023年工作总结和2024年工作计划\n"
        "今年以来，县统计局坚持依法统计。\n"
        "2023年工作总结\n"
        "完成各类统计调查任务。\n"
        "2024年工作计划\n"
        "做好第五次全国经济普查。\n"
        "XX县审计局2023年工作总结\n"
        "2023年，县审计局完成审计项目20个。\n"
    )
    source = parse_bytes(text.encode("utf-8"), "plain.txt")
    assert [r.title for r in source.reports] == [
        "XX县统计局2023年工作总结和2024年工作计划",
        "XX县审计局2023年工作总结",
    ]
    assert [p.text for p in source.reports[0].root.paragraphs][1:4] == [
        "2023年工作总结",
        "完成各类统计调查任务。",
        "2024年工作计划",
    ]


def test_table_of_contents_corrects_a_missed_title() -> None:
    # Titles are set apart by blank lines, but the third one is not: the TOC still finds it.
    text = (
        "工作总结汇编（3篇）\n\n目录\n\n县林业局2023年工作总结\t1\n县水利局2023年工作总结\t2\n"
        "县民政局2023年工作总结\t3\n\n\n"
        "县林业局2023年工作总结\n全年完成造林XX亩。\n\n\n"
        "县水利局2023年工作总结\n全年完成水利投资XX亿元。\n一、主要工作\n防汛无事故。\n"
        "县民政局2023年工作总结\n今年以来，县民政局兜牢民生底线。\n"
    )
    source = parse_bytes(text.encode("utf-8"), "guided.txt")
    assert [r.title_line for r in source.reports] == [10, 14, 18]
    assert source.warnings == [
        "guided.txt: title detection found 2 reports; followed the table of contents (3 titles)"
    ]


def test_mismatches_with_table_of_contents_and_count_are_reported() -> None:
    text = (
        "工作总结汇编（3篇）\n目录\n县林业局2023年工作总结\t1\n县水利局2023年工作总结\t3\n\n\n"
        "县林业局2023年工作总结\n\n全年完成造林XX亩。\n\n\n"
        "县民政局2023年工作总结\n\n今年以来，县民政局兜牢民生底线。\n"
    )
    source = parse_bytes(text.encode("utf-8"), "odd.txt")
    assert [r.title for r in source.reports] == ["县林业局2023年工作总结", "县民政局2023年工作总结"]
    assert (
        "odd.txt:4: the table of contents lists 「县水利局2023年工作总结」 but no report has that title"
        in (source.warnings)
    )
    assert any(
        w.startswith("odd.txt:12: report 「县民政局2023年工作总结」 is not in") for w in source.warnings
    )
    assert "odd.txt: the compilation announces 3 reports, found 2" in source.warnings


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", r"^empty\.txt:1: the file has no text"),
        (b"\n\n##paidbegin##\n\n##paidend##\n", r"^empty\.txt:1: the file has no text"),
        (
            "今年以来，我局认真贯彻落实各项决策部署，取得了一定成绩。\n下一步将继续努力。\n".encode(),
            r"^empty\.txt:1: no report title found",
        ),
        (b"ok\n\x81\x30\x81\xff\n", r"^empty\.txt:2: cannot decode"),
    ],
)
def test_malformed_input_names_file_and_line(data: bytes, message: str) -> None:
    with pytest.raises(CorpusError, match=message):
        parse_bytes(data, "empty.txt")


def test_title_without_text_is_flagged() -> None:
    text = "县林业局2023年工作总结\n\n全年完成造林XX亩。\n\n\n县水利局2023年工作总结\n"
    source = parse_bytes(text.encode("utf-8"), "cut.txt")
    assert len(source.reports) == 1
    assert source.warnings == [
        "cut.txt:6: 「县水利局2023年工作总结」 looks like a report title but no text follows it; "
        "kept as text of the report before it"
    ]


def test_title_without_kind_word_is_accepted_with_a_warning() -> None:
    source = parse_bytes("XX县情况说明\n今年全县经济运行平稳。\n".encode(), "note.txt")
    assert [r.title for r in source.reports] == ["XX县情况说明"]
    assert source.warnings == [
        "note.txt:1: no line looks like a report title; taking 「XX县情况说明」 as the title"
    ]


def test_load_corpus_orders_files_and_hashes_content(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_bytes(fixture_text("single_report.txt").encode("gbk"))
    (tmp_path / "a.txt").write_text(fixture_text("toc_titles.txt"), encoding="utf-8")
    (tmp_path / "notes.md").write_text("not a report", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert [f.name for f in corpus.files] == ["a.txt", "b.txt"]
    assert [r.id for r in corpus.reports] == ["a-r01", "a-r02", "a-r03", "b-r01"]
    assert corpus.resolve("a-r2").title == "县民政局2023年工作总结及2024年工作计划"
    assert corpus.resolve("b-r01").source_file == "b.txt"
    report, section = corpus.find_section("a-r02-s1.2")
    assert report.id == "a-r02" and section.heading == "（二）围绕“幸福颐养”，写好品质养老文章"
    with pytest.raises(ReportNotFound):
        corpus.get("a-r09")
    before = corpus.content_hash
    assert load_corpus(tmp_path).content_hash == before
    (tmp_path / "b.txt").write_bytes(fixture_text("single_report.txt").encode("utf-8"))
    assert load_corpus(tmp_path).content_hash != before


def test_load_corpus_needs_report_files(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"no \.txt report files"):
        load_corpus(tmp_path)
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "missing")


def test_a_document_with_text_before_a_title_like_heading_is_one_document() -> None:
    # A judgment: its first line titles it (no kind word), and a numbered Markdown heading that ends in
    # 报告 deep in its text is a heading of it, not the next report; nothing before it is lost.
    text = ("# 烟波市青田区人民法院\n\n被告人严某，女，无固定职业。\n\n## 证据描述\n\n"
            "### 3. 被盗物品清单及估价报告\n\n物品总价值约12000元。\n\n病历摘要\n\n患者入院时体温37.5℃。\n")
    source = parse_bytes(text.encode("utf-8"), "law.txt")
    assert [r.title for r in source.reports] == ["烟波市青田区人民法院"]
    body = "".join(p.text for _, p in source.reports[0].iter_paragraphs())
    assert "被告人严某" in body and "12000元" in body
    # A compilation's front matter (title, count, contents) is not body text: its reports still split.
    compilation = ("工作总结汇编（2篇）\n\n县林业局2023年工作总结\n\n全年完成造林100亩。\n\n"
                   "县水利局2023年工作总结\n\n全年新修水渠3条。\n")
    assert len(parse_bytes(compilation.encode("utf-8"), "c.txt").reports) == 2
