"""Text generation behind one small interface: in-process llama-cpp-python, or any OpenAI-compatible server.

The answer pipeline only needs "stream the completion of these chat messages"; a deployment that
outgrows one box sets ``RAG_LLM_BASE_URL`` (llama.cpp's server, vLLM, …) and nothing else changes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field

from rag.errors import GenerationError, ModelMissing


class ChatMessage(BaseModel):
    role: str
    content: str


class GenerationParams(BaseModel):
    max_tokens: int = Field(320, ge=1)
    # Greedy decoding: answers must be reproducible and a small model's sampling only adds errors.
    temperature: float = 0.0
    stop: list[str] = Field(default_factory=list)
    timeout_s: float = Field(60.0, gt=0, description="Wall-clock limit for the whole completion.")


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Generator(Protocol):
    """Streams the assistant's reply to ``messages``; ``usage`` is filled in once the stream ends."""

    name: str

    def stream(self, messages: list[ChatMessage], params: GenerationParams, usage: Usage,
               cancel: threading.Event | None = None) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...


class LlamaCppGenerator:
    """In-process GGUF model. Loaded once; a lock serialises calls (a llama context is not thread-safe).

    llama-cpp-python keeps the previous prompt's KV cache and reuses its longest common prefix, so the
    fixed system prompt is evaluated once per process, not per question.
    """

    def __init__(self, path: Path, n_ctx: int = 4096, threads: int = 2, n_batch: int = 256):
        if not path.is_file():
            raise ModelMissing(f"GGUF model not found at {path}; run `make models` or set RAG_LLM_PATH")
        from llama_cpp import Llama

        self.path = path
        self.name = path.stem
        self._lock = threading.Lock()
        # n_batch sizes llama.cpp's compute buffer: see Settings.llm_batch.
        self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                         n_batch=min(n_batch, n_ctx), n_ubatch=min(n_batch, n_ctx), verbose=False)

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, messages: list[ChatMessage], params: GenerationParams, usage: Usage,
               cancel: threading.Event | None = None) -> Iterator[str]:
        deadline = time.monotonic() + params.timeout_s
        with self._lock:
            before = self.llm.n_tokens
            chunks = self.llm.create_chat_completion(
                messages=[m.model_dump() for m in messages], max_tokens=params.max_tokens,
                temperature=params.temperature, top_k=1, stop=params.stop or None, stream=True,
            )
            n = 0
            try:
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content") or ""
                    if piece:
                        n += 1
                        yield piece
                    if cancel is not None and cancel.is_set():
                        break
                    if time.monotonic() > deadline:
                        raise GenerationError(f"generation exceeded {params.timeout_s:.0f} s")
            finally:
                chunks.close()
                self._free_sampler()
                usage.completion_tokens = n
                # tokens in the context after the call, minus what was generated = the prompt
                usage.prompt_tokens = max(self.llm.n_tokens - n, 0) if self.llm.n_tokens else before


    def _free_sampler(self) -> None:
        """Free this call's native sampler chain now.

        llama-cpp-python builds a new sampler per call and frees the old one only through a reference
        cycle (its ExitStack callback closes over the sampler), i.e. when Python's cyclic GC next runs a
        full collection. That is rare in a server with a large heap, so ~1.7 MB of native memory per answer
        piled up (bench/memory.py serve: +150 MB over 450 answers). Closing it here keeps RSS flat.
        """
        sampler = getattr(self.llm, "_sampler", None)
        if sampler is not None:
            sampler.close()
            self.llm._sampler = None  # Llama.sample() builds a temporary one when this is None


class OpenAIHTTPGenerator:
    """Any OpenAI-compatible ``/v1/chat/completions`` endpoint, streamed over SSE with httpx."""

    def __init__(self, base_url: str, model: str = "default", api_key: str | None = None,
                 connect_timeout_s: float = 5.0):
        import httpx

        self.base_url = base_url.rstrip("/")
        self.name = model
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers,
                                    timeout=httpx.Timeout(120.0, connect=connect_timeout_s))

    def count_tokens(self, text: str) -> int:
        # Remote tokenisers differ; a Chinese character is roughly 0.7 Qwen tokens, good enough for budgets.
        return int(len(text) * 0.7) + 1

    def stream(self, messages: list[ChatMessage], params: GenerationParams, usage: Usage,
               cancel: threading.Event | None = None) -> Iterator[str]:
        import httpx

        body = {"model": self.model, "messages": [m.model_dump() for m in messages], "stream": True,
                "max_tokens": params.max_tokens, "temperature": params.temperature,
                "stream_options": {"include_usage": True}}
        if params.stop:
            body["stop"] = params.stop
        deadline = time.monotonic() + params.timeout_s
        n = 0
        try:
            with self._client.stream("POST", "/v1/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise GenerationError(f"LLM endpoint {self.base_url} answered {response.status_code}: "
                                          f"{response.text[:200]}")
                for line in response.iter_lines():
                    if cancel is not None and cancel.is_set():
                        break
                    if time.monotonic() > deadline:
                        raise GenerationError(f"generation exceeded {params.timeout_s:.0f} s")
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    if chunk.get("usage"):
                        usage.prompt_tokens = chunk["usage"].get("prompt_tokens", 0)
                        usage.completion_tokens = chunk["usage"].get("completion_tokens", 0)
                    for choice in chunk.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content") or ""
                        if piece:
                            n += 1
                            yield piece
        except httpx.HTTPError as e:
            raise GenerationError(f"LLM endpoint {self.base_url} failed: {e}") from e
        if not usage.completion_tokens:
            usage.completion_tokens = n
