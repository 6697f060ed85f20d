"""Question → cited, checked answer. (Work in progress: the pipeline lands in this module.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from rag.answer_models import Answer, AnswerMode, StreamEvent, Turn
from rag.retrieve import Filters


class AnswerService:
    """Loaded once per process (API lifespan, CLI). ``stream`` yields evidence, tokens, then the answer."""

    model_name: str | None = None

    def ask(self, question: str, history: Sequence[Turn] = (), mode: AnswerMode = "llm",
            k: int | None = None, filters: Filters | None = None) -> Answer:
        raise NotImplementedError

    def stream(self, question: str, history: Sequence[Turn] = (), mode: AnswerMode = "llm",
               k: int | None = None, filters: Filters | None = None,
               cancel: threading.Event | None = None) -> Iterator[StreamEvent]:
        raise NotImplementedError
