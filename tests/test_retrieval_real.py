"""The real path: EmbeddingGemma + FAISS + BM25 over the bundled corpus, on gold questions (slow)."""

from __future__ import annotations

import pytest

from eval.retrieval import load_gold, relevant
from rag.app import open_encoder, open_index
from rag.config import PROJECT_ROOT
from rag.retrieval.index import load_index
from rag.retrieval.retriever import Retriever

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real(real_settings, tmp_path_factory):
    # A private index dir; the embedding cache is the machine's, so this is a warm build after the first.
    settings = real_settings.model_copy(update={"index_dir": tmp_path_factory.mktemp("index")})
    encoder = open_encoder(settings)
    index, built = open_index(settings, encoder=encoder, progress=False)
    assert built
    return settings, Retriever(index, encoder)


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
