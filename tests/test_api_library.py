"""POST /v1/reports and DELETE /v1/reports/{id}: uploads, replacement, removal, bad input, the API key,
the running service swapping to the new version, and queries answered throughout an ingest."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from api import app as app_module
from api.app import create_app
from rag.app import open_version
from rag.library import Library, Upload
from rag.retrieval.retriever import Retriever
from tests.fakes import FakeAnswerService, FakeEncoder
from tests.library_helpers import ARCHIVE_REPORT, ARCHIVE_REPORT_V2, FIXTURES, FORESTRY_PLAN
from tests.local_client import local_client

ARCHIVE = "县档案局2024年工作总结"


class HeldDocumentEncoder(FakeEncoder):
    """Once ``go`` is cleared, embedding passages waits until it is set again (an ingest held in
    progress, ``waiting`` set meanwhile); queries never wait."""

    def __init__(self):
        super().__init__()
        self.go = threading.Event()
        self.go.set()
        self.waiting = threading.Event()

    def encode_inputs(self, inputs, progress=False):
        if inputs and str(inputs[0]).startswith("title:") and not self.go.is_set():
            self.waiting.set()
            self.go.wait(30)
        return super().encode_inputs(inputs, progress)


def _rebuild(old, corpus, index):
    return FakeAnswerService(corpus, Retriever(index, old.retriever.encoder))


@pytest.fixture
def lib_settings(settings, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(FIXTURES, data)
    return settings.model_copy(update={"data_dir": data, "library_dir": tmp_path / "library"})


def _service(settings, enc=None):
    enc = enc or FakeEncoder()
    version, index = open_version(settings, encoder=enc, progress=False)
    return FakeAnswerService(version.corpus, Retriever(index, enc))


@pytest.fixture
def client(lib_settings):
    app = create_app(lib_settings, service=_service(lib_settings), rebuild_service=_rebuild)
    with local_client(app, raise_server_exceptions=False) as c:
        yield c


def _upload(client, *files: tuple[str, bytes], headers=None, **data):
    return client.post("/v1/reports", files=[("files", (name, body, "text/plain")) for name, body in files],
                       data=data, headers=headers or {})


def _ids(client) -> set[str]:
    r = client.get("/v1/reports")
    assert r.status_code == 200, r.text
    return {row["id"] for row in r.json()["reports"]}


def test_upload_then_ask_about_it_with_a_citation(client):
    before = _ids(client)
    r = _upload(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT.encode()))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["changed"] and body["reports_added"] == 1
    assert body["files"][0]["reports"] == [f"{ARCHIVE}-r01"]
    assert _ids(client) == before | {f"{ARCHIVE}-r01"}
    hits = client.get("/v1/search", params={"q": "县档案局数字化扫描了多少页", "k": 3}).json()["hits"]
    assert hits[0]["report_id"] == f"{ARCHIVE}-r01"
    question = {"question": "县档案局数字化扫描了多少页？", "mode": "extractive"}
    answer = client.post("/v1/ask", json=question).json()
    assert answer["citations"] and answer["citations"][0]["report_id"] == f"{ARCHIVE}-r01"
    section = client.get(f"/v1/reports/{ARCHIVE}-r01").json()
    assert section["title"] == ARCHIVE


def test_unchanged_upload_is_200_and_a_changed_one_replaces(client):
    assert _upload(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT.encode())).status_code == 201
    again = _upload(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT.encode()))
    assert again.status_code == 200 and not again.json()["changed"]
    refused = _upload(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT_V2.encode("gbk")))
    assert refused.status_code == 409 and refused.json()["error"]["type"] == "file_exists"
    assert "replace=true" in refused.json()["error"]["message"]
    r = _upload(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT_V2.encode("gbk")), replace="true")
    assert r.status_code == 201 and r.json()["files"][0]["action"] == "replaced"
    hits = client.get("/v1/search", params={"q": "县档案局数字化扫描", "k": 1,
                                            "report_id": f"{ARCHIVE}-r01"}).json()["hits"]
    assert "92万页" in hits[0]["text"]


def test_several_files_and_the_single_mode(client):
    r = _upload(client, ("两篇.txt", (ARCHIVE_REPORT + "\n" + FORESTRY_PLAN).encode()),
                ("县林业局2025年工作计划.txt", FORESTRY_PLAN.encode()), mode="single")
    assert r.status_code == 201 and r.json()["reports_added"] == 2
    assert _upload(client, ("x.txt", b"abc"), mode="everything").status_code == 422


def test_delete_a_report(client):
    _upload(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT.encode()))
    r = client.delete(f"/v1/reports/{ARCHIVE}-r01")
    assert r.status_code == 200 and r.json()["reports_removed"] == 1
    assert f"{ARCHIVE}-r01" not in _ids(client)
    assert client.get(f"/v1/reports/{ARCHIVE}-r01").status_code == 404
    gone = client.delete(f"/v1/reports/{ARCHIVE}-r01")
    assert gone.status_code == 404 and "nothing was removed" in gone.json()["error"]["message"]


@pytest.mark.parametrize(("name", "data", "status", "words"), [
    ("empty.txt", b"", 422, "the file is empty"),
    ("binary.txt", b"\x00\x01\x02PNG", 422, "not a text file"),
    ("bad.txt", "县档案局".encode() + b"\xff\xfe" + "总结".encode(), 422, "invalid UTF-8"),
    ("../../etc/passwd.txt", ARCHIVE_REPORT.encode(), 422, "not a plain file name"),
    ("..", ARCHIVE_REPORT.encode(), 422, "not a plain file name"),
    ("report.exe", b"MZ", 422, "only .txt"),
    ("big.txt", b"x" * 6000, 413, "the file is 6.0 KB, over the 5.0 KB limit"),
    ("huge.txt", b"x" * 200_000, 413, "larger than the limit"),
])
def test_bad_uploads_get_a_clear_4xx_and_change_nothing(lib_settings, name, data, status, words):
    settings = lib_settings.model_copy(update={"ingest_max_bytes": 5000})
    with local_client(create_app(settings, service=_service(settings), rebuild_service=_rebuild),
                    raise_server_exceptions=False) as client:
        before = _ids(client)
        r = _upload(client, (name, data))
        assert r.status_code == status, r.text
        assert words in r.json()["error"]["message"]
        assert _ids(client) == before
    assert not (settings.library_path() / "CURRENT").exists()


def test_upload_without_files_is_422(client):
    r = client.post("/v1/reports", data={"mode": "auto"})
    assert r.status_code == 422 and "files" in r.json()["error"]["message"]


def test_the_api_key_protects_upload_and_delete(lib_settings):
    settings = lib_settings.model_copy(update={"api_key": "s3cret"})
    with local_client(create_app(settings, service=_service(settings), rebuild_service=_rebuild),
                    raise_server_exceptions=False) as client:
        assert _upload(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT.encode())).status_code == 401
        assert client.delete("/v1/reports/x-r01").status_code == 401
        ok = _upload(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT.encode()),
                     headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 201


def test_queries_are_answered_throughout_an_ingest_from_one_whole_version(lib_settings):
    enc = HeldDocumentEncoder()
    with local_client(create_app(lib_settings, service=_service(lib_settings, enc), rebuild_service=_rebuild),
                    raise_server_exceptions=False) as client:
        before = _ids(client)
        big = "\n".join(ARCHIVE_REPORT.replace("县档案局", f"县档案局{i}号馆") for i in range(8))
        result: dict = {}

        def ingest() -> None:
            result["r"] = _upload(client, ("档案合集.txt", big.encode()))

        thread = threading.Thread(target=ingest)
        enc.go.clear()  # the ingest's embedding waits until queries have been answered meanwhile
        thread.start()
        answered, statuses = 0, set()
        while thread.is_alive():
            r = client.get("/v1/search", params={"q": "县档案局数字化扫描", "k": 5})
            statuses.add(r.status_code)
            ids = {h["report_id"] for h in r.json().get("hits", [])}
            # either the old version (no new report) or the whole new one: every hit's report is listed
            assert ids <= before or all(i.startswith("档案合集-r") or i in before for i in ids)
            answered += 1
            if answered >= 3 and enc.waiting.is_set():
                enc.go.set()
        thread.join()
        assert result["r"].status_code == 201, result["r"].text
        assert statuses == {200} and answered >= 3  # queries kept being answered during the ingest
        assert len(_ids(client) - before) == 8


def test_the_server_picks_up_an_ingest_made_by_another_process(lib_settings, monkeypatch):
    monkeypatch.setattr(app_module, "LIBRARY_POLL_S", 0.1)
    app = create_app(lib_settings, service=_service(lib_settings), rebuild_service=_rebuild,
                     watch_library=True)
    with local_client(app, raise_server_exceptions=False) as client:
        # `rag ingest` in another process: the same library, its own encoder
        Library(lib_settings, encoder_factory=FakeEncoder, progress=False).ingest(
            [Upload(name=f"{ARCHIVE}.txt", data=ARCHIVE_REPORT.encode())])
        deadline = time.monotonic() + 10
        while f"{ARCHIVE}-r01" not in _ids(client):
            assert time.monotonic() < deadline, "the server did not swap to the new version"
            time.sleep(0.1)


def test_docx_upload(client, tmp_path):
    from tests.library_helpers import make_docx

    path = make_docx(Path(tmp_path) / "县林业局2025年工作计划.docx", FORESTRY_PLAN.strip().split("\n"))
    r = client.post("/v1/reports", files=[("files", (path.name, path.read_bytes(),
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))])
    assert r.status_code == 201 and r.json()["files"][0]["reports"] == ["县林业局2025年工作计划-r01"]
