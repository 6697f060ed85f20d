"""Bodies of the OpenAI-compatible endpoints: chat completions (whole and streamed) and the model list."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.questions import EXAMPLE_QUESTION, MAX_K, ApiFilters
from rag.contracts import Citation, Table


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content if p.type in ("text", "input_text"))


class ChatCompletionRequest(BaseModel):
    """The OpenAI chat-completions request; sampling options are accepted and ignored (decoding is greedy)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"model": "govreport-rag", "messages": [{"role": "user", "content": EXAMPLE_QUESTION}]},
        {"model": "govreport-rag", "stream": True,
         "messages": [{"role": "user", "content": EXAMPLE_QUESTION}]},
    ]})

    model: str = Field("govreport-rag", description="govreport-rag, or govreport-rag-extractive for quotes "
                                                    "only; other names mean govreport-rag.")
    messages: list[ChatMessageIn] = Field(min_length=1, description="The last message must be the user's "
                                                                     "question; earlier user/assistant "
                                                                     "turns are the history.")
    stream: bool = Field(False, strict=True)
    k: int | None = Field(None, ge=1, le=MAX_K, strict=True, description="Extension: passages to retrieve.")
    filters: ApiFilters | None = Field(None, description="Extension: report metadata filters.")


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatMessageOut
    finish_reason: Literal["stop", "length"] = "stop"


class ChatUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage
    citations: list[Citation] = Field(default_factory=list, description="Extension: the sources behind "
                                                                        "the [n] markers.")
    refused: bool = Field(False, description="Extension: the reports do not answer the question.")
    table: Table | None = Field(None, description="Extension: a cross-report answer's table (the content "
                                                  "holds it as Markdown).")


class ChatDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    reasoning_content: str | None = Field(None, description="The model's unchecked draft, as it is written "
                                                            "(the field reasoning models use).")


class ChatChunkChoice(BaseModel):
    index: int = 0
    delta: ChatDelta
    finish_reason: Literal["stop", "length"] | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: ChatUsage | None = None
    citations: list[Citation] | None = None
    refused: bool | None = None
    table: Table | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "govreport-rag"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
