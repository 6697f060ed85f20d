"""Text generation behind one small interface: in-process llama-cpp-python, or any OpenAI-compatible server.

The answer pipeline only needs "stream the completion of these chat messages"; a deployment that
outgrows one box sets ``RAG_LLM_BASE_URL`` (llama.cpp's server, vLLM, …) and nothing else changes.
"""

from __future__ import annotations

import collections.abc
import functools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
from pydantic import BaseModel, Field

from rag.errors import GenerationError, ModelMissing

if TYPE_CHECKING:  # llama_cpp itself is imported only when a GGUF model is loaded
    from llama_cpp import Llama, LlamaGrammar
    from llama_cpp.llama_types import ChatCompletionRequestMessage, CreateChatCompletionStreamResponse


class ChatMessage(BaseModel):
    role: str
    content: str


class GenerationParams(BaseModel):
    max_tokens: int = Field(320, ge=1)
    # Greedy decoding: answers must be reproducible and a small model's sampling only adds errors.
    temperature: float = 0.0
    stop: list[str] = Field(default_factory=list)
    grammar: str | None = Field(None, description="A GBNF grammar the reply must follow (llama.cpp).")
    timeout_s: float = Field(60.0, gt=0, description="Wall-clock limit for the whole completion.")


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # the prompt's tokens evaluated for this call: the prompt less the cached prefix it reused (the system
    # message). This, not prompt_tokens, sets the first token's latency. 0 where the backend does not say.
    prompt_evaluated: int = 0


class Generator(Protocol):
    """Streams the assistant's reply to ``messages``; ``usage`` is filled in once the stream ends."""

    name: str

    def stream(self, messages: list[ChatMessage], params: GenerationParams, usage: Usage,
               cancel: threading.Event | None = None) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...


