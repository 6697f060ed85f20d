"""The parser on the real compilations in data/: counts, titles, noise, section trees, offsets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT
from rag.corpus import Corpus, Report, load_corpus, source_text
from rag.corpus.numbering import parse_marker
from rag.corpus.segment import title_strength

DATA_DIR = PROJECT_ROOT / "data"
EXPECTED_COUNTS = [26, 25, 6, 17, 5]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(DATA_DIR)


def report(corpus: Corpus, ref: str) -> Report:
    return corpus.resolve(ref)


def headings(section) -> list[str]:
    return [child.heading for child in section.children]


def test_report_counts_per_file(corpus: Corpus) -> None:
    assert [len(f.reports) for f in corpus.files] == EXPECTED_COUNTS
    assert len(corpus.reports) == 79
    assert [f.name[:3] for f in corpus.files] == ["000", "001", "002", "003", "004"]


def test_parsing_raises_no_doubts(corpus: Corpus) -> None:
    assert corpus.warnings == []
    assert [f.declared_count for f in corpus.files] == EXPECTED_COUNTS


def test_ids_are_unique_stable_and_readable(corpus: Corpus) -> None:
    ids = [r.id for r in corpus.reports]
    assert len(set(ids)) == len(ids)
    again = load_corpus(DATA_DIR)
    assert [r.id for r in again.reports] == ids
    assert again.content_hash == corpus.content_hash
    for r in corpus.reports:
        assert r.id == f"{Path(r.source_file).stem}-r{r.ordinal:02d}"
        section_ids = [s.id for s in r.iter_sections()]
        assert len(set(section_ids)) == len(section_ids)
        assert section_ids[0] == f"{r.id}-s0"
    para_ids = [p.id for r in corpus.reports for _, p in r.iter_paragraphs()]
    assert len(set(para_ids)) == len(para_ids)


def test_titles_match_table_of_contents(corpus: Corpus) -> None:
    checked = 0
    for f in corpus.files:
        listed = [e.title for e in f.toc if e.title]
        if listed:
            assert [r.title for r in f.reports] == listed, f.name
            checked += 1
        elif f.toc:  # a TOC of bare numbers (file 001) still fixes the count
            assert [e.number for e in f.toc] == list(range(1, len(f.reports) + 1))
    assert checked == 3  # files 000, 003 and 004 list titles


def test_title_lines_and_spot_titles(corpus: Corpus) -> None:
    expected = {
        "000-r1": (56, "2023年下半年工作计划"),
        "000-r26": (497, "镇2023年下半年工作计划"),
        "001-r1": (35, "2023年上半年工作总结和下半年工作安排"),
        "001-r25": (696, "镇2023年上半年工作总结和下半年工作安排"),
        "002-r1": (7, "民政局2023年上半年工作总结"),  # 「##paidbegin##」 was glued to it
        "003-r1": (28, "2023工作总结2024年工作计划"),
        "003-r17": (501, "镇2023年工作总结及2024年工作计划"),
        "004-r5": (128, "县水利局2023年上半年工作总结和下半年工作计划"),
    }
    for ref, (line, title) in expected.items():
        r = report(corpus, ref)
        assert (r.title_line, r.title) == (line, title), ref


def test_every_title_line_is_the_title_in_the_file(corpus: Corpus) -> None:
    for f in corpus.files:
        text = source_text(corpus.source_path(f.reports[0]))
        lines = text.split("\n")
        for r in f.reports:
            assert text[r.title_char_start : r.title_char_end] == r.title
            assert lines[r.title_line - 1].strip() == r.title


def test_no_report_title_is_a_section_heading(corpus: Corpus) -> None:
    titles = {r.title for r in corpus.reports}
    for r in corpus.reports:
        for s in r.iter_sections():
            if s.heading:
                assert s.heading not in titles, (r.id, s.heading)
        # a report must not end inside the next report's title
        assert r.line_end < r.title_line + 1000
    # 「一、2023年上半年工作总结」 is a section of the report, not a new report
    first = report(corpus, "001-r1")
    assert headings(first.root)[0] == "一、2023年上半年工作总结"
    assert sum(1 for r in corpus.reports if r.title.startswith("一、")) == 0


def test_no_paragraph_looks_like_a_missed_report_title(corpus: Corpus) -> None:
    for r in corpus.reports:
        for _, p in r.iter_paragraphs():
            assert title_strength(p.text) == 0 or parse_marker(p.text), (r.id, p.line, p.text)


NOISE = re.compile(r"##paid|素材库|svip|代笔|老船长|哒哒|获取海量公文|^目\s*录")


def test_no_noise_survives(corpus: Corpus) -> None:
    for f in corpus.files:
        toc_lines = {e.line for e in f.toc}
        first_title = f.reports[0].title_line
        for r in f.reports:
            assert not NOISE.search(r.title)
            for _, p in r.iter_paragraphs():
                assert not NOISE.search(p.text), (r.id, p.line, p.text)
                assert p.text and p.text == p.text.strip(" \t\u3000\u2002")
                assert p.line > first_title and p.line not in toc_lines


def test_paywall_marker_inside_a_sentence_is_removed(corpus: Corpus) -> None:
    r = report(corpus, "003-r6")
    p = next(p for _, p in r.iter_paragraphs() if p.line == 181)
    assert "配备移动执法终端设备2部" in p.text


def test_offsets_slice_back_to_every_paragraph(corpus: Corpus) -> None:
    for f in corpus.files:
        text = source_text(DATA_DIR / f.name)
        lines = text.split("\n")
        for r in f.reports:
            previous_end = r.title_char_end
            for section, p in r.iter_paragraphs():
                assert text[p.char_start : p.char_end] == p.text
                assert p.text in lines[p.line - 1]
                assert p.char_start >= previous_end  # document order, no overlap
                previous_end = p.char_end
                assert section.char_start <= p.char_start and p.char_end <= section.char_end
                assert section.line_start <= p.line <= section.line_end
            for s in r.iter_sections():
                for child in s.children:
                    assert s.char_start <= child.char_start and child.char_end <= s.char_end
                    assert child.level == s.level + 1
                    assert child.path[:-1] == s.path


def test_section_tree_000_education(corpus: Corpus) -> None:
    r = report(corpus, "000-r9")  # 教育局: 一、 with 1. items numbered across sections
    assert headings(r.root) == [
        "一、强化党的核心引领，精准把握教育办学方向",
        "二、坚持五育并举，推动教育质量提升",
        "三、坚持均衡发展，不断夯实教育发展基础",
        "四、坚持强德修能，着力建设“四有”教师队伍",
        "五、创新教研教改，全面提升教育治理能力",
    ]
    second = r.root.children[1]
    assert headings(second) == ["5.落实立德树人根本任务，坚持“五育并举”", "6.强化学校内部精细化管理"]
    assert second.children[0].paragraphs[0].kind == "run_in"
    assert second.children[0].id == f"{r.id}-s2.1"
    assert second.children[0].path == [second.heading, second.children[0].heading]
    assert r.n_sections == 22


def test_section_tree_000_inline_enumeration_is_not_sections(corpus: Corpus) -> None:
    r = report(corpus, "000-r1")
    assert r.root.children == []
    texts = [p.text for p in r.root.paragraphs]
    assert len(texts) == 7 and texts[1].startswith("一是进一步深化基层治理工作")


def test_section_tree_000_skipped_levels(corpus: Corpus) -> None:
    r = report(corpus, "000-r6")  # starts at （一）; ① below it
    assert [s.level for s in r.root.children] == [1, 1, 1, 1, 1]
    assert r.root.children[0].heading == "（一）抓实抓细党建工作"
    assert r.root.children[0].numbering_level == 2
    assert headings(r.root.children[2]) == ["①加大人居环境整治力度"]
    assert r.root.children[2].children[0].level == 2


def test_section_tree_000_statistics(corpus: Corpus) -> None:
    r = report(corpus, "000-r4")
    assert len(r.root.paragraphs) == 1 and r.root.paragraphs[0].text.startswith("2023年下半年,XX统计局")
    assert headings(r.root)[0] == "一、继续做好各项常规统计工作"
    for s in r.root.children:
        assert [p.kind for p in s.paragraphs] == ["heading", "text"]


def test_section_tree_001_headings_and_list_items(corpus: Corpus) -> None:
    r = report(corpus, "001-r2")
    assert headings(r.root) == [
        "一、上半年工作回顾",
        "二、存在问题和原因剖析",
        "三、下步工作打算",
        "四、工作建议",
    ]
    problems, causes = r.root.children[1].children
    assert problems.heading == "（一）存在问题" and problems.children == []
    assert [p.kind for p in problems.paragraphs] == ["heading"] + ["item"] * 5
    assert problems.paragraphs[1].marker == "1."
    assert headings(causes) == ["1.市容管理欠缺", "2.管理方式单一", "3.责任压实不紧", "4.管理体系不顺"]
    plan = r.root.children[2]
    assert plan.children == [] and [p.kind for p in plan.paragraphs[1:]] == ["item"] * 7
    assert headings(r.root.children[0])[0] == "（一）推动执法力量下沉"


def test_section_tree_001_medical_insurance(corpus: Corpus) -> None:
    r = report(corpus, "001-r1")
    assert headings(r.root) == ["一、2023年上半年工作总结", "二、2023年下半年工作安排"]
    assert len(r.root.children[0].children) == 6
    assert r.root.children[0].children[0].heading == "(一)学政治、抓D建,D的建设纵深推进"
    assert r.root.children[0].children[0].paragraphs[1].search_text.startswith("一是衷心拥护")


def test_section_tree_001_audit_list(corpus: Corpus) -> None:
    r = report(corpus, "001-r9")
    plan = r.root.children[2]
    assert plan.heading == "三、下半年工作安排" and plan.children == []
    assert [p.kind for p in plan.paragraphs] == ["heading", "text", "item", "item", "item", "item", "item"]


def test_section_tree_002(corpus: Corpus) -> None:
    r = report(corpus, "002-r1")
    assert headings(r.root) == ["一、工作综述", "二、主责主业履职情况", "三、特色及重点、亮点工作"]
    assert headings(r.root.children[1]) == [
        "（一）社会救助",
        "（二）社会治理",
        "（三）社会事务",
        "（四）社会福利",
    ]
    r = report(corpus, "002-r5")
    check = r.root.children[1]
    assert check.children == [] and [p.kind for p in check.paragraphs].count("item") == 4


def test_section_tree_003(corpus: Corpus) -> None:
    r = report(corpus, "003-r1")
    work = r.root.children[0]
    assert headings(work) == [
        "1、防止返贫动态监测及集中排查帮扶工作",
        "2、2022年度巩固拓展脱贫成果同乡村振兴有效衔接考核评估反馈问题整改工作",
        "3、乡村振兴项目推进工作",
        "4、扎实推进脱贫人口及监测对象稳岗就业工作",
    ]
    closing = [p for _, p in r.iter_paragraphs() if p.kind == "closing"]
    assert [p.text for p in closing] == ["XX镇乡村振兴工作站", "2023年11月30日"]
    r = report(corpus, "003-r14")  # unnumbered lead lines stay paragraphs
    first = r.root.children[0].children[0]
    assert first.heading == "（一）污染防治攻坚战有力有序推进"
    assert first.children == [] and first.paragraphs[1].text == "生态环境质量稳步改善"


def test_section_tree_004(corpus: Corpus) -> None:
    r = report(corpus, "004-r5")
    summary, plan = r.root.children
    assert len(summary.children) == 4 and len(summary.children[0].children) == 9
    assert summary.children[0].children[0].heading == "1、皖北地区群众喝上引调水工程"
    assert len(plan.children) == 11 and plan.children[-1].heading == "11、做好政府安排的其他工作"
    r = report(corpus, "004-r1")
    assert headings(r.root)[3] == "四、下一步计划" and len(r.root.children[0].children) == 13


def test_metadata_spot_checks(corpus: Corpus) -> None:
    def meta(ref: str) -> tuple:
        r = report(corpus, ref)
        return r.issuing_body, r.issuing_body_source, r.admin_level, r.periods, r.kind

    assert meta("001-r1") == ("市医保局", "opening", "市", ["2023年上半年", "2023年下半年"], "both")
    assert meta("004-r5") == ("县水利局", "title", "县", ["2023年上半年", "2023年下半年"], "both")
    assert meta("000-r3") == ("XX市XX区税务局", "title", "区", ["2023年下半年"], "计划")
    assert meta("000-r2")[2] == "街道"
    assert meta("001-r5")[:3] == ("驻XX村工作队", "opening", "村")
    assert meta("002-r1")[4] == "总结"
    assert meta("002-r2")[3] == ["2023年下半年", "2024年上半年"]
    assert meta("003-r1")[3:] == (["2023年", "2024年"], "both")
    assert meta("003-r6")[0] == "XX市生态环境局XX分局"  # topic 「法治政府建设」 dropped
    assert meta("003-r11")[0] == "市自然资源局"
    assert meta("000-r1")[0] is None  # generic title, opening names no one
    assert {r.kind for r in corpus.files[0].reports} == {"计划"}
    assert report(corpus, "001-r1").period == "2023年上半年"


def test_search_text_restores_placeholders(corpus: Corpus) -> None:
    paragraphs = [p for r in corpus.reports for _, p in r.iter_paragraphs()]
    assert any("D建" in p.text and "党建" in p.search_text for p in paragraphs)
    wechat = [p for p in paragraphs if "AAA公众号" in p.text]
    assert wechat and all("微信公众号" in p.search_text for p in wechat)
    rating = [p for p in paragraphs if "AAA级旅游景区" in p.text]
    assert rating and all("AAA级旅游景区" in p.search_text for p in rating)
    danger = [p for p in paragraphs if "D级危房" in p.text]
    assert danger and all("D级危房" in p.search_text for p in danger)
    assert report(corpus, "003-r11").search_title.startswith("市自然资源局党风廉政建设")


def test_json_round_trip(corpus: Corpus) -> None:
    copy = Corpus.model_validate_json(corpus.model_dump_json())
    assert copy.get(corpus.reports[40].id) == corpus.reports[40]
    assert copy.reports[40].n_sections == corpus.reports[40].n_sections
