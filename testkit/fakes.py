"""Test doubles for the heavy parts, each implementing the protocol the code types against:

* ``FakeEncoder`` (``embeddings.protocol.Encoder``): hashed character bigrams instead of a model;
* ``FakeAnswerService`` (``rag.answering.protocol.AnswerServiceProtocol``): real corpus and retrieval (fake
  encoder), a scripted "LLM" that quotes the first sentence of the best passage, slowly if asked,
  honouring cancel.

Imported by tests and by testkit/ingest_child.py (a subprocess): no pytest here.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import zlib
from collections.abc import Generator, Sequence

import numpy as np

from rag.contracts import (
    Answer,
    AnswerEvent,
    AnswerMode,
    Citation,
    Evidence,
    EvidenceEvent,
    StreamEvent,
    Timings,
    TokenEvent,
    Turn,
)
from rag.corpus import Corpus
from rag.errors import GenerationError, InvalidQuestion
from rag.retrieval.retriever import Filters, Retriever

REFUSE_WORD = "火星"  # questions naming it get a refusal
FAIL_WORD = "故障"  # questions naming it fail mid-stream (after the evidence)


class FakeEncoder:
    """Deterministic stand-in for the embedding model: hashed character bigrams, L2-normalised.

    Texts sharing bigrams get similar vectors, so rankings can be checked by hand; no model is loaded.
    """

    dim = 64
    model_id = "fake-bigrams:1"

    def __init__(self):
        self.calls = 0  # how many texts were embedded

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for a, b in itertools.pairwise(text):
            v[zlib.crc32((a + b).encode()) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def document_inputs(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> list[str]:
        titles = titles or ["none"] * len(texts)
        return [f"title: {t} | text: {x}" for t, x in zip(titles, texts, strict=True)]

    def encode_inputs(self, inputs: Sequence[str], progress: bool = False) -> np.ndarray:
        self.calls += len(inputs)
        return np.stack([self._vec(x) for x in inputs]) if inputs else np.zeros((0, self.dim), np.float32)

    def encode_documents(self, texts: Sequence[str], titles: Sequence[str] | None = None,
                         progress: bool = False) -> np.ndarray:
        return self.encode_inputs(self.document_inputs(texts, titles))

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        return self.encode_inputs(list(queries))


def build_fake_retriever(corpus: Corpus) -> Retriever:
    """Real chunks and BM25 over ``corpus``, dense vectors from a ``FakeEncoder``."""
    from rag.retrieval.chunking import chunk_corpus
    from rag.retrieval.index import memory_index

    enc = FakeEncoder()
    chunks = chunk_corpus(corpus)
    vecs = enc.encode_documents([c.search_text for c in chunks], [c.embed_title for c in chunks])
    return Retriever(memory_index(chunks, vecs, corpus_hash=corpus.content_hash), enc)


class FakeAnswerService:
    model_name = "fake-llm"

    def __init__(self, corpus: Corpus, retriever: Retriever, token_delay: float = 0.0):
        self.corpus = corpus
        self.retriever = retriever
        self.token_delay = token_delay
        self.calls: list[str] = []  # questions, in the order jobs started
        self.cancelled: list[str] = []  # questions whose generation saw the cancel event
        self.running = threading.Event()  # set while a generation runs
        self.concurrent = 0
        self.max_concurrent = 0
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        pass

    def ask(self, question: str, history: Sequence[Turn] = (), mode: AnswerMode = "llm",
            k: int | None = None, filters: Filters | None = None) -> Answer:
        *_, last = self.stream(question, history, mode, k, filters)
        assert isinstance(last, AnswerEvent)
        return last.answer

    def stream(self, question: str, history: Sequence[Turn] = (), mode: AnswerMode = "llm",
               k: int | None = None, filters: Filters | None = None,
               cancel: threading.Event | None = None) -> Generator[StreamEvent, None, None]:
        self.calls.append(question)
        try:
            yield from self._stream(question, history, mode, k, filters, cancel)
        finally:  # also when the worker closes the generator on cancel
            if cancel is not None and cancel.is_set() and question not in self.cancelled:
                self.cancelled.append(question)

    def _stream(self, question, history, mode, k, filters, cancel) -> Generator[StreamEvent, None, None]:
        t0 = time.perf_counter()
        if not question.strip():
            raise InvalidQuestion("the question is empty")
        standalone = question
        if history and question.startswith("那"):  # a follow-up: borrow the previous question's subject
            standalone = history[-2].content[:8] + question if len(history) >= 2 else question
        hits = self.retriever.search(standalone, k=k or 5, filters=filters)
        hits = [h for h in hits if h.chunk_type == "text"]
        copied = set(Evidence.model_fields) - {"id", "chunk_id", "text", "score"}
        evidence = [Evidence(id=i, chunk_id=h.chunk_id, text=h.text, score=h.score,
                             **h.model_dump(include=copied)) for i, h in enumerate(hits[:4], start=1)]
        retrieval_ms = (time.perf_counter() - t0) * 1000
        yield EvidenceEvent(standalone_question=standalone, evidence=evidence, retrieval_ms=retrieval_ms)
        if FAIL_WORD in question:
            raise GenerationError("the fake model failed on purpose")
        if REFUSE_WORD in question or not evidence:
            yield AnswerEvent(answer=Answer(
                question=question, standalone_question=standalone, refused=True,
                answer="这些报告中没有找到关于这个问题的内容。下面是最接近的章节。",
                refusal_reason="no passage mentions the question's subject",
                citations=[_cite(n, ev, 0, min(len(ev.text), 40)) for n, ev in enumerate(evidence[:2], 1)],
                evidence=evidence, mode=mode, model=None,
                timings=Timings(retrieval_ms=retrieval_ms, total_ms=(time.perf_counter() - t0) * 1000)))
            return
        ev = evidence[0]
        # The quote: the passage's second sentence (the first is often its heading).
        sentences = list(re.finditer(r"[^。；\n]+[。；]?", ev.text))
        m = sentences[1] if len(sentences) > 1 else sentences[0]
        start, end = m.start(), m.end()
        text = f"{ev.report_title}提到：{ev.text[start:end].rstrip('。；')}[1]。"
        first_token_ms = None
        tokens = 0
        if mode == "llm":
            # The "LLM" part: the part that must never run twice at once.
            with self._lock:
                self.concurrent += 1
                self.max_concurrent = max(self.max_concurrent, self.concurrent)
            self.running.set()
            try:
                for i in range(0, len(text), 3):
                    if cancel is not None and cancel.is_set():
                        self.cancelled.append(question)
                        return
                    if self.token_delay:
                        time.sleep(self.token_delay)
                    first_token_ms = first_token_ms or (time.perf_counter() - t0) * 1000
                    tokens += 1
                    yield TokenEvent(text=text[i:i + 3])
            finally:
                self.running.clear()
                with self._lock:
                    self.concurrent -= 1
        yield AnswerEvent(answer=Answer(
            question=question, standalone_question=standalone, answer=text, refused=False,
            citations=[_cite(1, ev, start, end)], evidence=evidence, mode=mode,
            model=self.model_name if mode == "llm" else None,
            timings=Timings(retrieval_ms=retrieval_ms, first_token_ms=first_token_ms,
                            total_ms=(time.perf_counter() - t0) * 1000 + 1, prompt_tokens=100,
                            completion_tokens=tokens)))


def _cite(n: int, ev: Evidence, start: int, end: int) -> Citation:
    fields = ev.model_dump(include=set(Citation.model_fields) - {"n", "quote", "char_start", "char_end"})
    return Citation(n=n, quote=ev.text[start:end], char_start=ev.char_start + start,
                    char_end=ev.char_start + end, **fields)
