"""The real path of issue #8: a new report file through `rag ingest` with the real embedding model, then
`rag ask --mode extractive --json` answers a question about it with a citation into that file (slow).

The embedding cache is the machine's (the bundled corpus is already embedded there), so only the new
report's chunks are embedded; the library and the index are private temporary folders."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from rag.config import PROJECT_ROOT
from testkit.environ import without_rag_settings

pytestmark = pytest.mark.slow

REPORT = """县气象局2024年工作总结

2024年，县气象局坚持监测精密、预报精准、服务精细，各项工作取得新进展。现将有关情况报告如下：
一、主要工作
（一）加强监测站网建设
全年新建区域自动气象站14个，建成X波段天气雷达1部，乡镇自动站覆盖率达到100%。
（二）提升预报服务能力
发布暴雨预警信号23次，提前量平均达到45分钟；向种植大户推送农业气象服务信息1.2万条。
二、存在的问题
基层预报员力量不足，山区站点维护难度大。
三、下一步打算
推进智能网格预报业务，力争2025年短临预报准确率提高5个百分点。
"""


def _rag(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)


def test_ingest_a_report_then_ask_about_it(real_settings, tmp_path):
    env = without_rag_settings(
        RAG_MODELS_DIR=str(real_settings.models_dir), RAG_CACHE_DIR=str(real_settings.cache_dir),
        RAG_INDEX_DIR=str(tmp_path / "index"), RAG_LIBRARY_DIR=str(tmp_path / "library"),
        RAG_DATA_DIR=str(PROJECT_ROOT / "data"))
    path = tmp_path / "县气象局2024年工作总结.txt"
    path.write_text(REPORT, encoding="gb18030")
    t0 = time.perf_counter()
    done = _rag("ingest", str(path), env=env)
    ingest_s = time.perf_counter() - t0
    assert done.returncode == 0, done.stderr
    assert "added  县气象局2024年工作总结.txt: 1 reports" in done.stdout
    print(f"\ningest of one new report with the real model: {ingest_s:.1f} s\n{done.stdout}")

    t0 = time.perf_counter()
    question = "县气象局2024年新建了多少个区域自动气象站？"
    asked = _rag("ask", question, "--mode", "extractive", "--json", env=env)
    print(f"ask: {time.perf_counter() - t0:.1f} s")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert not answer["refused"], answer["answer"]
    cited = [c for c in answer["citations"] if c["report_id"] == "县气象局2024年工作总结-r01"]
    assert cited and any("14个" in c["quote"] for c in cited), answer["citations"]
    assert cited[0]["source_file"] == "县气象局2024年工作总结.txt"
    # the bundled reports are all still there
    listed = _rag("corpus", "--json", env=env)
    assert len(json.loads(listed.stdout)) == 80
