"""Where a result came from: git state, machine, model fingerprints, file hashes.

Every result file of `rag eval` records these (``provenance``), so two result files can be told apart long
after the run: the commit and whether the tree was dirty, the CPU it ran on (time figures depend on it: an
AVX2-only CPU evaluates prompts about half as fast as one with AVX-512), the embedding model's fingerprint
(what the index and the embedding cache are keyed by), the GGUF that generated the answers, and the sha256
of the gold file and of the corpus files. The benchmarks under bench/ record ``git_state`` and
``machine`` too.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

from models.fetch import Fetcher
from models.manifest import load_manifest
from rag.config import PROJECT_ROOT, Settings
from rag.corpus.loader import corpus_files
from rag.errors import RagError


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def folder_files(data_dir: Path) -> dict[str, str]:
    """sha256 of every report file in ``data_dir`` by name (empty when the folder does not exist)."""
    if not data_dir.is_dir():
        return {}
    return {p.name: file_sha256(p) for p in corpus_files(data_dir)}


def git_state(root: Path = PROJECT_ROOT) -> dict:
    """The commit checked out and whether the tree differs from it (modified or untracked files)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30,
                              check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        changed = [line for line in git("status", "--porcelain").splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None, "note": "not a git checkout, or git is not installed"}
    return {"commit": commit, "dirty": bool(changed), "changed_files": len(changed)}


# The instruction sets that decide llama.cpp's and torch's speed on a CPU, as /proc/cpuinfo names them.
SPEED_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile")


def machine() -> dict:
    """The CPU a figure was measured on: model name, CPUs usable, the speed-relevant instruction sets, and
    the load average when asked (another job on 2 cores changes every time figure)."""
    model, flags = platform.machine(), set()  # (platform.processor() would run `uname -p`)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:  # not Linux: the model name from platform only
        pass
    return {"cpu": model, "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(), "flags": [f for f in SPEED_FLAGS if f in flags],
            "avx512": "avx512f" in flags, "load_average": [round(x, 2) for x in os.getloadavg()],
            # os.uname, not platform.platform(): that one runs `uname -p` in a subprocess
            "platform": " ".join(os.uname()[i] for i in (0, 2, 4)), "python": platform.python_version()}


def bench_provenance(argv: list[str]) -> dict:
    """What a benchmark's result file records about its run: the command, when, the commit, the CPU."""
    module = sys.modules["__main__"].__spec__
    program = f"python -m {module.name}" if module is not None else sys.argv[0]
    return {"command": " ".join([program, *map(shlex.quote, argv)]),
            "measured_at": time.strftime("%Y-%m-%d %H:%M"), "git": git_state(), "machine": machine()}


def embedding_fingerprint(settings: Settings) -> dict:
    """The embedding model's name and ``model_fingerprint`` (what the index manifest and cache key use)."""
    out: dict = {"name": settings.embedding_model}
    if settings.embedding_base_url:
        out["server"] = settings.embedding_base_url
    try:
        out["fingerprint"] = settings.embedding_model_id()
    except (OSError, RagError) as exc:
        out["fingerprint"] = None
        out["error"] = str(exc)
    return out


def llm_fingerprint(settings: Settings) -> dict:
    """What generated the answers: the GGUF's file name, size and sha256 prefix (the manifest's checksum,
    verified when `models.fetch` installed it, or computed for any other file), or the remote server."""
    if settings.llm_base_url:
        return {"backend": "openai-compatible", "base_url": settings.llm_base_url,
                "model": settings.llm_remote_model}
    try:
        path = settings.llm_model_path()
    except RagError as exc:
        return {"backend": "llama.cpp", "model": settings.llm_model, "error": str(exc)}
    out: dict = {"backend": "llama.cpp", "model": settings.llm_model if settings.llm_path is None else None,
                 "file": path.name}
    if not path.is_file():
        return {**out, "missing": True}
    out["size"] = path.stat().st_size
    if settings.llm_path is None:
        try:
            spec = load_manifest().model(settings.llm_model)
            installed = Fetcher(settings.models_dir, progress=False).is_installed(spec)
            if installed and spec.verify.size == out["size"]:
                return {**out, "sha256": spec.verify.sha256[:16],
                        "sha256_from": "models/manifest.toml (verified when fetched)"}
        except Exception:  # a fingerprint never stops an evaluation: hash the file instead
            pass
    return {**out, "sha256": file_sha256(path)[:16], "sha256_from": "computed"}
