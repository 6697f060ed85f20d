"""Report texts and helpers shared by the library tests (test_library, test_crash_points, test_api_library,
test_api_security) and bench/commit_cost.py: writing input files, ingesting them with a given encoder,
checking a report is searchable, and running an ingest in a child process that the test can kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rag.config import Settings
from rag.library import ChangeSummary, Library, read_uploads
from rag.retrieval.retriever import Filters, Retriever

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
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(settings.data_dir), RAG_LIBRARY_DIR=str(settings.library_path()),
               RAG_INDEX_DIR=str(settings.index_dir), RAG_CACHE_DIR=str(settings.cache_dir),
               RAG_MODELS_DIR=str(settings.models_dir), PYTHONPATH=str(ROOT))
    return env


def run_ingest_child(settings: Settings, paths: list[Path], pause_at: str | None = None,
                     kill_after_s: float | None = None, point: int | None = None,
                     count_points: bool = False) -> str | None:
    """Run testkit/ingest_child.py; SIGKILL it at a commit step, a durable-operation point or after a delay
    (returns None), or let it finish (returns its stdout)."""
    env = child_env(settings)
    if pause_at:
        env["INGEST_PAUSE_AT"] = pause_at
    if point:
        env["INGEST_PAUSE_POINT"] = str(point)
    if count_points:
        env["INGEST_COUNT_POINTS"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "testkit.ingest_child", *map(str, paths)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    if pause_at or point:
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            if line.strip() == "PAUSED" or time.monotonic() > deadline:
                break
        else:
            raise AssertionError(f"the child ended before {pause_at or point}: {proc.stderr.read()}")
    elif kill_after_s is not None:
        time.sleep(kill_after_s)
    else:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        return out
    proc.send_signal(signal.SIGKILL)  # kill -9: no cleanup, no finally blocks
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()
    return None
