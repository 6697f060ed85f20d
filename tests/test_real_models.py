"""The real models, loaded as the service loads them (slow; runs in CI after `make models`)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from embeddings.encoder import Encoder
from rag.answering.generation import ChatMessage, GenerationParams, LlamaCppGenerator, Usage
from testkit.serve_process import memory_kb

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder(real_encoder):
    return real_encoder  # the service's, loaded once per test run (tests/conftest.py)


def test_a_serving_encoder_keeps_one_copy_and_reloads_for_passages(real_settings):
    """A server drops the fp32 copy once queries have their bf16 one; an upload brings it back, with the
    same vectors as before (passages never depend on the query copy)."""
    enc = Encoder(real_settings.embedding_model_path(), threads=real_settings.threads, bf16_queries=True)
    docs = ["加强水利资金监管，规范项目资金拨付，确保专款专用。"]
    before_docs, before_query = enc.encode_documents(docs), enc.encode_queries(["水利资金监管"])
    assert enc.release_passage_model() and enc._fp32 is None
    assert np.array_equal(enc.encode_queries(["水利资金监管"]), before_query)
    assert enc._fp32 is None  # questions alone never reload it
    assert np.allclose(enc.encode_documents(docs), before_docs, atol=1e-6) and enc._fp32 is not None
    # as a server does it: released before the first query, the fp32 model becomes the bf16 one in place
    fresh = Encoder(real_settings.embedding_model_path(), threads=real_settings.threads, bf16_queries=True)
    assert fresh.release_passage_model()
    assert np.array_equal(fresh.encode_queries(["水利资金监管"]), before_query)
    no_copy = Encoder(real_settings.embedding_model_path(), threads=real_settings.threads, bf16_queries=False)
    assert not no_copy.release_passage_model()  # its one model serves both


def test_embedding_model_ranks_the_relevant_passage_first(encoder):
    q = encoder.encode_queries(["县水利局下半年在资金管理上有什么安排？"])
    docs = encoder.encode_documents(
        ["加强水利资金监管，规范项目资金拨付，确保专款专用。", "组织开展全民健身运动会和广场舞比赛。"],
        titles=["县水利局2023年上半年工作总结和下半年工作计划", "县文化广电和旅游局2023年下半年工作计划"],
    )
    assert q.shape == (1, 768) and docs.shape == (2, 768)
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-4)
    scores = docs @ q[0]
    assert scores[0] > scores[1] + 0.05


def test_gguf_generates_tokens(real_settings):
    """The generator the service uses, on the real GGUF: it streams tokens and counts them."""
    llm = LlamaCppGenerator(real_settings.llm_model_path(), n_ctx=512, threads=real_settings.threads)
    usage = Usage()
    text = "".join(llm.stream([ChatMessage(role="user", content="用一个词回答：中国的首都是哪里？")],
                              GenerationParams(max_tokens=8, temperature=0, timeout_s=60), usage))
    assert usage.completion_tokens >= 1 and usage.prompt_tokens > 0
    assert "北京" in text


def test_generation_frees_native_memory_without_the_cyclic_gc(real_settings):
    """Answers do not leave native memory behind: llama-cpp-python's per-call sampler is freed when the
    call ends, not at the next full GC (with the GC off, the leak was ~1.7 MB per call)."""
    llm = LlamaCppGenerator(real_settings.llm_model_path(), n_ctx=512, threads=real_settings.threads)
    message = [ChatMessage(role="user", content="用一个词回答：中国的首都是哪里？")]
    params = GenerationParams(max_tokens=4, temperature=0, timeout_s=60)

    def answer() -> None:
        "".join(llm.stream(message, params, Usage()))

    for _ in range(3):
        answer()
    gc.collect()
    gc.disable()
    try:
        before = memory_kb("self", ("VmRSS",))["VmRSS"]
        for _ in range(10):  # the leak was ~1.7 MB an answer: 17 MB here
            answer()
        grown_mb = (memory_kb("self", ("VmRSS",))["VmRSS"] - before) / 1024
    finally:
        gc.enable()
    assert grown_mb < 6, f"RSS grew {grown_mb:.1f} MB over 10 answers"
    assert llm.llm._sampler is None

