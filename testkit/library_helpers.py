"""Report texts and helpers shared by the library tests (test_library, test_crash_points, test_api_library,
test_api_security) and bench/commit_cost.py: writing input files, ingesting them with a given encoder,
checking a report is searchable, and running an ingest in a child process that the test can kill -9."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rag.config import Settings
from rag.library import ChangeSummary, Library, read_uploads
from rag.retrieval.retriever import Filters, Retriever
from testkit.environ import without_rag_settings

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "corpus"
ROOT = Path(__file__).resolve().parent.parent

ARCHIVE_REPORT = """县档案局2024年工作总结

2024年，县档案局围绕数字档案馆建设，扎实推进各项工作。现将有关情况报告如下：
一、主要工作
（一）推进档案数字化
全年完成馆藏档案数字化扫描86万页，建成县级数字档案馆并通过省级测评。
（二）加强档案安全
开展档案安全大检查3次，整改隐患12处。
二、下一步打算
继续推进电子文件单套制归档试点。
"""

ARCHIVE_REPORT_V2 = ARCHIVE_REPORT.replace("86万页", "92万页").replace("12处", "15处")

FORESTRY_PLAN = """县林业局2025年工作计划

2025年，县林业局将以森林防火和国土绿化为重点开展工作。
一、森林防火
落实护林员巡山制度，新建防火隔离带20公里。
二、国土绿化
完成植树造林1.5万亩，义务植树30万株。
"""


def write_file(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    """``text`` saved as ``folder/name`` in ``encoding`` (the folder is made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def make_docx(path: Path, paragraphs: list[str]) -> Path:
    """A real .docx (python-docx) with one paragraph per string."""
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(str(path))
    return path


def ingest_files(settings: Settings, enc, *paths: Path, mode="auto", replace=False) -> ChangeSummary:
    """`rag ingest` of ``paths`` into the settings' library, embedding with ``enc``."""
    library = Library(settings, encoder_factory=lambda: enc, progress=False)
    summary, _ = library.ingest(read_uploads(list(paths), settings.ingest_max_bytes), mode, replace=replace)
    return summary


def searchable(retriever: Retriever, report) -> bool:
    """The report comes first when searched by its title among its own chunks."""
    hits = retriever.search(report.title, k=3, filters=Filters(report_id=report.id))
    return bool(hits) and hits[0].report_id == report.id


def child_env(settings: Settings) -> dict[str, str]:
    return without_rag_settings(
        RAG_DATA_DIR=str(settings.data_dir), RAG_LIBRARY_DIR=str(settings.library_path()),
        RAG_INDEX_DIR=str(settings.index_dir), RAG_CACHE_DIR=str(settings.cache_dir),
        RAG_MODELS_DIR=str(settings.models_dir), PYTHONPATH=str(ROOT))


class ForkServer:
    """One ``python -m testkit.ingest_child --fork-server`` for the whole test run: each ingest child is
    forked from it with the imports done. A fork is a process like any other: ``kill -9`` stops it with
    no cleanup and no finally blocks."""

    _running: ForkServer | None = None

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "testkit.ingest_child", "--fork-server"],
                                     cwd=ROOT, env=without_rag_settings(PYTHONPATH=str(ROOT)),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        atexit.register(self.close)

    @classmethod
    def get(cls) -> ForkServer:
        if cls._running is None or cls._running.proc.poll() is not None:
            cls._running = cls()
        return cls._running

    def ask(self, **request) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().strip()
        assert reply, f"the fork server ended (exit {self.proc.poll()})"
        return reply

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            self.proc.stdin.close()  # its loop ends at end of input
            self.proc.wait(timeout=30)


def _exit_code(reply: str) -> int | None:
    return int(reply.split()[2]) if reply.startswith("EXIT") else None


def run_ingest_child(settings: Settings, paths: list[Path], pause_at: str | None = None,
                     kill_after_s: float | None = None, point: int | None = None,
                     count_points: bool = False) -> str | None:
    """Run testkit/ingest_child.py; SIGKILL it at a commit step, a durable-operation point or after a delay
    (returns None), or let it finish (returns its stdout). Steps and points are reached in a child forked
    from the fork server; a kill after a delay starts a fresh interpreter, as `rag ingest` starts, so the
    delay lands where it would in a real command."""
    env = child_env(settings)
    if pause_at:
        env["INGEST_PAUSE_AT"] = pause_at
    if point:
        env["INGEST_PAUSE_POINT"] = str(point)
    if count_points:
        env["INGEST_COUNT_POINTS"] = "1"
    args = [str(p) for p in paths]
    if kill_after_s is not None:
        proc = subprocess.Popen([sys.executable, "-m", "testkit.ingest_child", *args], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(kill_after_s)
        proc.send_signal(signal.SIGKILL)  # kill -9: no cleanup, no finally blocks
        proc.wait(timeout=30)
        return None
    server = ForkServer.get()
    work = Path(tempfile.mkdtemp(prefix="ingest-child-"))
    out, err = work / "stdout", work / "stderr"
    try:
        pid = int(server.ask(op="run", env=env, args=args, out=str(out), err=str(err)).split()[1])
        deadline = time.monotonic() + 120
        while True:
            code = _exit_code(server.ask(op="poll", pid=pid))
            said = out.read_text(encoding="utf-8") if out.exists() else ""
            if (pause_at or point) and "PAUSED" in said.splitlines():
                break
            if code is not None:
                if pause_at or point:
                    raise AssertionError(f"the child ended before {pause_at or point}: {err.read_text()}")
                assert code == 0, err.read_text(encoding="utf-8")
                return said
            if time.monotonic() > deadline:
                break  # hung: killed below, and the test's checks say what it left
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)  # kill -9: no cleanup, no finally blocks
        assert _exit_code(server.ask(op="wait", pid=pid)) == -signal.SIGKILL
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)
