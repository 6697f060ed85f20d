"""What a one-page upload costs when a large report is already in the library.

    .venv/bin/python -m bench.commit_cost [--mb 9]

A scratch library (the test fixtures' reports, the fake encoder: no model is loaded, so the figures are the
commit's own work) gets one large report — a ~9 MB file of numbered items — and then three one-page
reports, each timed by commit step. Every commit re-chunks the whole corpus and writes a new index version;
parsing and BM25 tokenising are paid only for new text (rag/library/store.py's parse cache,
rag/retrieval/index.py's token reuse).
The second upload runs with the parse cache emptied, to show what it saves.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from rag.config import Settings
from rag.library import Library, Upload
from rag.library.versions import forget_parsed
from testkit.fakes import FakeEncoder
from testkit.library_helpers import ARCHIVE_REPORT, FIXTURES, FORESTRY_PLAN


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=9.0, help="size of the large report (default 9 MB)")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="rag-commit-"))
    try:
        shutil.copytree(FIXTURES, root / "data")
        settings = Settings(data_dir=root / "data", library_dir=root / "library", index_dir=root / "index",
                            cache_dir=root / "cache", models_dir=root / "models", _env_file=None)
        encoder = FakeEncoder()
        line = ("（{i}）全年完成馆藏档案数字化扫描{i}万页，建成县级数字档案馆并通过省级测评，"
                "开展档案安全大检查{i}次。")
        items, size, i = [], 0, 0
        while size < args.mb * 1e6:
            i += 1
            items.append(line.format(i=i))
            size += len(items[-1].encode()) + 1
        big = (ARCHIVE_REPORT + "\n".join(items)).encode()
        t0 = time.perf_counter()
        Library(settings, encoder_factory=lambda: encoder, progress=False).ingest(
            [Upload(name="大报告.txt", data=big)])
        print(f"large report: {len(big) / 1e6:.1f} MB ingested in {time.perf_counter() - t0:.1f} s")
        for n, label in enumerate(["one-page upload", "one-page upload, parse cache emptied",
                                   "one-page upload"]):
            if "emptied" in label:
                forget_parsed()
            marks: list[tuple[str, float]] = []
            lib = Library(settings, encoder_factory=lambda: encoder, progress=False,
                          on_step=lambda step, marks=marks: marks.append((step, time.perf_counter())))
            page = FORESTRY_PLAN.replace("县林业局", f"县林业{n}局").encode()
            t0 = time.perf_counter()
            lib.ingest([Upload(name=f"小报告{n}.txt", data=page)])
            steps, previous = [], t0
            for step, at in marks:
                if at - previous >= 0.05:
                    steps.append(f"{step} {at - previous:.1f} s")
                previous = at
            print(f"{label}: {time.perf_counter() - t0:.1f} s ({', '.join(steps)})")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
