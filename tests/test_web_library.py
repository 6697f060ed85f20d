"""The report library in the chat page, in real headless Chromium against a live server over a scratch library
(fake encoder, fake answer service): upload by file picker and by drag-and-drop with per-file progress, the
refusal of a file the service cannot read, delete with a confirmation, and the API key asked once."""

from __future__ import annotations

import base64
import shutil

import pytest

from api.app import create_app
from rag.app import open_version
from rag.retrieval.retriever import Retriever
from testkit.browser import artifact, ask, chat_page
from testkit.fakes import FakeAnswerService, FakeEncoder
from testkit.library_helpers import ARCHIVE_REPORT, FIXTURES, FORESTRY_PLAN, make_docx, write_file
from testkit.live_server import live_server

pytestmark = pytest.mark.integration  # Chromium and a real uvicorn server

pytest.importorskip("playwright.sync_api")

ARCHIVE = "县档案局2024年工作总结"
FORESTRY = "县林业局2025年工作计划"

ANSWERS_SHOWN = "n => document.querySelectorAll('.msg.assistant .actions:not([hidden])').length === n"



def _library_server(tmp, **settings_update):
    from rag.config import Settings

    data = tmp / "data"
    shutil.copytree(FIXTURES, data)
    settings = Settings(models_dir=tmp / "m", cache_dir=tmp / "c", index_dir=tmp / "i", data_dir=data,
                        library_dir=tmp / "library", _env_file=None).model_copy(update=settings_update)
    enc = FakeEncoder()
    version, index = open_version(settings, encoder=enc, progress=False)
    service = FakeAnswerService(version.corpus, Retriever(index, enc))

    def rebuild(old, corpus, index):
        return FakeAnswerService(corpus, Retriever(index, old.retriever.encoder))

    return live_server(create_app(settings, service=service, rebuild_service=rebuild))


@pytest.fixture
def library_url(tmp_path):
    with _library_server(tmp_path) as url:
        yield url


def _open_library(page) -> int:
    """Switches to 报告库 and returns how many reports it lists."""
    page.click(".tab[data-view='reports']")
    page.wait_for_selector(".count:text-matches('共 \\\\d+ 份报告')", timeout=5_000)
    return int(page.inner_text(".count").split()[1])


def _drop(page, name: str, data: bytes, mime: str) -> None:
    """Drops a file on the upload zone as a person dragging it from their desktop would."""
    page.evaluate("""([name, b64, mime]) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, {type: mime}));
        const zone = document.querySelector('#drop-zone');
        zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
        zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""", [name, base64.b64encode(data).decode(), mime])


