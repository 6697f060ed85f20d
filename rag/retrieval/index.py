"""The search index: chunks + dense vectors (FAISS) + BM25, persisted as one versioned folder.

Layout of ``index_dir``::

    CURRENT                 name of the live version folder (replaced atomically)
    v-<corpus>-<time>/      manifest.json, chunks.jsonl, tokens.json, dense.faiss,
                            sentences.json + sentences.npy (each chunk's sentences and their vectors:
                            rag/retrieval/sentences.py)

A build writes a new version folder aside, fsyncs it, renames it into place and only then swaps
``CURRENT``; a crash at any point leaves the previous version loadable. The manifest records what the
index was built from (embedding model, chunker version and settings, corpus hash) so a stale index
is detected and rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from embeddings.cache import EmbeddingCache, cached_encode
from rag.corpus import Corpus
from rag.errors import IndexNotReady
from rag.retrieval.bm25 import BM25, tokenize
from rag.retrieval.chunking import CHUNKER_VERSION, Chunk, ChunkConfig, chunk_corpus
from rag.retrieval.sentences import SentenceVectors, embed_sentences
from rag.storage import fsync_dir, prune_versions, set_current, write_file

FORMAT = 2  # 2: sentence vectors beside the chunks


class IndexManifest(BaseModel):
    format: int = FORMAT
    model_id: str
    chunker_version: str
    chunk_config: ChunkConfig
    corpus_hash: str
    n_chunks: int
    dim: int
    built_at: float
    build_seconds: float
    embedded: int  # how many chunks had to be embedded (the rest came from the cache)
    n_sentences: int = 0
    embedded_sentences: int = 0  # how many sentences had to be embedded (the rest came from the cache)

    def matches(self, model_id: str, corpus_hash: str, cfg: ChunkConfig) -> bool:
        return (self.format == FORMAT and self.model_id == model_id and self.corpus_hash == corpus_hash
                and self.chunker_version == CHUNKER_VERSION and self.chunk_config == cfg)


class VectorStore:
    """Dense search behind one class: exact inner product now; swap in HNSW/IVF for big corpora."""

    def __init__(self, vectors: np.ndarray):
        import faiss

        self.dim = int(vectors.shape[1])
        self.index: faiss.Index = faiss.IndexFlatIP(self.dim)
        if len(vectors):
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    @classmethod
    def read(cls, path: Path) -> VectorStore:
        import faiss

        store = cls.__new__(cls)
        store.index = faiss.read_index(str(path))
        store.dim = store.index.d
        return store

    def write(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of the query to every chunk (exact; fine up to ~10⁵ chunks)."""
        n = self.index.ntotal
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        sims, ids = self.index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), n)
        out = np.empty(n, dtype=np.float32)
        out[ids[0]] = sims[0]
        return out


class SearchIndex:
    def __init__(self, manifest: IndexManifest, chunks: list[Chunk], tokens: list[list[str]],
                 dense: VectorStore, version: str | None = None, sentences: SentenceVectors | None = None):
        self.manifest = manifest
        # None for in-memory indexes (baselines, sweeps, fakes): the judge then embeds what it reads.
        self.sentences = sentences
        self.version = version  # name of the folder it was saved to / loaded from (None: in memory)
        self.chunks = chunks
        self.tokens = tokens
        self.dense = dense
        self.bm25 = BM25(tokens)

    def __len__(self) -> int:
        return len(self.chunks)


def bm25_document(chunk: Chunk) -> str:
    """What BM25 indexes: the context (report header, section path) and the normalised body."""
    return f"{chunk.context} {chunk.search_text}"


# BM25 tokens by document text, for the chunks of the last index built or loaded in this process. A commit
# (library/store.py) re-chunks the whole corpus; with this only new text goes through jieba, which was 80% of
# a commit's time with a 9 MB report in the library (8.6 s for a one-page upload; measured in issue 13).
_tokens_by_document: dict[str, list[str]] = {}
_tokens_lock = threading.Lock()


def _remember_tokens(documents: list[str], tokens: list[list[str]]) -> None:
    with _tokens_lock:
        _tokens_by_document.clear()
        _tokens_by_document.update(zip(documents, tokens, strict=True))


