"""POST /v1/reports and DELETE /v1/reports/{id}: uploads, replacement, removal, bad input, the API key,
the running service swapping to the new version, and queries answered throughout an ingest."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from pathlib import Path

import pytest

from api import app as app_module
from api.app import create_app
from api.routes import library as library_routes
from rag.app import open_version
from rag.library import Library, Upload
from rag.retrieval.retriever import Retriever
from testkit.fakes import FakeAnswerService, FakeEncoder
from testkit.library_helpers import ARCHIVE_REPORT, ARCHIVE_REPORT_V2, FIXTURES, FORESTRY_PLAN
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
    from testkit.library_helpers import make_docx

    path = make_docx(Path(tmp_path) / "县林业局2025年工作计划.docx", FORESTRY_PLAN.strip().split("\n"))
    r = client.post("/v1/reports", files=[("files", (path.name, path.read_bytes(),
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))])
    assert r.status_code == 201 and r.json()["files"][0]["reports"] == ["县林业局2025年工作计划-r01"]


# -- POST /v1/reports/stream: the same upload, its progress as Server-Sent Events -------------------


def _stream(client, *files: tuple[str, bytes], **data) -> list[tuple[str, dict]]:
    from tests.test_api_endpoints import parse_sse

    r = client.post("/v1/reports/stream", data=data,
                    files=[("files", (name, body, "text/plain")) for name, body in files])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return parse_sse(r.text)


def _stages(events: list[tuple[str, dict]]) -> list[str]:
    return [data["stage"] for name, data in events if name == "stage"]


def test_stream_upload_reports_its_stages_then_the_summary(client):
    before = _ids(client)
    events = _stream(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT.encode()))
    assert [name for name, _ in events] == ["stage"] * 4 + ["done"]
    assert _stages(events) == ["parsing", "parsed", "embedding", "saving"]
    assert events[0][1] == {"stage": "parsing"}
    assert events[1][1] == {"stage": "parsed", "reports": [ARCHIVE]}  # found before embedding
    done = events[-1][1]
    assert done["changed"] and done["reports_added"] == 1 and done["version"]
    assert done["files"][0]["titles"] == [ARCHIVE] and done["files"][0]["reports"] == [f"{ARCHIVE}-r01"]
    assert _ids(client) == before | {f"{ARCHIVE}-r01"}  # the service already answers from it
    # the same file again changes nothing: no embedding, no saving
    again = _stream(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT.encode()))
    assert _stages(again) == ["parsing", "parsed"] and again[-1][0] == "done"
    assert not again[-1][1]["changed"] and again[-1][1]["files"][0]["action"] == "unchanged"


def test_stream_upload_of_a_gbk_text_file(client):
    events = _stream(client, ("县林业局2025年工作计划.txt", FORESTRY_PLAN.encode("gbk")),
                     (f"{ARCHIVE}.txt", ARCHIVE_REPORT.encode("gb18030")))
    assert events[-1][0] == "done", events
    assert events[1][1]["reports"] == ["县林业局2025年工作计划", ARCHIVE]
    assert [f["titles"] for f in events[-1][1]["files"]] == [["县林业局2025年工作计划"], [ARCHIVE]]
    assert {"县林业局2025年工作计划-r01", f"{ARCHIVE}-r01"} <= _ids(client)


@pytest.mark.parametrize(("name", "data", "words"), [
    ("县档案局2024年工作总结.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "only .txt"),
    ("bad.txt", "县档案局".encode() + b"\xff\xfe" + "总结".encode(), "invalid UTF-8"),
])
def test_stream_upload_of_a_refused_file_is_an_error_event_and_adds_nothing(client, name, data, words):
    before = _ids(client)
    events = _stream(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT.encode()), (name, data))
    assert [n for n, _ in events] == ["stage", "error"] and _stages(events) == ["parsing"]
    err = events[-1][1]["error"]
    assert err["status"] == 422 and err["type"] == "ingest_error", err
    assert name in err["message"] and words in err["message"] and "nothing was ingested" in err["message"]
    assert _ids(client) == before  # not even the good file


def test_stream_upload_errors_carry_the_status_of_the_plain_upload(client, lib_settings):
    assert _upload(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT.encode())).status_code == 201
    # a name already in the corpus, with other content: 409, as POST /v1/reports answers
    plain = _upload(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT_V2.encode())).json()["error"]
    events = _stream(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT_V2.encode()))
    err = events[-1][1]["error"]
    assert events[-1][0] == "error" and _stages(events) == ["parsing", "parsed"]
    assert err == {**plain, "status": 409}  # one mapping: same type and message
    assert err["type"] == "file_exists" and "replace=true" in err["message"]
    # with replace it goes through
    events = _stream(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT_V2.encode()), replace="true")
    assert events[-1][0] == "done" and events[-1][1]["files"][0]["action"] == "replaced"


def test_stream_upload_while_another_holds_the_library_is_a_409_error_event(lib_settings):
    settings = lib_settings.model_copy(update={"write_wait_s": 0.2})
    app = create_app(settings, service=_service(settings), rebuild_service=_rebuild)
    with local_client(app, raise_server_exceptions=False) as client:
        runtime = app.state.runtime
        assert runtime.swap_lock.acquire(timeout=5)  # another upload is running
        try:
            events = _stream(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT.encode()))
        finally:
            runtime.swap_lock.release()
        err = events[-1][1]["error"]
        assert events[-1][0] == "error" and err["status"] == 409 and err["type"] == "library_busy"
        assert err["retry_after"] == 10
        assert _stream(client, (f"{ARCHIVE}.txt", ARCHIVE_REPORT.encode()))[-1][0] == "done"  # free again


def test_stream_upload_refuses_bad_requests_before_streaming(lib_settings):
    # bodies of questions: 2 KB at most; of uploads: a file of 5 KB plus the form (api/app.py)
    settings = lib_settings.model_copy(update={"ingest_max_bytes": 5000, "max_body_bytes": 2048})
    with local_client(create_app(settings, service=_service(settings), rebuild_service=_rebuild),
                      raise_server_exceptions=False) as client:
        r = client.post("/v1/reports/stream", data={"mode": "auto"})
        assert r.status_code == 422 and "files" in r.json()["error"]["message"]
        r = client.post("/v1/reports/stream", files=[("files", ("x.txt", b"abc", "text/plain"))],
                        data={"mode": "everything"})
        assert r.status_code == 422 and r.json()["error"]["type"] == "invalid_request"
        # the body limit of uploads (not of questions) applies, before the stream
        r = client.post("/v1/reports/stream", files=[("files", ("huge.txt", b"x" * 200_000, "text/plain"))])
        assert r.status_code == 413 and r.json()["error"]["type"] == "payload_too_large"
        # a file over the per-file limit in a body within the uploads' limit: an error event with 413
        events = _stream(client, ("big.txt", b"x" * 6000))
        assert events[-1][1]["error"]["status"] == 413
        assert "over the 5.0 KB limit" in events[-1][1]["error"]["message"]


def test_stream_stages_come_as_the_ingest_goes_and_leaving_does_not_stop_it(lib_settings):
    enc = HeldDocumentEncoder()
    app = create_app(lib_settings, service=_service(lib_settings, enc), rebuild_service=_rebuild)
    with local_client(app, raise_server_exceptions=False) as client:
        runtime = app.state.runtime
        uploads = [Upload(name=f"{ARCHIVE}.txt", data=ARCHIVE_REPORT.encode())]

        async def leave_while_embedding():
            events = library_routes.upload_events(runtime, uploads, "auto", False)
            seen = []
            async for chunk in events:
                seen.append(chunk.decode())
                if '"embedding"' in chunk.decode():
                    break
            ingest = next(iter(library_routes.RUNNING_UPLOADS))
            assert not enc.go.is_set() and not ingest.done()  # sent while the passages are being embedded
            await events.aclose()  # the client leaves
            enc.go.set()
            await asyncio.wait([ingest])
            return seen, ingest.result()

        enc.go.clear()
        seen, summary = asyncio.run(leave_while_embedding())
        assert [chunk.split("data: ")[1].strip() for chunk in seen] == [
            '{"stage":"parsing"}', f'{{"stage":"parsed","reports":["{ARCHIVE}"]}}', '{"stage":"embedding"}']
        assert summary.changed and not library_routes.RUNNING_UPLOADS
        assert f"{ARCHIVE}-r01" in _ids(client)  # committed and served though nobody was listening
