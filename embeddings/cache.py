"""On-disk embedding cache: model id + exact input text → vector.

A rebuild (or a fresh clone on the same machine) only embeds texts it has never seen. SQLite gives
atomic, crash-safe writes for free; one row per text, the vector stored as float32 bytes.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm


def text_key(model_id: str, text: str) -> str:
    return hashlib.sha256(f"{model_id}\x1f{text}".encode()).hexdigest()


class EmbeddingCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        self._db.commit()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            batch = list(keys[i : i + 500])
            marks = ",".join("?" * len(batch))
            for key, blob in self._db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})", batch):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)",
                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
            )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def cached_encode(
    cache: EmbeddingCache,
    model_id: str,
    keys_texts: Sequence[str],
    encode: Callable[[list[int]], np.ndarray],
    dim: int,
    flush_every: int = 64,
    progress: bool = False,
) -> tuple[np.ndarray, int]:
    """Vectors for ``keys_texts`` (the exact strings fed to the model), computing only the missing ones.

    ``encode(indices)`` embeds the items at those positions. Results are written to the cache every
    ``flush_every`` items, so an interrupted build keeps what it already paid for. Returns the matrix
    and how many items were computed.
    """
    keys = [text_key(model_id, t) for t in keys_texts]
    found = cache.get_many(keys)
    missing = [i for i, k in enumerate(keys) if k not in found]
    with tqdm(total=len(missing), desc="embedding", unit="chunk", disable=not progress or not missing,
              mininterval=0.5 if sys.stderr.isatty() else 15.0) as bar:
        for start in range(0, len(missing), flush_every):
            idx = missing[start : start + flush_every]
            vecs = encode(idx)
            fresh = {keys[i]: v for i, v in zip(idx, vecs, strict=True)}
            cache.put_many(fresh)
            found.update(fresh)
            bar.update(len(idx))
    out = np.zeros((len(keys), dim), dtype=np.float32)
    for i, k in enumerate(keys):
        out[i] = found[k]
    return out, len(missing)