def document_tokens(chunks: list[Chunk]) -> list[list[str]]:
    documents = [bm25_document(c) for c in chunks]
    with _tokens_lock:
        known = {d: _tokens_by_document[d] for d in documents if d in _tokens_by_document}
    tokens = [known[d] if d in known else tokenize(d) for d in documents]
    _remember_tokens(documents, tokens)
    return tokens


def memory_index(chunks: list[Chunk], vectors: np.ndarray, label: str = "in-memory",
                 cfg: ChunkConfig | None = None, corpus_hash: str = "") -> SearchIndex:
    """An unsaved index over given chunks and vectors: baselines, sweeps and tests."""
    manifest = IndexManifest(model_id=label, chunker_version=label, chunk_config=cfg or ChunkConfig(),
                             corpus_hash=corpus_hash, n_chunks=len(chunks), dim=int(vectors.shape[1]),
                             built_at=time.time(), build_seconds=0.0, embedded=0)
    return SearchIndex(manifest, chunks, document_tokens(chunks), VectorStore(vectors))


# -- building -----------------------------------------------------------------------------------


def embed_chunks(chunks: list[Chunk], encoder, cache: EmbeddingCache | None,
                 progress: bool = True) -> tuple[np.ndarray, int]:
    inputs = encoder.document_inputs([c.search_text for c in chunks], [c.embed_title for c in chunks])
    if cache is None:
        return encoder.encode_inputs(inputs, progress=progress), len(inputs)
    return cached_encode(cache, encoder.model_id, inputs,
                         lambda idx: encoder.encode_inputs([inputs[i] for i in idx]),
                         encoder.dim, progress=progress)


def build_index(corpus: Corpus, encoder, index_dir: Path, cache: EmbeddingCache | None,
                model_id: str, cfg: ChunkConfig | None = None, progress: bool = True,
                make_current: bool = True) -> SearchIndex:
    """Chunk, embed (cached vectors are reused, so only new text costs encoder time), save a version.

    ``make_current=False`` saves the version without pointing ``CURRENT`` at it: ingest does that only
    after the corpus version naming this index is committed (``rag/library/store.py``)."""
    cfg = cfg or ChunkConfig()
    t0 = time.perf_counter()
    chunks = chunk_corpus(corpus, cfg)
    tokens = document_tokens(chunks)
    vectors, embedded = embed_chunks(chunks, encoder, cache, progress=progress)
    sentences, embedded_sentences = embed_sentences(chunks, encoder, cache, progress=progress)
    manifest = IndexManifest(model_id=model_id, chunker_version=CHUNKER_VERSION, chunk_config=cfg,
                             corpus_hash=corpus.content_hash, n_chunks=len(chunks), dim=vectors.shape[1],
                             built_at=time.time(), build_seconds=0.0, embedded=embedded,
                             n_sentences=len(sentences), embedded_sentences=embedded_sentences)
    dense = VectorStore(vectors)
    manifest.build_seconds = round(time.perf_counter() - t0, 3)
    final = save_index(index_dir, manifest, chunks, tokens, dense, make_current=make_current,
                       sentences=sentences)
    return SearchIndex(manifest, chunks, tokens, dense, version=final.name, sentences=sentences)


