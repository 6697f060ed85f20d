"""The README's screenshots, taken from the real page: `rag serve` with this machine's models and index (a
scratch library, so uploads here never touch yours), driven by headless Chromium.

    .venv/bin/python -m docs.screenshots            # writes docs/{chat,reader,upload,phone}.png

Needs `make models` and `make index` first (the server loads in ~30 s then), and Debian's chromium.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from tqdm import tqdm

from testkit.browser import launch_browser
from testkit.library_helpers import ARCHIVE_REPORT
from testkit.serve_process import ServeProcess

DOCS = Path(__file__).resolve().parent
QUESTION = "县水利局下半年在资金管理上有什么安排？"  # the README's example
FOLLOW_UP = "那上半年完成了哪些工作？"
ANSWERS_SHOWN = "n => document.querySelectorAll('.msg.assistant .actions:not([hidden])').length >= n"
UPLOAD_NAME = "县档案局2024年工作总结.txt"


def _answer(page, question: str, n: int) -> None:
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_function(ANSWERS_SHOWN, arg=n, timeout=600_000)


def take(out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    shots: list[Path] = []
    steps = tqdm(total=5, desc="screenshots", unit="step")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        scratch = Path(tmp)
        env = {**os.environ, "RAG_LIBRARY_DIR": str(scratch / "library")}
        server = ServeProcess(env, scratch / "serve.log")
        steps.update()
        browser = launch_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
            page.goto(server.url + "/")
            page.wait_for_selector("#status.ready", timeout=60_000)
            _answer(page, QUESTION, 1)
            _answer(page, FOLLOW_UP, 2)
            shots.append(out / "chat.png")
            page.screenshot(path=shots[-1])
            steps.update()

            page.click(".msg.assistant:nth-of-type(2) .answer .cite")
            page.wait_for_selector("#reader mark.quote", timeout=30_000)
            shots.append(out / "reader.png")
            page.screenshot(path=shots[-1])
            steps.update()

            page.keyboard.press("Escape")
            page.click(".tab[data-view='reports']")
            page.wait_for_selector(".report-item", timeout=30_000)
            upload = scratch / UPLOAD_NAME
            upload.write_bytes(ARCHIVE_REPORT.encode("gbk"))
            refused = scratch / "县审计局2024年工作总结.pdf"
            refused.write_bytes(b"%PDF-1.7\n%%EOF\n")
            page.set_input_files("#file-input", [str(upload), str(refused)])
            page.wait_for_selector(".upload-item.done", timeout=300_000)
            page.wait_for_selector(".upload-item.failed", timeout=60_000)
            page.click(".report-item:has-text('县档案局')")
            page.wait_for_selector("#report-detail .tree", timeout=30_000)
            shots.append(out / "upload.png")
            page.screenshot(path=shots[-1])
            steps.update()

            phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                     locale="zh-CN")
            phone.goto(server.url + "/")
            phone.wait_for_selector("#status.ready", timeout=60_000)
            _answer(phone, QUESTION, 1)
            shots.append(out / "phone.png")
            phone.screenshot(path=shots[-1])
            phone.tap(".answer .cite")
            phone.wait_for_selector("#reader mark.quote", timeout=30_000)
            shots.append(out / "phone-reader.png")
            phone.screenshot(path=shots[-1])
            steps.update()
        finally:
            browser.close()
            server.stop()
            steps.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DOCS, help="folder for the PNG files (default: docs/)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for shot in take(args.out):
        print(shot)


if __name__ == "__main__":
    main()