def test_upload_a_gbk_txt_and_a_docx_then_ask_about_it_and_read_the_citation(browser, library_url, tmp_path):
    gbk = write_file(tmp_path / "in", f"{ARCHIVE}.txt", ARCHIVE_REPORT, encoding="gbk")
    docx = make_docx(tmp_path / "in" / f"{FORESTRY}.docx", FORESTRY_PLAN.splitlines())
    with chat_page(browser, library_url) as page:
        before = _open_library(page)
        page.set_input_files("#file-input", str(gbk))  # the file picker
        _drop(page, docx.name, docx.read_bytes(),
              "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        page.wait_for_function("document.querySelectorAll('.upload-item.done').length === 2", timeout=30_000)
        for name, title in ((gbk.name, ARCHIVE), (docx.name, FORESTRY)):
            row = page.locator(".upload-item", has=page.locator(f".upload-name:text-is('{name}')"))
            assert row.locator(".upload-status").inner_text() == "完成"
            assert "找到 1 份报告" in row.inner_text() and title in row.locator(".found").inner_text()
            # the stepper marks every step the server reported, in order, all done at the end
            steps = row.locator(".steps li")
            assert steps.all_inner_texts() == ["上传", "解析", "向量化", "保存"]
            assert steps.evaluate_all("ss => ss.map(s => s.className + ('seen' in s.dataset))") == \
                ["donetrue"] * 4
        page.wait_for_selector(f".count:text('共 {before + 2} 份报告')", timeout=5_000)
        assert ARCHIVE in page.inner_text("#report-list") and FORESTRY in page.inner_text("#report-list")
        page.screenshot(path=artifact("library-upload.png"), full_page=True)

        page.click(".tab[data-view='chat']")
        ask(page, "县档案局馆藏档案数字化扫描完成了多少？")
        page.wait_for_selector(".msg.assistant .actions:not([hidden])", timeout=10_000)
        page.click(".answer .cite[data-n='1']")
        mark = page.wait_for_selector("#reader mark.quote", timeout=5_000)
        assert page.inner_text("#reader-title") == ARCHIVE
        assert mark.is_visible() and mark.inner_text() in ARCHIVE_REPORT


def test_a_pdf_is_refused_with_its_message_and_nothing_is_added(browser, library_url, tmp_path):
    pdf = tmp_path / "县审计局2024年工作总结.pdf"
    pdf.write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n")
    with chat_page(browser, library_url) as page:
        before = _open_library(page)
        page.set_input_files("#file-input", str(pdf))
        row = page.wait_for_selector(".upload-item.failed", timeout=10_000)
        text = row.inner_text()
        assert "已拒绝" in text and "文件被拒绝" in text
        assert pdf.name in text and ".txt" in text and ".docx" in text  # the server's reason, naming the file
        page.screenshot(path=artifact("library-refused.png"), full_page=True)
        page.click(".tab[data-view='chat']")
        assert _open_library(page) == before


def test_delete_asks_first_and_cancel_keeps_the_report(browser, library_url, tmp_path):
    gbk = write_file(tmp_path / "in", f"{ARCHIVE}.txt", ARCHIVE_REPORT, encoding="gbk")
    with chat_page(browser, library_url) as page:
        _open_library(page)
        page.set_input_files("#file-input", str(gbk))
        page.wait_for_selector(".upload-item.done", timeout=30_000)
        page.wait_for_selector(f".report-item:has-text('{ARCHIVE}')", timeout=5_000)
        total = _open_library(page)
        page.click(f".report-item:has-text('{ARCHIVE}')")
        page.click(".delete-report")
        dialog = page.wait_for_selector("#confirm[open]")
        assert ARCHIVE in dialog.inner_text()
        page.keyboard.press("Escape")  # Esc is "no"
        page.wait_for_selector("#confirm", state="hidden")
        assert ARCHIVE in page.inner_text("#report-list")
        page.click(".delete-report")
        page.click("#confirm-ok")
        page.wait_for_selector(f"#report-detail .notice:has-text('已删除《{ARCHIVE}》')", timeout=30_000)
        page.wait_for_selector(f".count:text('共 {total - 1} 份报告')", timeout=5_000)
        assert ARCHIVE not in page.inner_text("#report-list")


def test_with_an_api_key_the_page_asks_once_per_session(browser, tmp_path):
    with _library_server(tmp_path, api_key="s3cret-key") as url, chat_page(browser, url) as page:
        asked = []
        page.on("request", lambda r: asked.append(r.headers.get("authorization"))
                if r.url.endswith("/v1/ask/stream") else None)
        ask(page, "县水利局有什么安排？")
        page.wait_for_selector("#key-dialog[open]", timeout=5_000)
        page.fill("#key-input", "s3cret-key")
        page.keyboard.press("Enter")
        page.wait_for_selector(".msg.assistant .actions:not([hidden])", timeout=10_000)
        assert not page.locator(".msg.assistant.failed").count()
        ask(page, "那林业局呢？")
        page.wait_for_function(ANSWERS_SHOWN, arg=2, timeout=10_000)
        assert not page.is_visible("#key-dialog")  # not asked again
        assert asked[-1] == "Bearer s3cret-key"
        assert page.evaluate("sessionStorage.getItem('rag-api-key')") == "s3cret-key"
        assert page.evaluate("localStorage.getItem('rag-api-key')") is None  # not kept past the session
        # uploads carry it too
        _open_library(page)
        report = write_file(tmp_path / "in", f"{ARCHIVE}.txt", ARCHIVE_REPORT)
        page.set_input_files("#file-input", str(report))
        page.wait_for_selector(".upload-item.done", timeout=30_000)
        assert not page.is_visible("#key-dialog")
