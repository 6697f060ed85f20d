"""Hybrid retrieval on the real corpus with a fake encoder: BM25 does the work, fusion must keep it."""

from __future__ import annotations

import numpy as np
import pytest

from rag.errors import RagError
from rag.retrieval.bm25 import BM25, tokenize
from rag.retrieval.retriever import Filters


@pytest.fixture
def retriever(fake_retriever):
    """Real chunks and BM25 over the bundled corpus, fake encoder (conftest; built once per session)."""
    return fake_retriever


def test_bm25_scores_by_hand():
    bm = BM25([["水利", "资金"], ["资金", "资金", "监管"], ["教育"]])
    s = bm.scores(["监管"])
    assert s[1] > 0 and s[0] == 0 and s[2] == 0
    assert np.all(bm.scores(["未知词"]) == 0)


def test_tokenize_drops_punctuation_and_stopwords():
    toks = tokenize("县水利局的资金管理，有什么安排？")
    assert "水利局" in toks and "资金" in toks
    assert "的" not in toks and "，" not in toks and "什么" not in toks


def test_named_body_and_topic_find_the_section(retriever):
    hits = retriever.search("县水利局下半年在资金管理上有什么安排？", k=5)
    assert any("水利" in h.report_title and "资金" in h.text for h in hits[:3])
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


def test_user_words_match_placeholders_in_text(retriever):
    hits = retriever.search("党建引领", k=10, mode="bm25")
    assert any("D建" in h.text for h in hits)


def test_one_hit_per_section(retriever):
    hits = retriever.search("统计局 统计执法 数据质量", k=20)
    sections = [(h.section_id, h.chunk_type) for h in hits]
    assert len(sections) == len(set(sections))


def test_filters_restrict_to_matching_reports(retriever, real_corpus):
    hits = retriever.search("工作计划", k=20, filters=Filters(body="统计局"))
    bodies = [h.report_title + (real_corpus.get(h.report_id).issuing_body or "") for h in hits]
    assert hits and all("统计局" in b for b in bodies)
    some = real_corpus.reports[3]
    hits = retriever.search("工作", k=5, filters=Filters(report_id=some.id))
    assert hits and {h.report_id for h in hits} == {some.id}
    assert retriever.search("工作", k=5, filters=Filters(report_id="no-such-report")) == []


def test_empty_query_is_a_clear_error(retriever):
    with pytest.raises(RagError, match="empty"):
        retriever.search("   ")


def test_half_year_conflict_reads_the_section_path():
    from rag.retrieval.retriever import half_year_conflict

    assert half_year_conflict("市审计局2023年下半年要开展哪些审计？", ["一、上半年工作情况", "（一）审计"])
    assert not half_year_conflict("市审计局2023年下半年要开展哪些审计？", ["三、下半年工作安排"])
    # No half named on one side, or both halves named: nothing to hold against the section.
    assert not half_year_conflict("市审计局2023年下半年要开展哪些审计？", ["二、存在问题"])
    assert not half_year_conflict("市审计局今年要开展哪些审计？", ["一、上半年工作情况"])
    assert not half_year_conflict("上半年和下半年有何不同？", ["一、上半年工作情况"])


def test_a_section_about_the_other_half_year_is_ranked_below(retriever):
    """Same report, same topic: the 下半年 question prefers the 下半年 section over the 上半年 one."""
    q = "XX区供销社2023年下半年工作安排"
    hits = retriever.search(q, k=10)
    halves = [h.section_path[0] for h in hits if h.section_path and "半年" in h.section_path[0]]
    assert halves and "下半年" in halves[0]


def test_enumeration_question_puts_the_top_sections_outline_first(retriever):
    from rag.retrieval.retriever import hit_of
    from rag.text.question import asks_enumeration

    chunks = retriever.index.chunks
    outlined = {c.section_id for c in chunks if c.chunk_type == "outline"}
    text = next(c for c in chunks if c.chunk_type == "text" and c.section_id in outlined)
    plain = next(c for c in chunks if c.chunk_type == "text" and c.section_id not in outlined)
    allowed = np.ones(len(chunks), dtype=bool)

    def hit(c):
        return hit_of(c, rank=1, score=1.0)

    out = retriever.outline_first([hit(text), hit(plain)], allowed, None, None)
    assert out[0].chunk_type == "outline" and out[0].section_id == text.section_id
    assert [h.chunk_id for h in out[1:]] == [text.chunk_id, plain.chunk_id]
    unchanged = retriever.outline_first([hit(plain), hit(text)], allowed, None, None)
    assert unchanged[0].chunk_id == plain.chunk_id  # only the top hit's section counts
    assert asks_enumeration("2023年下半年计划重点做好哪几方面工作？")
    assert asks_enumeration("2024年计划重点抓好哪“三项工作”？")
    assert not asks_enumeration("哪些单位提到了口袋公园？") and not asks_enumeration("建成了几个社工站？")


def test_period_conflict_reads_years_as_well_as_halves():
    from rag.retrieval.retriever import period_conflict

    assert period_conflict("某镇2024年工作计划包括哪几项重点？", ["一、2023年工作情况"])
    assert not period_conflict("某镇2024年工作计划包括哪几项重点？", ["二、2024年工作计划"])
    assert not period_conflict("某镇2024年工作计划包括哪几项重点？", ["二、存在问题"])
    assert not period_conflict("2023年和2024年有何不同？", ["一、2023年工作情况"])
    assert period_conflict("市审计局2023年下半年要开展哪些审计？", ["一、上半年工作情况"])
