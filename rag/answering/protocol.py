"""What the HTTP API needs of an answer service. ``rag.answering.service.AnswerService`` is the real one;
API and browser tests pass a scripted one (testkit/fakes.py) that implements this without subclassing it.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence
from typing import Protocol, runtime_checkable

from rag.contracts import Answer, AnswerMode, StreamEvent, Turn
from rag.corpus import Corpus
from rag.retrieval.retriever import Filters, Retriever


@runtime_checkable
class AnswerServiceProtocol(Protocol):
    @property
    def corpus(self) -> Corpus:
        """The reports it answers from (the API's browse and search routes read them too)."""
        ...

    @property
    def retriever(self) -> Retriever:
        """Its retriever over ``corpus``: ``GET /v1/search`` uses it, a library change reuses its encoder."""
        ...

    @property
    def model_name(self) -> str | None:
        """The generator's name (None without one)."""
        ...

    def warm_up(self) -> None:
        """Pay one-off costs (first encoder and LLM calls) before the first question."""
        ...

    def ask(self, question: str, history: Sequence[Turn] = (), mode: AnswerMode = "llm",
            k: int | None = None, filters: Filters | None = None) -> Answer:
        ...

    def stream(self, question: str, history: Sequence[Turn] = (), mode: AnswerMode = "llm",
               k: int | None = None, filters: Filters | None = None,
               cancel: threading.Event | None = None) -> Generator[StreamEvent, None, None]:
        """Evidence first, then tokens (mode "llm"), then the answer; stops early once ``cancel`` is set.
        A generator: the API closes it when the request is refused or the client goes away."""
        ...