def save_index(index_dir: Path, manifest: IndexManifest, chunks: list[Chunk], tokens: list[list[str]],
               dense: VectorStore, keep: int = 2, make_current: bool = True,
               sentences: SentenceVectors | None = None) -> Path:
    index_dir.mkdir(parents=True, exist_ok=True)
    tmp = index_dir / f".tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        write_file(tmp / "chunks.jsonl", "".join(c.model_dump_json() + "\n" for c in chunks))
        write_file(tmp / "tokens.json", json.dumps(tokens, ensure_ascii=False))
        dense.write(tmp / "dense.faiss")
        if sentences is not None:
            sentences.write(tmp)
        with open(tmp / "dense.faiss", "rb") as f:
            os.fsync(f.fileno())
        write_file(tmp / "manifest.json", manifest.model_dump_json(indent=2))  # written last: marks complete
        fsync_dir(tmp)
        name = f"v-{manifest.corpus_hash[:10]}-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:4]}"
        final = index_dir / name
        os.replace(tmp, final)
        fsync_dir(index_dir)
        if make_current:
            set_current(index_dir, name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if make_current:
        prune(index_dir, keep=keep, live=name)
    return final


def prune(index_dir: Path, keep: int, live: str | Iterable[str], min_age_s: float = 60.0) -> list[str]:
    """Remove all but the ``keep`` newest index versions (by build time; never a ``live`` one) and a
    crashed build's leftovers. Returns the versions that remain."""
    return prune_versions(index_dir, "v-*", keep, [live] if isinstance(live, str) else live,
                          order=lambda p: p.stat().st_mtime, min_age_s=min_age_s)


# -- loading ------------------------------------------------------------------------------------


def current_version(index_dir: Path, name: str | None = None) -> Path | None:
    """The version folder ``CURRENT`` names (or ``name``), if it is complete."""
    if name is None:
        try:
            name = (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
        except OSError:
            return None
    if not name or "/" in name or name.startswith("."):
        return None
    path = index_dir / name
    return path if (path / "manifest.json").is_file() else None


def read_manifest(index_dir: Path, name: str | None = None) -> IndexManifest | None:
    version = current_version(index_dir, name)
    if version is None:
        return None
    try:
        return IndexManifest.model_validate_json((version / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_index(index_dir: Path, name: str | None = None) -> SearchIndex:
    """The version ``CURRENT`` names, or the version folder ``name``."""
    version = current_version(index_dir, name)
    if version is None:
        raise IndexNotReady(f"no search index in {index_dir}; run `rag index` (or `make index`)")
    try:
        manifest = IndexManifest.model_validate_json((version / "manifest.json").read_text(encoding="utf-8"))
        with open(version / "chunks.jsonl", encoding="utf-8") as f:
            chunks = [Chunk.model_validate_json(line) for line in f if line.strip()]
        tokens = json.loads((version / "tokens.json").read_text(encoding="utf-8"))
        dense = VectorStore.read(version / "dense.faiss")
        sentences = SentenceVectors.read(version) if manifest.n_sentences else None
    except (OSError, ValueError) as exc:
        raise IndexNotReady(f"index in {version} is unreadable ({exc}); run `rag index --rebuild`") from exc
    if not (len(chunks) == len(tokens) == dense.index.ntotal == manifest.n_chunks) or (
            sentences is not None
            and (len(sentences) != manifest.n_sentences or len(sentences.spans) != len(chunks))):
        raise IndexNotReady(f"index in {version} is inconsistent; run `rag index --rebuild`")
    _remember_tokens([bm25_document(c) for c in chunks], tokens)  # the next commit's unchanged chunks
    return SearchIndex(manifest, chunks, tokens, dense, version=version.name, sentences=sentences)


def ensure_index(corpus: Corpus, index_dir: Path, model_id: str, cache_dir: Path,
                 encoder_factory: Callable[[], object], rebuild: bool = False,
                 cfg: ChunkConfig | None = None, progress: bool = True,
                 prefer: str | None = None) -> tuple[SearchIndex, bool]:
    """Load the index if it is fresh, else build it. Returns (index, built).

    ``prefer``: a version folder to use if it fits the corpus (the one an ingest built for this corpus
    version), checked before ``CURRENT``; a reader never depends on ``CURRENT`` having been swapped."""
    cfg = cfg or ChunkConfig()
    if not rebuild and prefer is not None:
        preferred = read_manifest(index_dir, prefer)
        if preferred is not None and preferred.matches(model_id, corpus.content_hash, cfg):
            return load_index(index_dir, prefer), False
    manifest = read_manifest(index_dir)
    if not rebuild and manifest is not None and manifest.matches(model_id, corpus.content_hash, cfg):
        return load_index(index_dir), False
    if manifest is not None and not rebuild:
        print("index is stale (corpus, chunker or model changed); rebuilding", file=sys.stderr)
    encoder = encoder_factory()
    cache = EmbeddingCache(cache_dir / "embeddings.sqlite")
    try:
        return build_index(corpus, encoder, index_dir, cache, model_id, cfg, progress=progress), True
    finally:
        cache.close()
