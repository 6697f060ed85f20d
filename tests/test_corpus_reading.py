"""Bytes → normalised text: encodings, BOM, newlines, markers, and clear errors for bad input."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from rag.corpus.reading import decode_source, read_source, source_text
from rag.errors import CorpusError

TEXT = "县水利局2023年工作总结\n\n一、工作情况\n完成D建任务。\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("gb18030"), "gb18030"),
        (TEXT.encode("gbk"), "gb18030"),
        (TEXT.encode("utf-16"), "utf-16"),
    ],
)
def test_encodings_decode_to_the_same_text(data: bytes, encoding: str) -> None:
    source = decode_source(data, "x.txt")
    assert source.text == TEXT
    assert source.encoding == encoding


@pytest.mark.parametrize(("newline", "style"), [("\r\n", "CRLF"), ("\r", "CR"), ("\n", "LF")])
def test_newlines_become_lf_and_keep_line_numbers(newline: str, style: str) -> None:
    source = decode_source(TEXT.replace("\n", newline).encode("utf-8"), "x.txt")
    assert source.text == TEXT
    assert source.newline == style
    assert source.lines[3] == "完成D建任务。"
    assert source.line_of(source.text.index("完成")) == 4


def test_paid_markers_are_removed_without_moving_lines() -> None:
    raw = "##paidbegin##标题2023年工作总结\n配移动执##paidbegin##法终端\n##paidend##\n末行\n"
    source = decode_source(raw.encode("utf-8"), "x.txt")
    assert source.lines == ["标题2023年工作总结", "配移动执法终端", "", "末行", ""]


def test_source_text_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_bytes(codecs.BOM_UTF8 + TEXT.replace("\n", "\r\n").encode("utf-8"))
    assert source_text(path) == TEXT
    assert read_source(path).name == "r.txt"


def test_damaged_utf8_names_file_and_line() -> None:
    data = "第一行中文\n第二行\n".encode() + b"\xe5\x9b" + "\n第四行\n".encode()
    with pytest.raises(CorpusError, match=r"^bad\.txt:3: invalid UTF-8"):
        decode_source(data, "bad.txt")


def test_undecodable_bytes_name_file_and_line() -> None:
    data = b"abc\ndef\n\x80\xff\xfe\n"
    with pytest.raises(CorpusError, match=r"^bad\.txt:3: cannot decode the file as UTF-8 or GB18030"):
        decode_source(data, "bad.txt")


def test_binary_file_is_rejected() -> None:
    with pytest.raises(CorpusError, match=r"^img\.txt:2: NUL byte"):
        decode_source(b"PNG\n\x00\x01\x02", "img.txt")


def test_missing_file_is_a_corpus_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"missing\.txt: cannot read"):
        read_source(tmp_path / "missing.txt")
