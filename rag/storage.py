"""Durable, crash-safe folder primitives shared by the index (``rag/retrieval/index.py``) and the library
(``rag/library/store.py``): write aside and fsync, swap a ``CURRENT`` pointer atomically, prune old versions,
and *leases* that keep a version alive while a reader uses it.

Why leases: a reader (a running server) loads a version and then keeps reading its files (evidence is
read lazily from the source files). Writers prune old versions; pruning by age alone could delete the
folder a slower reader still holds. A reader therefore holds a shared ``flock`` on
``<root>/.leases/<version>`` for as long as it uses the version, and the pruner skips any version whose
lease it cannot lock exclusively. Locks die with their process, so a crashed reader never pins a version.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

LEASES = ".leases"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def write_file(path: Path, data: str | bytes) -> None:
    """Write and fsync one file (its folder is fsynced by whoever renames the folder into place)."""
    binary = isinstance(data, bytes)
    with open(path, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def replace_file(path: Path, data: str | bytes) -> None:
    """Replace ``path`` atomically: write aside, fsync, rename, fsync the folder."""
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    write_file(tmp, data)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def set_current(folder: Path, name: str) -> None:
    """Point ``folder/CURRENT`` at ``name``: write aside, fsync, rename, fsync the folder (atomic)."""
    tmp = folder / f"CURRENT.{uuid.uuid4().hex[:8]}.tmp"
    write_file(tmp, name)
    os.replace(tmp, folder / "CURRENT")
    fsync_dir(folder)


# -- leases ---------------------------------------------------------------------------------------------


class Lease:
    """A reader's hold on one version folder (a shared flock). Released by ``release()`` or when the
    object is garbage-collected or the process ends."""

    def __init__(self, root: Path, name: str):
        self.name = name
        folder = root / LEASES
        folder.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = open(folder / name, "a+")  # noqa: SIM115 - held for the lease's life
        fcntl.flock(self._file.fileno(), fcntl.LOCK_SH)  # waits only while a pruner checks this version

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the lock
            self._file = None

    def __del__(self) -> None:
        self.release()


def leased(root: Path, name: str) -> bool:
    """Whether a reader holds ``name``: its lease file is locked by someone else."""
    path = root / LEASES / name
    if not path.exists():
        return False
    with open(path, "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    return False


def _remove_version(root: Path, folder: Path) -> bool:
    """Delete a version folder unless leased; the exclusive lock is held while deleting, so a reader that
    takes the lease meanwhile waits, then finds the folder gone and reads ``CURRENT`` again."""
    lease = root / LEASES / folder.name
    if not lease.exists():
        shutil.rmtree(folder, ignore_errors=True)
        return True
    with open(lease, "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            lease.unlink()
    return True


def prune_versions(root: Path, pattern: str, keep: int, live: Iterable[str],
                   order: Callable[[Path], SupportsRichComparison], min_age_s: float = 60.0) -> list[str]:
    """Remove all but the ``keep`` newest version folders by ``order`` — never a ``live`` or leased one —
    and the temporary folders and pointer files of crashed writers (those younger than ``min_age_s`` may
    be another process's work in progress). Returns the names of the versions that remain."""
    live = set(live)
    versions = sorted((p for p in root.glob(pattern) if p.is_dir()), key=order)
    old = versions[: max(0, len(versions) - keep)]
    removed = {p.name for p in old if p.name not in live and _remove_version(root, p)}
    for tmp in [*root.glob(".tmp-*"), *root.glob("CURRENT.*.tmp")]:
        try:
            if time.time() - tmp.stat().st_mtime >= min_age_s:
                shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
        except OSError:
            pass
    leases = root / LEASES
    if leases.is_dir():  # leases of versions that are gone (a reader's lock blocks nothing here)
        for stale in leases.iterdir():
            if not (root / stale.name).exists() and not leased(root, stale.name):
                with contextlib.suppress(OSError):
                    stale.unlink()
    return [p.name for p in versions if p.name not in removed]
