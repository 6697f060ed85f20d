"""The real path: EmbeddingGemma + FAISS + BM25 over the bundled corpus, on gold questions (slow).

The bundled corpus's index is the one `make test` builds (`make index`, var/index), shared with every slow
test through the session's ``real_service``; the build from scratch — every chunk through the encoder,
nothing from the cache — runs here on the small corpus of tests/fixtures/, in seconds."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.cache import EmbeddingCache
from embeddings.encoder import model_fingerprint
from eval.retrieval import load_gold, relevant
from rag.config import PROJECT_ROOT
from rag.corpus import load_corpus
from rag.retrieval.index import build_index, load_index
from rag.retrieval.retriever import Retriever

pytestmark = pytest.mark.slow

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "corpus"


@pytest.fixture(scope="module")
def real(real_settings, real_service):
    return real_settings, real_service.retriever


def test_an_index_built_from_scratch_embeds_every_chunk_and_finds_its_report(real_encoder, tmp_path):
    corpus = load_corpus(FIXTURES)
    cache = EmbeddingCache(tmp_path / "cache" / "embeddings.sqlite")  # empty: nothing is reused
    try:
        index = build_index(corpus, real_encoder, tmp_path / "index", cache,
                            model_fingerprint(real_encoder.model_path), progress=False)
        # every chunk and every sentence through the encoder; the cache keeps one vector per distinct text
        n, m = index.manifest.n_chunks, index.manifest.n_sentences
        # (a one-sentence chunk is the same model input as its sentence: embedded once, for the chunk)
        assert index.manifest.embedded == n > 10 and 0 < index.manifest.embedded_sentences <= m and m > n
        assert 0 < len(cache) <= n + m
        again = build_index(corpus, real_encoder, tmp_path / "index", cache,
                            model_fingerprint(real_encoder.model_path), progress=False)
        # the second build takes every vector from the cache
        assert again.manifest.embedded == 0 and again.manifest.embedded_sentences == 0
    finally:
        cache.close()
    loaded = load_index(tmp_path / "index")
    assert np.array_equal(loaded.dense.index.reconstruct_n(0, len(loaded)),
                          index.dense.index.reconstruct_n(0, len(index)))
    assert loaded.sentences is not None and index.sentences is not None
    assert loaded.sentences.spans == index.sentences.spans  # sentence vectors saved beside the chunks
    assert np.allclose(loaded.sentences.matrix, index.sentences.matrix, atol=1e-3)  # float16 on disk
    hits = Retriever(loaded, real_encoder).search("县水利局上半年完成了哪些水利工程？", k=3)
    assert hits and "水利局" in hits[0].report_title


def test_gold_questions_find_their_quote_near_the_top(real):
    _, retriever = real
    items = [i for i in load_gold(PROJECT_ROOT / "eval" / "gold.jsonl") if i.type in ("fact", "list")]
    sample = items[::6][:10]  # spread over the files, fixed choice
    found = 0
    for item in sample:
        hits = retriever.search(item.question, k=5)
        found += any(relevant(h, s) for h in hits for s in item.sources)
    assert found >= 9, f"only {found}/{len(sample)} gold questions found their quote in the top 5"


def test_saved_index_loads_and_answers_the_same(real):
    settings, retriever = real
    loaded = Retriever(load_index(settings.index_dir), retriever.encoder)
    q = "县水利局下半年在资金管理上有什么安排？"
    assert [h.chunk_id for h in loaded.search(q)] == [h.chunk_id for h in retriever.search(q)]
    top = retriever.search(q, k=3)
    assert any("水利" in h.report_title for h in top)


def test_hits_carry_what_the_cli_json_promises(real):
    _, retriever = real
    [hit] = retriever.search("民政局殡葬改革公益性公墓", k=1)
    data = hit.model_dump()
    for key in ("chunk_id", "report_id", "report_title", "source_file", "section_path", "text", "score",
                "line_start", "line_end"):
        assert key in data
    src = (PROJECT_ROOT / "data" / hit.source_file).read_text(encoding="utf-8").split("\n")
    assert hit.text.strip().split("\n")[0][:10] in src[hit.line_start - 1]


def test_cli_search_json_and_bad_input(real, capsys, monkeypatch):
    settings, _ = real
    from rag.cli import main

    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    assert main(["search", "麻阳县教育局校长每学期听课要求", "-k", "3", "--json"]) == 0
    import json

    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 3 and hits[0]["line_start"] >= 1 and hits[0]["section_path"] is not None
    assert main(["search", "   "]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["search", "水利", "-k", "0"]) == 2
    assert "between 1 and 50" in capsys.readouterr().err
