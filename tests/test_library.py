"""Ingest / replace / remove with crash-safe corpus + index versions (`rag/library/store.py`), fake encoder.

The crash tests run an ingest in a subprocess (testkit/ingest_child.py), SIGKILL it at each commit step
(and after a few delays), then prove the previous version still loads — every earlier report present
and searchable, corpus and index from the same version — and that the next ingest cleans up and works.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from rag.app import open_version
from rag.errors import CorpusError, ReportNotFound
from rag.library import FileExists, IngestError, Library, Upload, current_library, read_uploads
from rag.retrieval.retriever import Filters, Retriever
from testkit.fakes import FakeEncoder
from testkit.library_helpers import (
    ARCHIVE_REPORT,
    ARCHIVE_REPORT_V2,
    FIXTURES,
    FORESTRY_PLAN,
    ingest_files,
    make_docx,
    run_ingest_child,
    searchable,
    write_file,
)


@pytest.fixture
def lib_settings(settings, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(FIXTURES, data)
    return settings.model_copy(update={"data_dir": data, "library_dir": data / "library"})


@pytest.fixture
def enc() -> FakeEncoder:
    return FakeEncoder()


def _library(settings, enc, **kw) -> Library:
    return Library(settings, encoder_factory=lambda: enc, progress=False, **kw)


def _live(settings, enc):
    version, index = open_version(settings, encoder=enc, progress=False)
    return version, index, Retriever(index, enc)


# -- round trips ----------------------------------------------------------------------------------


def test_ingest_adds_a_report_keeps_the_bundled_ones_and_leaves_data_dir_alone(lib_settings, enc, tmp_path):
    before_files = sorted(p.name for p in lib_settings.data_dir.glob("*.txt"))
    bundled, _, _ = _live(lib_settings, enc)
    path = write_file(tmp_path / "in", "县档案局2024年工作总结.txt", ARCHIVE_REPORT)
    summary = ingest_files(lib_settings, enc, path)
    assert summary.changed and summary.reports_added == 1 and summary.sections_added >= 3
    assert summary.files[0].action == "added" and summary.files[0].reports == ["县档案局2024年工作总结-r01"]
    version, index, retriever = _live(lib_settings, enc)
    ids = {r.id for r in version.corpus.reports}
    assert ids == {r.id for r in bundled.corpus.reports} | {"县档案局2024年工作总结-r01"}
    assert index.manifest.corpus_hash == version.corpus.content_hash
    assert index.version == version.index_version
    hits = retriever.search("县档案局数字化扫描了多少页", k=3)
    assert hits[0].report_id == "县档案局2024年工作总结-r01"
    # the quote comes from the stored copy: offsets refer to the version folder's file
    report = version.corpus.get("县档案局2024年工作总结-r01")
    assert (Path(version.corpus.data_dir) / report.source_file).read_text(encoding="utf-8") == ARCHIVE_REPORT
    assert sorted(p.name for p in lib_settings.data_dir.glob("*.txt")) == before_files


def test_an_unchanged_file_is_a_no_op(lib_settings, enc, tmp_path):
    path = write_file(tmp_path / "in", "县档案局2024年工作总结.txt", ARCHIVE_REPORT)
    first = ingest_files(lib_settings, enc, path)
    calls = enc.calls
    again = ingest_files(lib_settings, enc, path)
    assert not again.changed and again.files[0].action == "unchanged" and again.version == first.version
    assert enc.calls == calls
    assert "nothing changed" in again.lines()[-1]


def test_a_changed_file_replaces_its_reports_and_only_new_text_is_embedded(lib_settings, enc, tmp_path):
    path = write_file(tmp_path / "in", "县档案局2024年工作总结.txt", ARCHIVE_REPORT)
    ingest_files(lib_settings, enc, path)
    calls = enc.calls
    path.write_text(ARCHIVE_REPORT_V2, encoding="utf-8")
    with pytest.raises(FileExists, match=r"already in the corpus.*--replace.*replace=true") as refused:
        ingest_files(lib_settings, enc, path)
    assert refused.value.http_status == 409 and enc.calls == calls
    summary = ingest_files(lib_settings, enc, path, replace=True)
    assert summary.files[0].action == "replaced"
    assert summary.reports_replaced == 1 and summary.reports_added == 0
    # the two changed paragraphs' chunks (and the outline chunk naming their sections), nothing else
    assert 0 < summary.embedded <= 4 and enc.calls - calls == summary.embedded
    version, _, retriever = _live(lib_settings, enc)
    ids = [r.id for r in version.corpus.reports]
    assert ids.count("县档案局2024年工作总结-r01") == 1
    only = Filters(report_id="县档案局2024年工作总结-r01")
    hit = retriever.search("县档案局数字化扫描", k=1, filters=only)[0]
    assert "92万页" in hit.text


def test_remove_reports_and_files(lib_settings, enc, tmp_path):
    a = write_file(tmp_path / "in", "县档案局2024年工作总结.txt", ARCHIVE_REPORT)
    b = write_file(tmp_path / "in", "县林业局2025年工作计划.txt", FORESTRY_PLAN)
    ingest_files(lib_settings, enc, a, b)
    version, _, _ = _live(lib_settings, enc)
    compilation = next(s for s in version.corpus.files if len(s.reports) >= 2)
    one_of_many = compilation.reports[0].id
    summary = _library(lib_settings, enc).remove(["县档案局2024年工作总结-r01", one_of_many])
    assert summary.reports_removed == 2
    assert {f.action for f in summary.files} == {"removed", "reports removed"}
    version, index, retriever = _live(lib_settings, enc)
    ids = {r.id for r in version.corpus.reports}
    assert "县档案局2024年工作总结-r01" not in ids and one_of_many not in ids
    assert "县档案局2024年工作总结.txt" not in {s.name for s in version.corpus.files}
    assert not [c for c in index.chunks if c.report_id == one_of_many]
    assert retriever.search("县林业局森林防火", k=1)[0].report_id == "县林业局2025年工作计划-r01"
    # by file name
    _library(lib_settings, enc).remove(["县林业局2025年工作计划.txt"])
    assert "县林业局2025年工作计划-r01" not in {r.id for r in _live(lib_settings, enc)[0].corpus.reports}
    # re-ingesting the compilation brings its removed report back
    summary = ingest_files(lib_settings, enc, lib_settings.data_dir / compilation.name)
    assert summary.files[0].action == "replaced"
    assert one_of_many in {r.id for r in _live(lib_settings, enc)[0].corpus.reports}


def test_remove_unknown_id_or_everything_is_refused_and_changes_nothing(lib_settings, enc):
    library = _library(lib_settings, enc)
    with pytest.raises(ReportNotFound, match="no report with id 'nope-r01'"):
        library.remove(["nope-r01"])
    assert current_library(lib_settings.library_path()) is None
    everything = [r.id for r in _live(lib_settings, enc)[0].corpus.reports]
    with pytest.raises(IngestError, match="every report"):
        library.remove(everything)


# -- encodings, formats, modes --------------------------------------------------------------------


def test_gbk_and_utf8_bom_files(lib_settings, enc, tmp_path):
    crlf = ARCHIVE_REPORT.replace("\n", "\r\n")
    gbk = write_file(tmp_path / "in", "县档案局2024年工作总结.txt", crlf, "gbk")
    bom = tmp_path / "in" / "县林业局2025年工作计划.txt"
    bom.write_bytes(b"\xef\xbb\xbf" + FORESTRY_PLAN.encode("utf-8"))
    ingest_files(lib_settings, enc, gbk, bom)
    version, _, retriever = _live(lib_settings, enc)
    by_name = {s.name: s for s in version.corpus.files}
    assert by_name["县档案局2024年工作总结.txt"].encoding == "gb18030"
    assert by_name["县林业局2025年工作计划.txt"].encoding == "utf-8-sig"
    assert by_name["县档案局2024年工作总结.txt"].reports[0].title == "县档案局2024年工作总结"
    assert retriever.search("县林业局植树造林", k=1)[0].report_id == "县林业局2025年工作计划-r01"


def test_docx_is_ingested_as_text_and_the_original_is_kept(lib_settings, enc, tmp_path):
    (tmp_path / "in").mkdir()
    path = make_docx(tmp_path / "in" / "县林业局2025年工作计划.docx", FORESTRY_PLAN.strip().split("\n"))
    summary = ingest_files(lib_settings, enc, path)
    assert summary.files[0].name == "县林业局2025年工作计划.txt"
    version, _, _ = _live(lib_settings, enc)
    assert version.corpus.get("县林业局2025年工作计划-r01").title == "县林业局2025年工作计划"
    assert (Path(version.corpus.data_dir) / "originals" / path.name).read_bytes() == path.read_bytes()


def test_a_folder_holding_a_compilation_and_a_single_report(lib_settings, enc, tmp_path):
    folder = tmp_path / "in"
    write_file(folder, "县档案局2024年工作总结.txt", ARCHIVE_REPORT)
    write_file(folder, "合集.txt", ARCHIVE_REPORT.replace("县档案局", "县史志办") + "\n" + FORESTRY_PLAN)
    write_file(folder / ".hidden", "x.txt", "ignored")
    summary = ingest_files(lib_settings, enc, folder)
    assert sorted(f.name for f in summary.files) == ["县档案局2024年工作总结.txt", "合集.txt"]
    assert summary.reports_added == 3


def test_single_and_compilation_modes(lib_settings, enc, tmp_path):
    two = write_file(tmp_path / "in", "两篇.txt", ARCHIVE_REPORT + "\n" + FORESTRY_PLAN)
    summary = ingest_files(lib_settings, enc, two, mode="single")
    assert summary.reports_added == 1  # the second title is text of the one report
    one = write_file(tmp_path / "in", "县档案局2024年工作总结.txt", ARCHIVE_REPORT)
    with pytest.raises(IngestError, match="--compilation expects several"):
        ingest_files(lib_settings, enc, one, mode="compilation")
    # re-parsed in the new mode
    summary = ingest_files(lib_settings, enc, two, mode="compilation", replace=True)
    assert summary.files[0].action == "replaced" and len(summary.files[0].reports) == 2


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "data", "message"), [
    ("empty.txt", b"", "the file is empty"),
    ("blank.txt", b"\n\n  \n", "has no text"),
    ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "NUL byte; this is not a text file"),
    ("bad.txt", "县档案局".encode() + b"\xff\xfe\xfa" + "工作总结".encode(), "invalid UTF-8"),
    ("notes.pdf", b"%PDF-1.4", "only .txt"),
    ("../../etc/evil.txt", ARCHIVE_REPORT.encode(), "not a plain file name"),
    ("..\\evil.txt", ARCHIVE_REPORT.encode(), "not a plain file name"),
    (".hidden.txt", ARCHIVE_REPORT.encode(), "not a plain file name"),
    ("broken.docx", b"PK\x03\x04 not really a zip", "not a readable .docx"),
])
def test_bad_files_are_rejected_with_a_reason_and_nothing_changes(lib_settings, enc, name, data, message):
    with pytest.raises(IngestError, match="nothing was ingested") as info:
        _library(lib_settings, enc).ingest([Upload(name=name, data=data)])
    assert message in str(info.value)
    assert current_library(lib_settings.library_path()) is None


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(lib_settings, enc, tmp_path):
    settings = lib_settings.model_copy(update={"ingest_max_bytes": 50_000})
    big = tmp_path / "in" / "big.txt"
    big.parent.mkdir()
    with open(big, "wb") as f:
        f.truncate(50 * 1024 * 1024)  # a sparse 50 MB file
    with pytest.raises(IngestError, match=r"52.4 MB, over the 50.0 KB limit.*RAG_INGEST_MAX_BYTES"):
        read_uploads([big], settings.ingest_max_bytes)
    with pytest.raises(IngestError, match=r"60\.0 KB, over the 50\.0 KB limit"):
        _library(settings, enc).ingest([Upload(name="big.txt", data=b"x" * 60_000)])


def test_a_file_without_a_title_is_one_report_titled_by_its_name_with_a_warning(lib_settings, enc, tmp_path):
    text = ("今年以来，我们认真开展各项工作，取得了一定成效。\n"
            "一是加强学习，组织集中学习12次。\n二是改进作风。\n")
    path = write_file(tmp_path / "in", "档案室情况说明.txt", text)
    summary = ingest_files(lib_settings, enc, path)
    change = summary.files[0]
    assert change.titles == ["档案室情况说明"]
    assert any("titled 「档案室情况说明」" in w for w in change.warnings)
    assert any("warning" in line and "no line looks like a report title" in line for line in summary.lines())
    version, _, retriever = _live(lib_settings, enc)
    report = version.corpus.get("档案室情况说明-r01")
    assert report.title_line == 1 and report.title_char_start == report.title_char_end == 0
    assert retriever.search("组织集中学习", k=1)[0].report_id == report.id


def test_skip_bad_ingests_the_good_files(lib_settings, enc):
    summary, rejected = _library(lib_settings, enc).ingest(
        [Upload(name="empty.txt", data=b""),
         Upload(name="县林业局2025年工作计划.txt", data=FORESTRY_PLAN.encode())],
        skip_bad=True)
    assert summary.reports_added == 1 and len(rejected) == 1 and "empty" in rejected[0]


def test_two_inputs_with_the_same_name_are_refused(lib_settings, enc, tmp_path):
    a = write_file(tmp_path / "a", "报告.txt", ARCHIVE_REPORT)
    b = write_file(tmp_path / "b", "报告.txt", FORESTRY_PLAN)
    with pytest.raises(IngestError, match=r"also named 报告\.txt"):
        ingest_files(lib_settings, enc, a, b)


def test_missing_path_and_empty_folder(lib_settings, tmp_path):
    with pytest.raises(IngestError, match="no such file"):
        read_uploads([tmp_path / "nope.txt"], 1000)
    (tmp_path / "empty").mkdir()
    with pytest.raises(IngestError, match=r"holds no \.txt or \.docx"):
        read_uploads([tmp_path / "empty"], 1000)


def test_corpus_error_is_a_rag_error_for_the_cli_and_api():
    assert issubclass(IngestError, CorpusError) and IngestError.http_status == 422


# -- CLI ------------------------------------------------------------------------------------------


def test_cli_ingest_corpus_and_remove(lib_settings, tmp_path, monkeypatch, capsys):
    from rag import app as services
    from rag.cli import main

    for key, value in {"RAG_DATA_DIR": lib_settings.data_dir, "RAG_LIBRARY_DIR": lib_settings.library_path(),
                       "RAG_INDEX_DIR": lib_settings.index_dir, "RAG_CACHE_DIR": lib_settings.cache_dir,
                       "RAG_MODELS_DIR": lib_settings.models_dir}.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.setattr(services, "open_encoder", lambda settings: FakeEncoder())
    path = write_file(tmp_path / "in", "县档案局2024年工作总结.txt", ARCHIVE_REPORT)
    assert main(["ingest", str(path)]) == 0
    out = capsys.readouterr().out
    assert "added  县档案局2024年工作总结.txt: 1 reports" in out and "reports: 1 added, 0 replaced" in out
    assert main(["corpus", "--json"]) == 0
    assert "县档案局2024年工作总结-r01" in capsys.readouterr().out
    assert main(["ingest", str(path)]) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert main(["ingest", str(tmp_path / "nope.txt")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["remove", "县档案局2024年工作总结-r01", "--json"]) == 0
    assert '"reports_removed": 1' in capsys.readouterr().out
    assert main(["remove", "县档案局2024年工作总结-r01"]) == 2


# -- crash safety ---------------------------------------------------------------------------------

COMMIT_STEPS = ["folder-created", "files-written", "parsed", "index-written", "manifest-written", "renamed",
                "current-swapped", "index-current-swapped", "done"]


def _assert_consistent(settings, enc, earlier: set[str], new_id: str) -> bool:
    version, index = open_version(settings, encoder=enc, progress=False)
    # no rebuild needed: the corpus version names an index version built from exactly its files
    assert index.manifest.corpus_hash == version.corpus.content_hash
    retriever = Retriever(index, enc)
    ids = {r.id for r in version.corpus.reports}
    assert earlier <= ids, earlier - ids
    for rid in earlier:
        assert searchable(retriever, version.corpus.get(rid)), rid
    assert ids <= earlier | {new_id}
    return new_id in ids


@pytest.mark.integration  # a child process, kill -9
@pytest.mark.parametrize("step", ["files-written", "index-written", "manifest-written", "renamed",
                                  "current-swapped", "index-current-swapped"])
def test_kill_9_during_an_ingest_loses_nothing(lib_settings, enc, tmp_path, step):
    first = write_file(tmp_path / "in", "县档案局2024年工作总结.txt", ARCHIVE_REPORT)
    ingest_files(lib_settings, enc, first)
    earlier = {r.id for r in _live(lib_settings, enc)[0].corpus.reports}
    second = write_file(tmp_path / "in", "县林业局2025年工作计划.txt", FORESTRY_PLAN)
    run_ingest_child(lib_settings, [second], pause_at=step)
    has_new = _assert_consistent(lib_settings, enc, earlier, "县林业局2025年工作计划-r01")
    assert has_new == (COMMIT_STEPS.index(step) >= COMMIT_STEPS.index("current-swapped"))
    # the next ingest cleans the crashed one's garbage and completes
    out = run_ingest_child(lib_settings, [second])
    assert out is not None and "DONE" in out
    assert _assert_consistent(lib_settings, enc, earlier, "县林业局2025年工作计划-r01")
    assert not list(lib_settings.library_path().glob(".tmp-*"))


@pytest.mark.integration
def test_kill_9_during_the_first_ingest_leaves_the_bundled_corpus(lib_settings, enc, tmp_path):
    earlier = {r.id for r in _live(lib_settings, enc)[0].corpus.reports}
    path = write_file(tmp_path / "in", "县林业局2025年工作计划.txt", FORESTRY_PLAN)
    run_ingest_child(lib_settings, [path], pause_at="manifest-written")
    assert not _assert_consistent(lib_settings, enc, earlier, "县林业局2025年工作计划-r01")
    assert current_library(lib_settings.library_path()) is None


@pytest.mark.integration
@pytest.mark.parametrize("delay", [0.5, 1.5, 3.0])
def test_kill_9_at_arbitrary_moments(lib_settings, enc, tmp_path, delay):
    first = write_file(tmp_path / "in", "县档案局2024年工作总结.txt", ARCHIVE_REPORT)
    ingest_files(lib_settings, enc, first)
    earlier = {r.id for r in _live(lib_settings, enc)[0].corpus.reports}
    second = write_file(tmp_path / "in", "县林业局2025年工作计划.txt", FORESTRY_PLAN)
    run_ingest_child(lib_settings, [second], kill_after_s=delay)
    _assert_consistent(lib_settings, enc, earlier, "县林业局2025年工作计划-r01")


def test_zip_docx_helper_makes_a_real_docx(tmp_path):
    path = make_docx(tmp_path / "a.docx", ["标题"])
    assert zipfile.is_zipfile(path)


def test_a_commit_parses_and_tokenises_only_what_changed(lib_settings, enc, tmp_path, monkeypatch):
    """A large file in the library used to make every later upload pay for parsing and tokenising it again
    (43 s instead of 1.4 s in the review): files are parsed once per content, chunks tokenised once."""
    import rag.corpus.parser as parser
    import rag.retrieval.index as index

    ingest_files(lib_settings, enc, write_file(tmp_path / "in", "县档案局2024年工作总结.txt", ARCHIVE_REPORT))
    parsed, tokenised = [], []
    real_parse, real_tokenize = parser.parse_source, index.tokenize
    monkeypatch.setattr(parser, "parse_source",
                        lambda src, *a, **k: parsed.append(src.name) or real_parse(src, *a, **k))
    monkeypatch.setattr(index, "tokenize", lambda text: tokenised.append(text) or real_tokenize(text))
    plan = write_file(tmp_path / "in", "县林业局2025年工作计划.txt", FORESTRY_PLAN)
    summary = ingest_files(lib_settings, enc, plan)
    assert summary.reports_added == 1
    assert len(parsed) == 1  # the new file only, though the commit builds the old and the new corpus
    assert 0 < len(tokenised) <= 4 and all("林业" in t for t in tokenised), tokenised
