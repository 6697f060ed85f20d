"""Chunks follow the section tree, keep exact offsets, and carry normalised context."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.corpus import load_corpus, source_text
from rag.retrieval.chunking import ChunkConfig, chunk_corpus, fixed_chunks, sentence_spans

FIXTURES = Path(__file__).parent / "fixtures" / "corpus"


@pytest.fixture(scope="module")
def real_chunks(real_corpus):
    return chunk_corpus(real_corpus)


def test_chunk_text_is_the_exact_source_slice_with_right_lines(real_corpus, real_chunks):
    texts = {f.name: source_text(Path(real_corpus.data_dir) / f.name) for f in real_corpus.files}
    for c in real_chunks:
        src = texts[c.source_file]
        if c.chunk_type == "outline":  # headings of sub-sections, each a verbatim piece of the source
            assert c.text == "\n".join(src[a:b] for a, b in c.parts)
            assert all("\n" not in src[a:b] for a, b in c.parts)
        else:
            assert src[c.char_start : c.char_end] == c.text and c.parts == [(c.char_start, c.char_end)]
        assert src.count("\n", 0, c.char_start) + 1 == c.line_start
        assert src.count("\n", 0, c.char_end - 1) + 1 == c.line_end


def test_chunks_never_cross_a_report_or_section(real_corpus, real_chunks):
    texts = {f.name: source_text(Path(real_corpus.data_dir) / f.name) for f in real_corpus.files}
    assert any(c.chunk_type == "outline" for c in real_chunks)
    for c in real_chunks:
        report = real_corpus.get(c.report_id)
        src = texts[c.source_file]
        if c.chunk_type == "outline":
            # the headings of the section's sub-sections, one per line, in order, each on its own line
            section = report.section(c.section_id)
            lines = c.text.split("\n")
            child_lines = [child.line_start for child in section.children]
            assert 2 <= len(lines) <= len(child_lines) and len(c.parts) == len(lines)
            starts = [src.count("\n", 0, a) + 1 for a, _ in c.parts]
            assert starts == sorted(starts) and set(starts) <= set(child_lines), (c.chunk_id, starts)
            assert starts[0] == child_lines[0] == c.line_start
            continue
        section = report.section(c.section_id)
        assert section.path == c.section_path
        assert report.title_line <= c.line_start <= c.line_end <= report.line_end
        assert section.line_start <= c.line_start and c.line_end <= section.line_end


def test_sizes_are_bounded_and_every_body_paragraph_is_covered(real_corpus, real_chunks):
    cfg = ChunkConfig()
    assert all(len(c.text) <= cfg.max_chars for c in real_chunks)
    spans: dict[str, list[tuple[int, int]]] = {}
    for c in (c for c in real_chunks if c.chunk_type == "text"):
        spans.setdefault(c.report_id, []).append((c.char_start, c.char_end))
    for report in real_corpus.reports:
        for _, p in report.iter_paragraphs():
            if p.kind == "heading":
                continue
            covered = [(a, b) for a, b in spans.get(report.id, []) if a < p.char_end and p.char_start < b]
            assert covered, f"paragraph {p.id} is in no chunk"
            assert min(a for a, _ in covered) <= p.char_start and max(b for _, b in covered) >= p.char_end


def test_chunk_ids_are_unique_and_stable(real_corpus, real_chunks):
    ids = [c.chunk_id for c in real_chunks]
    assert len(ids) == len(set(ids))
    assert [c.chunk_id for c in chunk_corpus(real_corpus)] == ids


def test_long_paragraph_is_cut_at_sentence_ends_with_overlap():
    text = "".join(f"第{i}句讲的是一件具体的事情，内容比较长，需要完整保留。" for i in range(1, 13))
    spans = sentence_spans(text, max_chars=100)
    assert all(b - a <= 100 for a, b in spans)
    assert all(text[b - 1] == "。" for _, b in spans)
    assert "".join(text[a:b] for a, b in spans) == text


def test_inline_enumeration_and_hard_cut_when_no_punctuation():
    text = "全面推进重点工作，一是加强组织领导压实各方责任，二是完善制度机制，三是强化督查考核确保落实到位"
    spans = sentence_spans(text, max_chars=30, min_piece=1)
    pieces = [text[a:b] for a, b in spans]
    assert any(p.startswith("二是") for p in pieces) and any(p.startswith("三是") for p in pieces)
    blob = "无标点" * 100
    spans = sentence_spans(blob, max_chars=50)
    assert all(b - a <= 50 for a, b in spans) and spans[-1][1] == len(blob)


def test_placeholders_are_normalised_for_search_but_kept_for_display(tmp_path):
    corpus = load_corpus(FIXTURES)
    chunks = chunk_corpus(corpus, ChunkConfig(max_chars=80))
    c = next(c for c in chunks if "D建" in c.text and "水利局" in c.report_title)
    assert "党建" in c.search_text and "D建" not in c.search_text
    w = next(c for c in chunks if "AAA公众号" in c.text)
    assert "微信公众号" in w.search_text and "AAA" not in w.search_text
    # The context carries report title and section path for BM25.
    assert "水利局" in c.context and "下半年工作计划" in c.context
    assert c.embed_title.startswith("XX县水利局2023年上半年工作总结和下半年工作计划")


def test_outline_chunk_lists_the_headings_of_sub_sections(real_corpus, real_chunks):
    report = next(r for r in real_corpus.reports if len(r.root.children) >= 3)
    [outline] = [c for c in real_chunks if c.chunk_type == "outline" and c.section_id == report.root.id]
    lines = outline.text.split("\n")
    for child, line in zip(report.root.children, lines, strict=False):
        assert child.heading and line.startswith(child.heading[:6])
    assert outline.line_start == report.root.children[0].line_start


def test_fixed_baseline_chunks_are_blind_400_character_windows(real_corpus):
    chunks = fixed_chunks(real_corpus, 400)
    assert all(len(c.text) <= 400 for c in chunks)
    assert sum(len(c.text) for c in chunks) >= 0.95 * sum(
        len(source_text(Path(real_corpus.data_dir) / f.name)) for f in real_corpus.files
    )
