"""kill -9 of an ingest at every kind of moment its commit changes the disk: at least 20 crash points.

The child process (testkit/ingest_child.py) counts the commit's durable operations — every fsync, and every
mkdir, link, rename, replace, unlink, rmtree or copy inside the library and index folders — and stops
before the n-th; the test SIGKILLs it there. The ingest replaces one report file and adds another, so
after each kill the corpus must be exactly the old version or exactly the new one: every earlier report
present and searchable, the corpus and index from the same version, nothing half-applied. Every few
points, the next ingest must clean up the debris and complete.
"""

from __future__ import annotations

import shutil

import pytest

from rag.app import open_version
from rag.retrieval.retriever import Retriever
from testkit.fakes import FakeEncoder
from testkit.library_helpers import (
    ARCHIVE_REPORT,
    ARCHIVE_REPORT_V2,
    FIXTURES,
    FORESTRY_PLAN,
    ingest_files,
    run_ingest_child,
    searchable,
    write_file,
)

MIN_POINTS = 20
ARCHIVE = "县档案局2024年工作总结"
FORESTRY = "县林业局2025年工作计划"

pytestmark = pytest.mark.integration  # ~25 child processes killed -9 (~45 s); fake encoder


@pytest.fixture(scope="module")
def before(tmp_path_factory, request):
    """A library with one ingested version (the archive report, first edition), copied for each point."""
    from rag.config import Settings

    root = tmp_path_factory.mktemp("crash")
    shutil.copytree(FIXTURES, root / "data")
    settings = Settings(data_dir=root / "data", library_dir=root / "library", index_dir=root / "index",
                        cache_dir=root / "cache", models_dir=root / "models", _env_file=None)
    first = write_file(root / "in", f"{ARCHIVE}.txt", ARCHIVE_REPORT)
    ingest_files(settings, FakeEncoder(), first)
    write_file(root / "next", f"{ARCHIVE}.txt", ARCHIVE_REPORT_V2)
    write_file(root / "next", f"{FORESTRY}.txt", FORESTRY_PLAN)
    return root, settings


def _fresh(before, tmp_path):
    root, settings = before
    for name in ("data", "library", "index", "cache"):
        shutil.copytree(root / name, tmp_path / name, symlinks=True)
    inputs = [root / "next" / f"{ARCHIVE}.txt", root / "next" / f"{FORESTRY}.txt"]
    folders = {"data_dir": "data", "library_dir": "library", "index_dir": "index", "cache_dir": "cache"}
    return settings.model_copy(update={k: tmp_path / v for k, v in folders.items()}), inputs


def _state(settings) -> str:
    """'old' or 'new', after proving the live version is one of them, whole and searchable."""
    enc = FakeEncoder()
    version, index = open_version(settings, encoder=enc, progress=False)
    assert index.manifest.corpus_hash == version.corpus.content_hash  # corpus and index of one version
    retriever = Retriever(index, enc)
    corpus = version.corpus
    ids = {r.id for r in corpus.reports}
    bundled = {r.id for r in corpus.reports if not r.id.startswith((ARCHIVE, FORESTRY))}
    assert len(bundled) >= 5, "bundled reports were lost"
    for rid in ids:
        assert searchable(retriever, corpus.get(rid)), rid
    archive = corpus.get(f"{ARCHIVE}-r01")  # present in both versions
    text = " ".join(p.text for s in archive.root.iter_sections() for p in s.paragraphs)
    has_forestry = f"{FORESTRY}-r01" in ids
    edition = "new" if "92万页" in text else "old"
    assert ("86万页" in text) == (edition == "old")
    assert has_forestry == (edition == "new"), "half of the change applied"
    return edition


def test_an_ingest_killed_at_any_durable_operation_loses_nothing(before, tmp_path_factory):
    settings, inputs = _fresh(before, tmp_path_factory.mktemp("count"))
    out = run_ingest_child(settings, inputs, count_points=True)
    total = int(next(line.split()[1] for line in out.splitlines() if line.startswith("POINTS ")))
    assert total >= MIN_POINTS, out
    # Every point if there are few; otherwise 24 spread over the whole commit, first and last included.
    points = list(range(1, total + 1)) if total <= 30 else sorted(
        {1, total, *(1 + round(i * (total - 1) / 23) for i in range(24))})
    assert len(points) >= MIN_POINTS
    seen = {"old": 0, "new": 0}
    for n, point in enumerate(points):
        settings, inputs = _fresh(before, tmp_path_factory.mktemp(f"p{point}"))
        assert run_ingest_child(settings, inputs, point=point) is None  # killed at that point
        seen[_state(settings)] += 1
        if n % 4 == 0 or point == total:  # the next ingest cleans up and completes
            out = run_ingest_child(settings, inputs)
            assert out is not None and "DONE" in out
            assert _state(settings) == "new"
            assert not list(settings.library_path().glob(".tmp-*"))
    # the kills fell on both sides of the commit's switch-over
    print(f"crash points: {len(points)} of {total} durable operations; versions after the kill: {seen}")
    assert seen["old"] and seen["new"], seen