class LlamaCppGenerator:
    """In-process GGUF model. Loaded once; a lock serialises calls (a llama context is not thread-safe).

    llama-cpp-python keeps the previous prompt's KV cache and reuses its longest common prefix, so the
    fixed system prompt is evaluated once per process, not per question. Reuse stops at fixed split
    points (the end of the system message, then whole ``n_batch`` steps; see ``_align_cache``) so that
    the same messages always get the same answer.
    """

    def __init__(self, path: Path, n_ctx: int = 4096, threads: int = 2, n_batch: int = 256,
                 lookup_tokens: int = 0):
        if not path.is_file():
            raise ModelMissing(f"GGUF model not found at {path}; run `make models` or set RAG_LLM_PATH")
        from llama_cpp import Llama
        from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

        self.path = path
        self.name = path.stem
        self._lock = threading.Lock()
        # n_batch sizes llama.cpp's compute buffer: see Settings.llm_batch.
        self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                         n_batch=min(n_batch, n_ctx), n_ubatch=min(n_batch, n_ctx), verbose=False,
                         # a draft model needs every position's logits: n_ctx × vocab floats (2.5 GB at 4096)
                         draft_model=LlamaPromptLookupDecoding(num_pred_tokens=lookup_tokens)
                         if lookup_tokens else None, logits_all=bool(lookup_tokens))
        # The chat template's handler, called with a stand-in for the model that aligns the cache first.
        from llama_cpp import llama_chat_format

        template = self.llm.chat_handler
        if template is None:
            chat_format = self.llm.chat_format
            assert chat_format is not None  # without a chat_handler, Llama() falls back to "llama-2"
            template = (self.llm._chat_handlers.get(chat_format)
                        or llama_chat_format.get_chat_completion_handler(chat_format))
        # cached positions [0, _canonical) are a prompt evaluated at its fixed split points (_align_cache)
        self._canonical, self._canonical_anchor = 0, 0
        self._pending = (0, 0)
        self._evaluated = 0  # prompt tokens the call being prepared evaluates (_align_cache)
        self._system = ""  # the system message of the call being prepared
        # cast: _Aligned stands in for the Llama (every attribute is the Llama's but create_completion)
        self.llm.chat_handler = lambda llama, **kw: template(llama=cast("Llama", _Aligned(llama, self)), **kw)

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    @staticmethod
    @functools.lru_cache(maxsize=16)
    def _grammar(text: str | None) -> LlamaGrammar | None:
        """The parsed grammar, parsed once per text (answers' grammars differ only in their last point)."""
        if not text:
            return None
        from llama_cpp import LlamaGrammar

        return LlamaGrammar.from_string(text, verbose=False)

    def stream(self, messages: list[ChatMessage], params: GenerationParams, usage: Usage,
               cancel: threading.Event | None = None) -> Iterator[str]:
        deadline = time.monotonic() + params.timeout_s
        with self._lock:
            before = self.llm.n_tokens
            self._system = messages[0].content if messages and messages[0].role == "system" else ""
            # casts: a ChatMessage dumps to {role, content}, an OpenAI chat message; and with stream=True
            # the call returns a generator of chunks (llama_cpp annotates it with both modes' union).
            chunks = cast("collections.abc.Generator[CreateChatCompletionStreamResponse, None, None]",
                          self.llm.create_chat_completion(
                              messages=cast("list[ChatCompletionRequestMessage]",
                                            [m.model_dump() for m in messages]),
                              max_tokens=params.max_tokens, temperature=params.temperature, top_k=1,
                              stop=params.stop or None, stream=True, grammar=self._grammar(params.grammar),
                          ))
            n = 0
            try:
                for i, chunk in enumerate(chunks):
                    if i == 0:  # the prompt has been evaluated (_align_cache)
                        self._canonical, self._canonical_anchor = self._pending
                    content = chunk["choices"][0]["delta"].get("content")  # None or absent: no text
                    piece = content if isinstance(content, str) else ""
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
                usage.prompt_evaluated = self._evaluated
                # tokens in the context after the call, minus what was generated = the prompt
                usage.prompt_tokens = max(self.llm.n_tokens - n, 0) if self.llm.n_tokens else before

    def _align_cache(self, tokens: list[int]) -> None:
        """Reuse only the part of the KV cache that a fresh evaluation of ``tokens`` would compute the same
        way, and evaluate the prompt at the same split points whatever came before.

        llama.cpp evaluates a prompt in ``n_batch``-token steps from where the reused prefix ends, and a
        step's numbers depend on which tokens share it (batched and single-token kernels round
        differently). Reusing any common prefix therefore made an answer depend on the question asked
        before it: the same question twice could get two answers. Here every prompt is split at fixed
        points — whole steps up to the end of the system message (the anchor), then whole steps from
        the anchor — and only cache up to such a point, of a prompt evaluated the same way, is kept. The
        fixed system prompt is still evaluated once per process; a few more tokens may be re-evaluated.
        """
        llm, step = self.llm, self.llm.n_batch
        anchor = self._anchor(tokens)
        limit = min(llm.n_tokens, self._canonical, len(tokens) - 1)
        common = 0
        if limit > 0:
            cached = llm.input_ids[:limit]
            differ = np.flatnonzero(cached != np.asarray(tokens[:limit], dtype=cached.dtype))
            common = int(differ[0]) if differ.size else limit
        if anchor and anchor == self._canonical_anchor and common >= anchor:
            keep = anchor + (common - anchor) // step * step
        else:  # below both anchors the split points are the whole steps from 0
            below = min([common] + [a for a in (anchor, self._canonical_anchor) if a])
            keep = below // step * step
        if keep < llm.n_tokens:
            llm.n_tokens = keep  # generate() then matches at most this much and drops the cache after it
        # [0, len(tokens)) becomes canonical once evaluated (stream() sees the first chunk); an error
        # before that leaves the cache unknown, so nothing of it is reused.
        self._canonical, self._pending = 0, (len(tokens), anchor)
        self._evaluated = len(tokens) - keep
        if keep < anchor:
            llm.eval(tokens[keep:anchor])  # up to the anchor on its own; generate() goes on from there

    def _anchor(self, tokens: list[int]) -> int:
        """Where the system message ends in ``tokens``: the shortest prefix whose text holds all of it
        (0 without one). Depends on the prompt alone, so every prompt with this system message splits
        there."""
        system = self._system

        def holds(n: int) -> bool:
            return system in self.llm.detokenize(tokens[:n]).decode("utf-8", errors="ignore")

        if not system or not holds(len(tokens)):
            return 0
        lo, hi = 1, len(tokens)
        while lo < hi:
            mid = (lo + hi) // 2
            if holds(mid):
                hi = mid
            else:
                lo = mid + 1
        return lo if lo < len(tokens) - 1 else 0  # nothing after it: no split needed

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


class _Aligned:
    """The Llama object as the chat template's handler sees it: the same, except that the prompt's
    cached prefix is aligned (LlamaCppGenerator._align_cache) just before the completion starts."""

    def __init__(self, llm: Llama, generator: LlamaCppGenerator):
        self._llm = llm
        self._generator = generator

    def __getattr__(self, name: str) -> object:
        return getattr(self._llm, name)

    def create_completion(self, prompt: list[int], **kwargs: Any) -> object:
        self._generator._align_cache(list(prompt))
        return self._llm.create_completion(prompt=prompt, **kwargs)


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
        if params.grammar:  # llama.cpp's server reads it; a server without grammars ignores or refuses it
            body["grammar"] = params.grammar
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
