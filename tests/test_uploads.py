"""What a file must pass before it enters the library (library/uploads.py): bounded .docx reading and clean,
short names. The attacks here were found by a hostile-client review (issue 13)."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from rag.library.uploads import (
    MAX_NAME_BYTES,
    IngestError,
    IngestTooLarge,
    check_name,
    clean_name,
    docx_text,
)
from tests import hostile

LIMIT = 10_000_000  # the default per-file limit


def test_a_real_docx_gives_paragraphs_and_table_rows_in_document_order(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("县林业局2025年工作计划")
    document.add_paragraph("一、森林防火")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "项目", "目标"
    table.cell(1, 0).text, table.cell(1, 1).text = "植树造林", "1.5万亩"
    document.add_paragraph("二、国土绿化")
    run = document.add_paragraph("完成").add_run()
    run.add_tab()
    run.add_text("义务植树30万株")
    document.save(str(tmp_path / "a.docx"))
    text = docx_text((tmp_path / "a.docx").read_bytes(), "a.docx", LIMIT)
    assert text.splitlines() == ["县林业局2025年工作计划", "一、森林防火", "项目\t目标", "植树造林\t1.5万亩",
                                 "二、国土绿化", "完成\t义务植树30万株"]


def _bounded(call):
    """Run ``call``; return (exception, seconds, peak MB of Python allocations)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        call()
    except Exception as exc:
        error = exc
    else:
        error = None
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return error, seconds, peak


@pytest.fixture(scope="module")
def legitimate_mb_s() -> float:
    """The yardstick, on this machine now: seconds to read a legitimate .docx holding 1 MB of text (best of
    three). Bounds below are multiples of it, never seconds."""
    document = hostile.text_bomb_docx(1)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        docx_text(document, "legitimate.docx", LIMIT)
        best = min(best, time.perf_counter() - t0)
    return best


def test_a_decompression_bomb_is_refused_before_it_is_unpacked(legitimate_mb_s):
    bomb = hostile.bomb_docx(40)
    assert len(bomb) < 200_000  # 40 MB of XML in a small upload
    error, seconds, peak = _bounded(lambda: docx_text(bomb, "bomb.docx", LIMIT))
    assert isinstance(error, IngestTooLarge) and error.http_status == 413
    assert "bomb.docx" in str(error) and "limit" in str(error)
    # refused from the zip's directory: nothing was inflated (it used to take 142 s and 2.4 GB); less time
    # than reading 1 MB of legitimate text
    assert seconds < legitimate_mb_s and peak < 5, (seconds, legitimate_mb_s, peak)


def test_a_bomb_that_lies_about_its_size_is_stopped_while_streaming(legitimate_mb_s):
    import struct
    import zipfile
    from io import BytesIO

    bomb = bytearray(hostile.bomb_docx(40))
    # Declare 1 KB as the uncompressed size of word/document.xml, in its local and central headers.
    info = zipfile.ZipFile(BytesIO(bytes(bomb))).getinfo("word/document.xml")
    struct.pack_into("<I", bomb, info.header_offset + 22, 1000)
    central = bytes(bomb).find(b"PK\x01\x02")
    while central >= 0:
        name_len = struct.unpack_from("<H", bomb, central + 28)[0]
        if bytes(bomb[central + 46: central + 46 + name_len]) == b"word/document.xml":
            struct.pack_into("<I", bomb, central + 24, 1000)
        central = bytes(bomb).find(b"PK\x01\x02", central + 4)
    error, seconds, peak = _bounded(lambda: docx_text(bytes(bomb), "liar.docx", LIMIT))
    assert isinstance(error, IngestError) and "liar.docx" in str(error), error
    # at most the XML budget (4× the limit: 40 MB) read at a legitimate file's pace
    assert seconds < 40 * legitimate_mb_s and peak < 40, (seconds, legitimate_mb_s, peak)


def test_text_over_the_limit_is_refused_while_parsing():
    bomb = hostile.text_bomb_docx(14)  # 14 MB of text (a 69 KB .docx became 13.6 MB of stored text)
    error, _seconds, peak = _bounded(lambda: docx_text(bomb, "text.docx", LIMIT))
    assert isinstance(error, IngestTooLarge) and "text inside" in str(error)
    assert peak < 3 * LIMIT / 1e6  # at most the limit's worth of text was collected


def test_entities_many_parts_and_malformed_xml_get_a_message_naming_the_file():
    for data, kind, words in [
        (hostile.entities_docx(), IngestError, "DTD"),
        (hostile.many_parts_docx(5000), IngestTooLarge, "parts"),
        (hostile.MALFORMED_DOCX, IngestError, "malformed (line 1"),
        (b"PK\x03\x04 not a zip", IngestError, "not a readable .docx"),
    ]:
        with pytest.raises(kind) as info:
            docx_text(data, "bad.docx", LIMIT)
        assert "bad.docx" in str(info.value) and words in str(info.value), str(info.value)


@pytest.mark.parametrize(("name", "words"), [
    (hostile.LONG_NAME, f"limit is {MAX_NAME_BYTES} bytes"),
    (hostile.RTL_NAME, "U+202E"),
    (hostile.LINE_SEPARATOR_NAME, "U+2028"),
    (hostile.DEL_NAME, "U+007F"),
    ("县档案局\u200b工作总结.txt", "U+200B"),  # zero-width space
    ("a:b.txt", "not allowed"),
    (" 前后空格.txt ", "surrounding spaces"),
])
def test_bad_names_are_refused_with_a_clean_suggestion(name, words):
    with pytest.raises(IngestError) as info:
        check_name(name)
    message = str(info.value)
    assert (words in message and "rename" in message) or "shorten" in message, message
    suggestion = clean_name(name)
    assert check_name(suggestion.strip()) == suggestion.strip()  # the suggestion itself is accepted
    assert "\u202e" not in message and "\u2028" not in message  # the message does not reproduce the trick


def test_ordinary_names_pass():
    for name in ["县水利局2023年上半年工作总结.txt", "报告 (1).docx", "a-b_c.TXT", "县" * 60 + ".txt"]:
        assert check_name(name) == name
