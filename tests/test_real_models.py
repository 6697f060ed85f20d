"""The real models, loaded as the service loads them (slow; runs in CI after `make models`)."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.encoder import Encoder
from rag.answering.generation import ChatMessage, GenerationParams, LlamaCppGenerator, Usage

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder(real_settings):
    return Encoder(real_settings.embedding_model_path(), threads=real_settings.threads)


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
