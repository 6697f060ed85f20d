"""Embeddings from a server over the OpenAI-compatible ``/v1/embeddings`` API (``embeddings/remote.py``).

The real path: the EmbeddingGemma safetensors converted to GGUF by llama.cpp's own converter
(``rag models gguf-embedding``), served by ``python -m llama_cpp.server --embedding true`` started here,
and compared with the in-process encoder: the same vectors (cosine ≥ 0.999), the same top passages, an
index built through it, and a clear error when it goes away. The unit tests drive the client's retries and
checks through httpx's mock transport.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from embeddings.remote import QUERY_PROMPT, EmbeddingServerError, RemoteEncoder
from tests import engines

# -- unit: the client's checks and retries (no server) ----------------------------------------------------


def _server(dim: int = 4, fail_first: int = 0, status: int = 503, count_delta: int = 0):
    """A mock transport answering like an embeddings server; ``calls`` records the inputs it got."""
    calls: list[list[str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        calls.append(body["input"])
        if len(calls) <= fail_first:
            return httpx.Response(status, text="busy")
        n = len(body["input"]) + count_delta
        data = [{"index": i, "embedding": [float(i + 1)] + [0.5] * (dim - 1)} for i in range(n)]
        return httpx.Response(200, json={"data": data[::-1], "model": body["model"]})

    return httpx.MockTransport(handle), calls


def _encoder(transport, **kw) -> RemoteEncoder:
    return RemoteEncoder("http://embed.test", transport=transport, backoff_s=0.001, **kw)


def test_vectors_come_back_in_input_order_normalised_and_batched():
    transport, calls = _server(dim=4)
    enc = _encoder(transport, batch_size=2)
    assert enc.dim == 4 and enc.model_id == "remote:embeddinggemma-300m"
    vecs = enc.encode_documents(["甲", "乙", "丙"], ["标题", "标题", "标题"])
    assert vecs.shape == (3, 4) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0)
    # reordered by "index", not by reply order; the third went alone in a second batch, so it is first there
    assert vecs[0, 0] < vecs[1, 0] and np.allclose(vecs[2], vecs[0])
    assert calls[1:] == [["title: 标题 | text: 甲", "title: 标题 | text: 乙"], ["title: 标题 | text: 丙"]]
    enc.encode_queries(["县水利局的投资？"])
    assert calls[-1] == [QUERY_PROMPT + "县水利局的投资？"]
    assert enc.encode_inputs([]).shape == (0, 4)


def test_a_busy_server_is_retried_then_reported_with_what_to_do():
    transport, calls = _server(fail_first=2)
    assert _encoder(transport).dim == 4 and len(calls) == 3
    transport, calls = _server(fail_first=99, status=502)
    with pytest.raises(EmbeddingServerError, match=r"unavailable after 3 attempts.*HTTP 502.*RAG_EMBEDDING"):
        _encoder(transport, retries=2)
    assert len(calls) == 3


def test_a_request_error_is_not_retried():
    transport, calls = _server(fail_first=99, status=400)
    with pytest.raises(EmbeddingServerError, match=r"refused the request .HTTP 400"):
        _encoder(transport)
    assert len(calls) == 1


def test_wrong_sizes_and_counts_are_refused():
    transport, _ = _server(dim=4)
    with pytest.raises(EmbeddingServerError, match=r"4-dim vectors.*768 were expected"):
        _encoder(transport, dim=768)
    transport, _ = _server(dim=4, count_delta=-1)
    with pytest.raises(EmbeddingServerError, match="returned 0 vectors for 1 inputs"):
        _encoder(transport)

    def ragged(request: httpx.Request) -> httpx.Response:
        n = len(json.loads(request.content)["input"])
        data = [{"index": i, "embedding": [1.0] * (3 + i)} for i in range(n)]
        return httpx.Response(200, json={"data": data})

    with pytest.raises(EmbeddingServerError, match=r"size \[3, 4\], expected 3"):
        RemoteEncoder("http://embed.test", transport=httpx.MockTransport(ragged)).encode_inputs(["a", "b"])


def test_a_reply_that_is_not_an_embeddings_reply_is_refused():
    transport = httpx.MockTransport(lambda r: httpx.Response(200, text="<html>proxy login</html>"))
    with pytest.raises(EmbeddingServerError, match="not an OpenAI embeddings reply"):
        RemoteEncoder("http://embed.test", transport=transport)


def test_settings_key_the_index_and_cache_by_the_remote_model(tmp_path):
    from rag.config import Settings

    s = Settings(_env_file=None, embedding_base_url="http://embed.test", embedding_remote_model="eg-gguf",
                 models_dir=tmp_path / "m", data_dir=tmp_path / "d")
    assert s.embedding_model_id() == "remote:eg-gguf"


# -- the real path: llama.cpp's server, started here, serving EmbeddingGemma as GGUF -----------------------

FIXTURES = Path(__file__).parent / "fixtures" / "corpus"
QUESTIONS = ["县水利局上半年完成了哪些水利工程？", "民政局的养老服务工作", "统计局第一季度的统计调查",
             "街道下半年的社区治理计划", "镇里的安全生产检查", "防汛抗旱准备"]


@pytest.fixture(scope="module")
def embedding_server(real_settings, tmp_path_factory):
    from models.convert import gguf_path, make_embedding_gguf

    gguf = make_embedding_gguf(real_settings.embedding_model_path(),
                               gguf_path(real_settings.models_dir, real_settings.embedding_model),
                               real_settings.cache_dir / "llama-cpp-src")
    # A passage (400 characters + title) is one sequence; the batch must hold the longest whole.
    with engines.llama_server(gguf, tmp_path_factory.mktemp("embedding_server"), "--embedding", "true",
                              "--n_ctx", "2048", "--n_batch", "2048", "--n_ubatch", "2048",
                              "--model_alias", "embeddinggemma-300m") as url:
        yield url


@pytest.fixture(scope="module")
def local_encoder(real_settings):
    from embeddings.encoder import Encoder

    # fp32 queries as well: the bf16 query copy (on CPUs with bf16) is a further, separate approximation
    return Encoder(real_settings.embedding_model_path(), threads=real_settings.threads, bf16_queries=False)


@pytest.mark.slow
def test_the_server_gives_the_local_encoders_vectors(embedding_server, local_encoder):
    remote = RemoteEncoder(embedding_server)
    assert remote.dim == local_encoder.dim == 768
    docs = ["全年完成水利投资3.2亿元，新建堤防12公里。", "扎实开展安全生产大检查，排查隐患46处。"]
    titles = ["XX县水利局2023年上半年工作总结", "镇2023年工作总结"]
    for got, want in [(remote.encode_queries(QUESTIONS[:3]), local_encoder.encode_queries(QUESTIONS[:3])),
                      (remote.encode_documents(docs, titles), local_encoder.encode_documents(docs, titles))]:
        cosines = np.sum(got * want, axis=1)
        assert cosines.min() >= 0.999, cosines


@pytest.mark.slow
def test_an_index_built_through_the_server_finds_what_the_local_one_finds(
        embedding_server, local_encoder, tmp_path):
    from embeddings.cache import EmbeddingCache
    from embeddings.encoder import model_fingerprint
    from rag.corpus import load_corpus
    from rag.retrieval.index import build_index
    from rag.retrieval.retriever import Retriever

    corpus = load_corpus(FIXTURES)
    remote = RemoteEncoder(embedding_server, batch_size=16)
    cache = EmbeddingCache(tmp_path / "cache" / "embeddings.sqlite")
    try:
        remote_index = build_index(corpus, remote, tmp_path / "remote", cache, remote.model_id,
                                   progress=False)
        by_server = len(cache)
        local_index = build_index(corpus, local_encoder, tmp_path / "local", cache,
                                  model_fingerprint(local_encoder.model_path), progress=False)
        # one row per text and model: the server's vectors never stand in for the local model's
        assert len(remote_index) == len(local_index) and len(cache) == 2 * by_server > 40
    finally:
        cache.close()
    assert remote_index.manifest.model_id == "remote:embeddinggemma-300m"
    by_remote, by_local = Retriever(remote_index, remote), Retriever(local_index, local_encoder)
    for q in QUESTIONS:
        top_remote = [h.chunk_id for h in by_remote.search(q, k=3, mode="dense")]
        top_local = [h.chunk_id for h in by_local.search(q, k=3, mode="dense")]
        assert top_remote[0] == top_local[0], q
        assert len(set(top_remote) & set(top_local)) >= 2, q


@pytest.mark.slow
def test_the_app_embeds_through_the_server_when_configured(embedding_server, tmp_path):
    import shutil

    from rag.app import open_retriever
    from rag.config import Settings

    # two of the fixture files (the water bureau's report and one other): the index build is the point,
    # not its size (the test above compares a whole corpus embedded both ways)
    (tmp_path / "data").mkdir()
    for name in ("no_toc.txt", "single_report.txt"):
        shutil.copy(FIXTURES / name, tmp_path / "data" / name)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", index_dir=tmp_path / "index",
                        cache_dir=tmp_path / "cache", embedding_base_url=embedding_server)
    retriever = open_retriever(settings)
    assert isinstance(retriever.encoder, RemoteEncoder)
    hits = retriever.search("县水利局上半年完成了哪些水利工程？", k=3)
    assert hits and "水利局" in hits[0].report_title


@pytest.mark.slow
def test_a_server_that_is_down_is_a_clear_error(tmp_path):
    from rag.app import open_encoder
    from rag.config import Settings
    from rag.errors import ModelMissing

    down = f"http://127.0.0.1:{engines.free_port()}"
    with pytest.raises(EmbeddingServerError, match=r"unavailable after 2 attempts \(ConnectError"):
        RemoteEncoder(down, retries=1, backoff_s=0.01)
    settings = Settings(_env_file=None, data_dir=tmp_path, embedding_base_url=down)
    with pytest.raises(ModelMissing, match=down):
        open_encoder(settings)
