"""The body of `POST /v1/ask` and `/v1/ask/stream` (the answer itself is ``rag.contracts.Answer``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.questions import (
    EXAMPLE_QUESTION,
    MAX_CONVERSATION_CHARS,
    MAX_K,
    ApiFilters,
    ApiTurn,
    Question,
    conversation_chars,
)
from rag.contracts import MAX_HISTORY_TURNS, MAX_QUESTION_CHARS, AnswerMode


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"question": EXAMPLE_QUESTION},
        {"question": "那上半年完成了哪些工作？", "mode": "llm", "k": 8,
         "history": [{"role": "user", "content": EXAMPLE_QUESTION},
                     {"role": "assistant", "content": "下半年将加强水利资金监管……[1]"}],
         "filters": {"body": "水利局"}},
    ]})

    question: Question = Field(description=f"1–{MAX_QUESTION_CHARS} characters after trimming.")
    history: list[ApiTurn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS,
                                description=f"Earlier turns, oldest first (at most {MAX_HISTORY_TURNS}; with "
                                f"the question at most {MAX_CONVERSATION_CHARS} characters).")
    mode: AnswerMode = Field("llm", description="llm: the model writes a cited answer; extractive: quotes "
                                                "only, no model.")
    k: int | None = Field(None, ge=1, le=MAX_K, strict=True,
                          description="Passages to retrieve (default: the service's).")
    filters: ApiFilters | None = None

    @model_validator(mode="after")
    def _conversation_size(self) -> AskRequest:
        total = conversation_chars(self.question, self.history)
        if total > MAX_CONVERSATION_CHARS:
            raise ValueError(f"the question and its history hold {total} characters together; the limit is "
                             f"{MAX_CONVERSATION_CHARS}: send fewer or shorter earlier turns (the latest "
                             "matter most)")
        return self
