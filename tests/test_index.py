"""Index build, persistence, staleness and crash safety (fake encoder: fast and exact)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from embeddings.cache import EmbeddingCache
from embeddings.encoder import model_fingerprint
from rag.corpus import load_corpus
from rag.errors import IndexNotReady
from rag.retrieval import index as index_mod
from rag.retrieval.index import build_index, current_version, ensure_index, load_index, read_manifest

FIXTURES = Path(__file__).parent / "fixtures" / "corpus"


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(FIXTURES, d)
    return d


@pytest.fixture
def model_dir(tmp_path) -> Path:
    d = tmp_path / "fake-model"
    d.mkdir()
    (d / "config.json").write_text("{}")
    return d


def _ensure(corpus_dir, tmp_path, model_dir, enc, **kw):
    return ensure_index(load_corpus(corpus_dir), tmp_path / "index", model_fingerprint(model_dir),
                        tmp_path / "cache", encoder_factory=lambda: enc, progress=False, **kw)


def test_build_then_load_round_trip(corpus_dir, tmp_path, model_dir, fake_encoder):
    idx, built = _ensure(corpus_dir, tmp_path, model_dir, fake_encoder)
    assert built and len(idx) > 5
    loaded = load_index(tmp_path / "index")
    assert [c.chunk_id for c in loaded.chunks] == [c.chunk_id for c in idx.chunks]
    assert loaded.dense.index.ntotal == len(idx)
    assert loaded.manifest.corpus_hash == idx.manifest.corpus_hash


def test_fresh_index_is_loaded_not_rebuilt_and_cache_avoids_reembedding(
    corpus_dir, tmp_path, model_dir, fake_encoder
):
    _ensure(corpus_dir, tmp_path, model_dir, fake_encoder)
    calls = fake_encoder.calls
    _, built = _ensure(corpus_dir, tmp_path, model_dir, fake_encoder)
    assert not built and fake_encoder.calls == calls
    idx, built = _ensure(corpus_dir, tmp_path, model_dir, fake_encoder, rebuild=True)
    assert built and idx.manifest.embedded == 0 and fake_encoder.calls == calls  # all from the cache


def test_changed_corpus_makes_the_index_stale_and_only_new_text_is_embedded(
    corpus_dir, tmp_path, model_dir, fake_encoder
):
    first, _ = _ensure(corpus_dir, tmp_path, model_dir, fake_encoder)
    f = corpus_dir / "single_report.txt"
    f.write_text(f.read_text(encoding="utf-8") + "\n四、新增部分\n新增加的一段全新内容，用于检验增量嵌入。\n",
                 encoding="utf-8")
    second, built = _ensure(corpus_dir, tmp_path, model_dir, fake_encoder)
    assert built and second.manifest.corpus_hash != first.manifest.corpus_hash
    assert 1 <= second.manifest.embedded <= 3
    assert any("新增加的一段全新内容" in c.text for c in second.chunks)


def test_changed_model_or_chunker_makes_the_index_stale(corpus_dir, tmp_path, model_dir, fake_encoder):
    _ensure(corpus_dir, tmp_path, model_dir, fake_encoder)
    (model_dir / "config.json").write_text('{"changed": true}')
    _, built = _ensure(corpus_dir, tmp_path, model_dir, fake_encoder)
    assert built
    from rag.retrieval.chunking import ChunkConfig

    _, built = _ensure(corpus_dir, tmp_path, model_dir, fake_encoder, cfg=ChunkConfig(max_chars=100))
    assert built


def test_crash_during_save_keeps_the_previous_version(corpus_dir, tmp_path, model_dir, fake_encoder,
                                                     monkeypatch):
    first, _ = _ensure(corpus_dir, tmp_path, model_dir, fake_encoder)
    live = current_version(tmp_path / "index")

    def boom(self, path):
        raise OSError("disk full")

    monkeypatch.setattr(index_mod.VectorStore, "write", boom)
    cache = EmbeddingCache(tmp_path / "cache" / "embeddings.sqlite")
    with pytest.raises(OSError, match="disk full"):
        build_index(load_corpus(corpus_dir), fake_encoder, tmp_path / "index", cache, "fake:2")
    assert current_version(tmp_path / "index") == live
    assert [c.chunk_id for c in load_index(tmp_path / "index").chunks] == [c.chunk_id for c in first.chunks]
    assert not list((tmp_path / "index").glob(".tmp-*"))


def test_half_written_version_without_manifest_is_never_loaded(corpus_dir, tmp_path, model_dir,
                                                               fake_encoder):
    _ensure(corpus_dir, tmp_path, model_dir, fake_encoder)
    index_dir = tmp_path / "index"
    (index_dir / "v-broken").mkdir()
    (index_dir / "v-broken" / "chunks.jsonl").write_text("garbage")
    (index_dir / "CURRENT").write_text("v-broken")  # as if CURRENT pointed at an incomplete folder
    assert read_manifest(index_dir) is None
    with pytest.raises(IndexNotReady, match="rag index"):
        load_index(index_dir)


def test_missing_index_says_how_to_build_it(tmp_path):
    with pytest.raises(IndexNotReady, match="rag index"):
        load_index(tmp_path / "nothing")


def test_old_versions_are_pruned(corpus_dir, tmp_path, model_dir, fake_encoder):
    for _ in range(4):
        _ensure(corpus_dir, tmp_path, model_dir, fake_encoder, rebuild=True)
    assert len(list((tmp_path / "index").glob("v-*"))) == 2
