"""The chat page in real headless Chromium against a live server with the fake answer service.

Screenshots land in tests/artifacts/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from api.app import create_app
from testkit.browser import artifact, ask, chat_page, offline_context
from testkit.fakes import FakeAnswerService
from testkit.live_server import live_server

pytestmark = pytest.mark.integration  # Chromium and a real uvicorn server

pytest.importorskip("playwright.sync_api")

QUESTION = "县水利局下半年在资金管理上有什么安排？"


@pytest.fixture(scope="module")
def service(real_corpus, fake_retriever):
    return FakeAnswerService(real_corpus, fake_retriever, token_delay=0.04)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory, service):
    from rag.config import Settings

    tmp = tmp_path_factory.mktemp("web")
    settings = Settings(models_dir=tmp / "m", cache_dir=tmp / "c", index_dir=tmp / "i", _env_file=None)
    with live_server(create_app(settings, service=service)) as url:
        yield url


@pytest.fixture
def page(browser, base_url):
    with chat_page(browser, base_url) as page:
        yield page


def test_question_streams_and_citation_opens_the_highlighted_quote(page, service):
    ask(page, QUESTION)
    # the sources show up first, while the answer is still being written
    page.wait_for_selector(".msg.assistant .evidence-list li", timeout=5_000)
    streaming = page.wait_for_selector(".answer.streaming", timeout=5_000)
    assert "县水利局2023年上半年工作总结和下半年工作计划" in page.inner_text(".evidence-list")
    partial = streaming.inner_text()
    assert partial and "[1]" not in partial  # a prefix of the draft, not yet the whole answer
    page.wait_for_selector(".msg.assistant .actions:not([hidden])", timeout=10_000)
    answer = page.inner_text(".msg.assistant .answer")
    assert answer.startswith(partial) and "县水利局将切实加强资金管理" in answer
    assert page.inner_text(".msg.assistant .sources summary") == "参考来源（4）"  # folded once answered

    page.click(".answer .cite[data-n='1']")
    mark = page.wait_for_selector("#reader mark.quote", timeout=5_000)
    quote = service.ask(QUESTION).citations[0].quote
    assert mark.inner_text() == quote
    assert "5、加强资金监管" in page.inner_text("#reader-path")
    assert mark.is_visible()
    page.screenshot(path=artifact("chat-citation.png"), full_page=True)


def test_refusal_looks_different_and_shows_the_nearest_sections(page):
    ask(page, "火星上的水利局有什么安排？")
    msg = page.wait_for_selector(".msg.assistant.refused", timeout=10_000)
    assert "未找到依据" in msg.inner_text()
    assert page.locator(".msg.assistant.refused .citation-list li").count() >= 1
    assert "最接近的章节" in page.inner_text(".msg.assistant.refused .citation-list")
    color = page.eval_on_selector(".msg.assistant.refused", "e => getComputedStyle(e).backgroundColor")
    assert color not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")  # not an ordinary answer's white
    page.click(".msg.assistant.refused .citation-list li")
    page.wait_for_selector("#reader mark.quote", timeout=5_000)
    page.screenshot(path=artifact("chat-refusal.png"), full_page=True)


def test_follow_up_sends_history_regenerate_and_copy(page):
    bodies: list[dict] = []
    page.on("request", lambda r: bodies.append(json.loads(r.post_data)) if r.url.endswith("/v1/ask/stream")
            else None)
    ask(page, QUESTION)
    page.wait_for_selector(".msg.assistant:nth-of-type(2) .actions:not([hidden])", timeout=10_000)
    ask(page, "那上半年完成了哪些工作？")
    page.wait_for_function("document.querySelectorAll('.msg.assistant .actions:not([hidden])').length === 2",
                           timeout=10_000)
    assert bodies[1]["history"][0] == {"role": "user", "content": QUESTION}
    assert bodies[1]["history"][1]["role"] == "assistant" and "[1]" in bodies[1]["history"][1]["content"]
    # only the last answer can be regenerated; doing so re-asks with the same history
    regen = page.locator(".msg.assistant .regen:visible")
    assert regen.count() == 1
    regen.click()
    page.wait_for_selector(".msg.assistant:last-child .actions:not([hidden])", timeout=10_000)
    assert len(bodies) == 3 and bodies[2] == bodies[1]
    assert page.locator(".msg").count() == 4  # replaced in place, not appended
    page.locator(".msg.assistant:last-child .copy").click()
    page.wait_for_selector(".msg.assistant:last-child .copy:text('已复制')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "[1]" in copied and "来源：" in copied


def test_error_state_offers_a_retry(page):
    ask(page, "水利局资金故障")
    box = page.wait_for_selector(".msg.assistant.failed .error-box", timeout=10_000)
    assert "出错了" in box.inner_text() and "on purpose" in box.inner_text()
    assert page.locator(".msg.assistant.failed .error-box button", has_text="重试").count() == 1
    assert page.is_enabled("#send")  # usable again


def test_report_browser_lists_filters_and_reads_sections(page, real_corpus):
    page.click(".tab[data-view='reports']")
    page.wait_for_selector(f".count:text('共 {len(real_corpus.reports)} 份报告')", timeout=5_000)
    page.select_option("#f-kind", "计划")
    page.fill("#f-body", "水利局")
    page.wait_for_selector(".count:text('共 1 份报告')", timeout=5_000)
    page.click(".report-item")
    page.wait_for_selector(".tree .link", timeout=5_000)
    assert "县水利局" in page.inner_text("#report-detail h2")
    page.click(".tree .link:text('二、下半年工作计划')")
    page.wait_for_selector("#reader-body p", timeout=5_000)
    assert "加强资金监管" in page.inner_text("#reader-body")
    assert page.locator("#reader mark").count() == 0  # reading, not quoting: nothing highlighted
    page.screenshot(path=artifact("reports.png"), full_page=True)


def test_phone_width(browser, base_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(base_url + "/")
    page.wait_for_selector("#status.ready", timeout=10_000)
    ask(page, QUESTION)
    page.wait_for_selector(".msg.assistant .actions:not([hidden])", timeout=10_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    page.tap(".answer .cite")
    page.wait_for_selector("#reader mark.quote", timeout=5_000)
    box = page.eval_on_selector("#reader", "e => e.getBoundingClientRect().toJSON()")
    assert box["width"] >= 385 and box["height"] >= 840  # the source opens as a full-screen sheet
    page.screenshot(path=artifact("chat-phone-reader.png"))
    page.click("#reader-close")
    assert page.is_hidden("#reader")
    page.screenshot(path=artifact("chat-phone.png"))
    # conversations: a drawer behind the ☰ button, not a column eating the screen
    assert not page.is_visible("#sidebar") and page.is_visible("#sidebar-toggle")
    page.tap("#sidebar-toggle")
    page.wait_for_selector("#sidebar .conversation", state="visible")
    assert QUESTION in page.inner_text("#sidebar")
    page.tap("#sidebar-backdrop", position={"x": 370, "y": 400})
    page.wait_for_selector("#sidebar", state="hidden")
    # the library view with its upload zone fits too
    page.tap(".tab[data-view='reports']")
    page.wait_for_selector(".report-item", timeout=5_000)
    assert page.is_visible("#drop-zone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=artifact("library-phone.png"))
    context.close()


def test_loading_state_until_ready(browser, tmp_path, fake_service, monkeypatch):
    import api.app
    from rag.config import Settings

    release = threading.Event()
    monkeypatch.setattr(api.app, "_load_service", lambda s: (release.wait(20), fake_service)[1])
    settings = Settings(models_dir=tmp_path / "m", cache_dir=tmp_path / "c", index_dir=tmp_path / "i",
                        _env_file=None)
    with live_server(create_app(settings)) as url:
        context = browser.new_context()
        page = context.new_page()
        page.goto(url + "/")
        page.wait_for_selector("#status.loading:text('正在加载模型')", timeout=5_000)
        assert page.is_disabled("#send")
        release.set()
        page.wait_for_selector("#status.ready", timeout=10_000)
        assert page.is_enabled("#send")
        context.close()


def test_api_docs_render_offline(browser, base_url):
    context = offline_context(browser, base_url)
    page = context.new_page()
    page.goto(base_url + "/docs")
    page.wait_for_selector(".opblock", timeout=10_000)  # Swagger UI rendered the OpenAPI 3.1 document
    assert page.locator(".opblock").count() >= 10
    assert "/v1/ask/stream" in page.inner_text("body")
    assert not context.outside, context.outside
    context.close()


def test_stop_button_cancels_the_generation(page, service):
    service.token_delay = 0.3  # a slow answer, so there is time to stop it
    try:
        ask(page, "统计局如何提升统计数据质量？")
        page.wait_for_selector(".answer.streaming", timeout=10_000)
        assert page.inner_text("#send") == "停止"
        page.click("#send")
        page.locator(".msg.assistant .notes", has_text="已停止").wait_for(timeout=5_000)
        deadline = time.monotonic() + 3
        while "统计局如何提升统计数据质量？" not in service.cancelled and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "统计局如何提升统计数据质量？" in service.cancelled  # the server stopped generating
        assert page.inner_text("#send") == "发送"
    finally:
        service.token_delay = 0.04


def test_a_question_waiting_for_the_model_shows_its_place(page, service, base_url):
    import httpx

    service.token_delay = 0.1  # the first answer takes a few seconds: long enough to see the queue
    try:
        other = threading.Thread(target=lambda: httpx.post(f"{base_url}/v1/ask", json={"question": QUESTION},
                                                            timeout=60))
        other.start()
        deadline = time.monotonic() + 5
        while not service.running.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        ask(page, "统计局如何提升统计数据质量？")
        page.locator(".progress-text", has_text="排队中：前面还有 1 个问题").wait_for(timeout=5_000)
        page.wait_for_selector(".msg.assistant .actions:not([hidden])", timeout=30_000)
        other.join(30)
    finally:
        service.token_delay = 0.04


@pytest.fixture(scope="module")
def table_url(tmp_path_factory, real_corpus, fake_retriever):
    """A live server with the real answer service (fake encoder, no LLM): tables need no model."""
    from rag.answering.service import AnswerService
    from rag.config import Settings

    tmp = tmp_path_factory.mktemp("web-table")
    settings = Settings(models_dir=tmp / "m", cache_dir=tmp / "c", index_dir=tmp / "i", _env_file=None)
    with live_server(create_app(settings, service=AnswerService(fake_retriever, real_corpus))) as url:
        yield url


def test_a_cross_report_answer_is_a_table_with_clickable_citations_and_copies(browser, table_url):
    with chat_page(browser, table_url, accept_downloads=True) as page:
        _check_table_answer(page)


def _check_table_answer(page) -> None:
    ask(page, "哪些民政部门在建老年食堂？")
    page.wait_for_selector(".msg.assistant .actions:not([hidden])", timeout=10_000)
    headers = page.locator(".answer-table th").all_inner_texts()
    assert headers == ["单位", "报告", "时期", "原文要点"]
    rows = page.locator(".answer-table tbody tr")
    assert rows.count() >= 1
    # the scope scanned is named first: 「在民政部门中共找到2份报告提到…」
    assert re.match(rf"(?:在.+中)?共(?:有|找到){rows.count()}份报告提到", page.inner_text(".table-intro"))
    assert "民政局" in rows.nth(0).locator("td").nth(0).inner_text()
    # a citation chip in a cell opens the report at the quoted clause
    page.click(".answer-table .cite[data-n='1']")
    mark = page.wait_for_selector("#reader mark.quote", timeout=5_000)
    assert mark.inner_text().replace("\n", "").strip()[:6] in rows.nth(0).inner_text().replace("\n", "")
    page.click("#reader-close")
    page.click(".copy-md")
    page.wait_for_selector(".copy-md:text('已复制')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("| 单位 | 报告 | 时期 | 原文要点 |\n|---|---|---|---|\n| ") and "[1] |" in copied
    with page.expect_download() as info:
        page.click(".download-csv")
    data = Path(info.value.path()).read_bytes().decode("utf-8-sig")
    assert data.startswith("单位,报告,时期,原文要点\r\n") and data.count("\r\n") == rows.count() + 1
    page.screenshot(path=artifact("chat-table.png"), full_page=True)


ANSWERS_SHOWN = "n => document.querySelectorAll('.msg.assistant .actions:not([hidden])').length === n"
STORE = "JSON.parse(localStorage.getItem('rag-conversations-v1'))"


def test_a_citation_opens_its_whole_chapter_with_a_breadcrumb_and_neighbours(page):
    ask(page, QUESTION)
    page.wait_for_selector(".msg.assistant .actions:not([hidden])", timeout=10_000)
    page.click(".answer .cite[data-n='1']")
    mark = page.wait_for_selector("#reader mark.quote", timeout=5_000)
    crumbs = page.locator("#reader-path .crumb").all_inner_texts()
    assert crumbs == ["二、下半年工作计划", "5、加强资金监管，确保绩效发挥"]  # the path, top level first
    body = page.inner_text("#reader-body")
    # the whole chapter, not only the cited sub-section: its other sub-sections are there too
    assert "5、加强资金监管" in body and body.count("、") > 5 and len(body) > 3 * len(mark.inner_text())
    inside = page.evaluate("""() => {
        const m = document.querySelector('#reader mark.quote').getBoundingClientRect();
        const b = document.querySelector('#reader-body').getBoundingClientRect();
        return m.top >= b.top && m.bottom <= b.bottom; }""")
    assert inside  # scrolled into view
    assert "一、" in page.inner_text("#reader-prev")  # the previous chapter
    previous = page.inner_text("#reader-prev").lstrip("‹ ")
    page.click("#reader-prev")
    page.wait_for_selector(f"#reader-path .crumb:text('{previous}')")
    assert "5、加强资金监管" not in page.inner_text("#reader-body")
    assert page.locator("#reader mark.quote").count() == 0
    assert "二、下半年工作计划" in page.inner_text("#reader-next")
    # a breadcrumb step opens that section on its own
    page.click("#reader-next")
    page.wait_for_selector("#reader-path .crumb:text('二、下半年工作计划')")
    page.screenshot(path=artifact("reader-context.png"))


def test_a_conversation_is_kept_renamed_exported_continued_and_deleted(browser, base_url):
    with chat_page(browser, base_url, accept_downloads=True) as page:
        bodies: list[dict] = []
        page.on("request", lambda r: bodies.append(json.loads(r.post_data))
                if r.url.endswith("/v1/ask/stream") else None)
        ask(page, QUESTION)
        page.wait_for_function(ANSWERS_SHOWN, arg=1, timeout=10_000)
        ask(page, "那上半年完成了哪些工作？")
        page.wait_for_function(ANSWERS_SHOWN, arg=2, timeout=10_000)

        page.reload()
        page.wait_for_selector("#status.ready", timeout=10_000)
        item = page.locator("#conversation-list .conversation")
        assert item.count() == 1
        assert QUESTION in item.inner_text() and "2 问" in item.inner_text()
        assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", item.inner_text())  # its date
        item.locator(".conv-open").click()
        page.wait_for_function(ANSWERS_SHOWN, arg=2, timeout=5_000)
        assert page.locator(".msg.user").all_inner_texts() == [QUESTION, "那上半年完成了哪些工作？"]
        page.click(".msg.assistant:nth-of-type(2) .answer .cite[data-n='1']")  # citations work after reload
        page.wait_for_selector("#reader mark.quote", timeout=5_000)
        page.keyboard.press("Escape")

        item.locator(".conv-rename").click()
        page.fill(".conv-name", "水利资金问答")
        page.keyboard.press("Enter")
        page.wait_for_selector("#conversation-list .conv-title:text('水利资金问答')")
        assert page.evaluate(STORE)[0]["title"] == "水利资金问答"

        with page.expect_download() as info:
            item.locator(".conv-export").click()
        assert info.value.suggested_filename == "水利资金问答.md"
        markdown = Path(info.value.path()).read_text(encoding="utf-8")
        _check_export(markdown, page.evaluate(STORE)[0])
        artifact("conversation-export.md").write_text(markdown, encoding="utf-8")

        ask(page, "那下半年呢？")  # the follow-up carries the restored history
        page.wait_for_function(ANSWERS_SHOWN, arg=3, timeout=10_000)
        assert [t["content"] for t in bodies[-1]["history"][::2]] == [QUESTION, "那上半年完成了哪些工作？"]
        assert len(page.evaluate(STORE)[0]["exchanges"]) == 3
        page.screenshot(path=artifact("conversations.png"))

        item.locator(".conv-delete").click()
        page.click("#confirm-ok")
        page.wait_for_selector("#no-conversations:not([hidden])")
        assert page.evaluate(STORE) == [] and page.locator("#messages .msg").count() == 0


def _check_export(markdown: str, stored: dict) -> None:
    """The Markdown has every question and answer, and one numbered source list that the answers' markers
    point into, each source with its report, section and quote."""
    assert markdown.startswith("# 水利资金问答\n")
    questions = [ex["question"] for ex in stored["exchanges"]]
    assert re.findall(r"^## \d+\. (.+)$", markdown, re.M) == questions
    body, _, sources = markdown.partition("\n## 来源\n")
    numbered = dict(re.findall(r"^\[(\d+)\] (.+)$", sources, re.M))
    assert numbered, markdown
    for ex in stored["exchanges"]:
        for c in ex["answer"]["citations"]:
            label = " › ".join([c["report_title"], *c["section_path"]])
            n = next(k for k, v in numbered.items() if v == label)
            assert f"[{n}] {label}\n> {c['quote']}" in sources  # report, section and quote
    for n in re.findall(r"\[(\d+)\]", body):
        assert n in numbered  # every marker has its source


def test_keyboard_only_ask_and_read(page):
    assert page.evaluate("document.activeElement.id") == "question"  # typing can start at once
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg.assistant .actions:not([hidden])", timeout=10_000)
    assert page.get_attribute("#messages", "role") == "log"
    for _ in range(40):  # back from the question box into the answer, until a citation has focus
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.classList.contains('cite')"):
            break
    else:
        pytest.fail("no citation chip is reachable with the keyboard")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # visible focus
    page.keyboard.press("Enter")
    page.wait_for_selector("#reader mark.quote", timeout=5_000)
    assert page.get_attribute("#reader", "role") == "dialog"
    assert page.evaluate("document.activeElement.id") == "reader-body"  # focus moved into the reader
    page.keyboard.press("Escape")
    assert page.is_hidden("#reader")
    assert page.evaluate("document.activeElement.classList.contains('cite')")  # and back where it was


def test_two_citations_into_one_report_share_one_reader(browser, table_url):
    with chat_page(browser, table_url) as page:
        sections: list[str] = []
        page.on("request", lambda r: sections.append(r.url) if "/sections/" in r.url else None)
        page.select_option("#mode", "extractive")
        ask(page, "县水利局上半年完成了哪些工作？")  # answered from two sub-sections of one chapter
        page.wait_for_selector(".msg.assistant .actions:not([hidden])", timeout=10_000)
        chips = page.locator(".answer .cite")
        titles = chips.evaluate_all("cs => cs.map(c => c.title.split(' › ')[0])")
        first, second = next((i, j) for i in range(len(titles)) for j in range(i + 1, len(titles))
                             if titles[i] == titles[j])
        chips.nth(first).click()
        page.wait_for_selector("#reader mark.quote", timeout=5_000)
        quote_one = page.inner_text("#reader mark.quote")
        assert page.locator("#reader mark.cited").count() >= 1  # the other citation, marked lightly
        loaded = len(sections)
        chips.nth(second).click()
        page.wait_for_function("q => document.querySelector('#reader mark.quote').innerText !== q",
                               arg=quote_one, timeout=5_000)
        assert page.is_visible("#reader")
        assert len(sections) == loaded  # the same chapter in the same reader: nothing fetched again
