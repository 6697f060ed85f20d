"""Request and response bodies of the HTTP API (the answer itself is ``rag.contracts.Answer``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from rag.contracts import (
    MAX_HISTORY_TURNS,
    MAX_QUESTION_CHARS,
    AnswerEvent,
    AnswerMode,
    Citation,
    EvidenceEvent,
    RowEvent,
    Table,
    TokenEvent,
    Turn,
)
from rag.library import ChangeSummary
from rag.retrieval.retriever import Filters, Hit

# Question and history together: what a follow-up needs is the last few turns. A cap on the total (not only
# per turn) bounds every text step of a request: 20 turns of 20,000 characters used to be accepted.
MAX_CONVERSATION_CHARS = 24_000
MAX_K = 50
TURN_MAX_CHARS = next(m.max_length for m in Turn.model_fields["content"].metadata if hasattr(m, "max_length"))

EXAMPLE_QUESTION = "县水利局下半年在资金管理上有什么安排？"


def _check_text(value: str) -> str:
    """JSON may carry lone surrogates (\\ud800) that no encoder, tokenizer or UTF-8 response can take."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the text contains an invalid character (an unpaired UTF-16 surrogate)") from None
    return value


def _check_question(value: str) -> str:
    value = _check_text(value).strip()
    if not value:
        raise ValueError("the question is empty; type a question")
    if len(value) > MAX_QUESTION_CHARS:
        raise ValueError(f"the question has {len(value)} characters after trimming; "
                         f"the limit is {MAX_QUESTION_CHARS}")
    return value


# The schema says what the validator checks, so generated clients (and fuzzers) send valid questions: at
# least one character that str.strip() keeps. Spelled out, because regex engines disagree on \s (Python's
# includes \x1c-\x1f, Unicode's White_Space does not).
_NOT_SPACE = r"[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
# Documented only (json_schema_extra): _check_question enforces them itself, after trimming, with messages
# that say what to fix.
Question = Annotated[str, Field(json_schema_extra={"minLength": 1, "maxLength": MAX_QUESTION_CHARS,
                                                   "pattern": _NOT_SPACE}),
                     AfterValidator(_check_question)]


class ApiTurn(Turn):
    content: Annotated[str, AfterValidator(_check_text)] = Field(max_length=TURN_MAX_CHARS)


class ApiFilters(Filters):
    """Report metadata filters; unknown keys are refused so a typo does not silently match everything."""

    model_config = ConfigDict(extra="forbid")
    report_ids: list[str] | None = Field(None, max_length=50, description="any of these reports (at most 50)")


# ---------------------------------------------------------------------------------------------- ask


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


def conversation_chars(question: str, history: list[ApiTurn] | list[Turn]) -> int:
    return len(question) + sum(len(t.content) for t in history)


# ------------------------------------------------------------------------------------------- search


class SearchResponse(BaseModel):
    query: str
    k: int
    took_ms: float
    hits: list[Hit]


# ------------------------------------------------------------------------------------------ reports


class ReportSummary(BaseModel):
    id: str = Field(examples=["004_0fd432a33c6b23a6-r05"])
    title: str
    source_file: str
    ordinal: int
    title_line: int
    body: str | None = Field(None, description="Issuing body, e.g. 县水利局.")
    level: str | None = Field(None, description="市/区/县/乡/镇/街道/村")
    period: str | None = Field(None, description="First period the title names, e.g. 2023年下半年.")
    periods: list[str] = Field(default_factory=list)
    kind: str | None = Field(None, description="总结, 计划 or both.")
    n_sections: int


class Facets(BaseModel):
    """Distinct values over all reports, for building filter menus."""

    periods: list[str]
    kinds: list[str]
    bodies: list[str]
    levels: list[str]


class ReportList(BaseModel):
    total: int = Field(description="Reports matching the filters.")
    reports: list[ReportSummary]
    facets: Facets


class SectionNode(BaseModel):
    id: str
    heading: str | None = Field(description="None for the report's preamble (the root).")
    marker: str | None = None
    level: int
    path: list[str]
    line_start: int
    line_end: int
    n_paragraphs: int = Field(description="Paragraphs held directly by this section.")
    children: list[SectionNode] = Field(default_factory=list)


class ReportDetail(ReportSummary):
    compilation_title: str | None = None
    sections: SectionNode = Field(description="The section tree; the root holds the preamble.")


class ParagraphText(BaseModel):
    id: str
    section_id: str = Field(description="The (sub)section that holds the paragraph.")
    text: str = Field(description="The line as in the source.")
    line: int
    char_start: int = Field(description="Offset in the source text; citations use the same offsets.")
    char_end: int
    kind: str


class SectionRef(BaseModel):
    """A section named for navigation (breadcrumb, previous / next)."""

    id: str
    heading: str | None = Field(description="None for the report's preamble (the root).")
    path: list[str] = Field(description="Headings from the top down to this one (empty for the root).")


SectionExpand = Literal["section", "chapter"]


class SectionText(BaseModel):
    report: ReportSummary
    requested_id: str = Field(description="The section asked for (with expand=chapter `section` may be the "
                                          "top-level section holding it).")
    section: SectionNode = Field(description="The section returned: the requested one, or with "
                                             "expand=chapter the top-level section that holds it (itself "
                                             "when top-level; the root when the root was asked).")
    text: str = Field(description="The section's paragraphs (sub-sections included), one per line.")
    paragraphs: list[ParagraphText]
    trail: list[SectionRef] = Field(description="Breadcrumb: the sections from the top level down to the "
                                                "*requested* one, that one included; the root (preamble) "
                                                "is never in it, so it is empty when the root was asked.")
    previous: SectionRef | None = Field(
        description="The section before the *returned* one among the report's sections of the same depth, "
                    "in reading order across parents (the last （…） of 一、 precedes the first of 二、). "
                    "The root counts as the first top-level section when it holds paragraphs (a preamble). "
                    "None at the start.")
    next: SectionRef | None = Field(
        description="The section after the returned one, by the same rule; for the root, the first "
                    "top-level section. None at the end.")


# ------------------------------------------------------------------------------------------- health


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    ready: bool
    detail: str = Field(description="What is loaded, or what is still loading / failed.")
    model: str | None = None


# ----------------------------------------------------------------------------- OpenAI compatibility


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


# ------------------------------------------------------------------------------------------- errors


class ErrorDetail(BaseModel):
    type: str = Field(examples=["invalid_request"])
    message: str = Field(examples=["question: the question is empty; type a question"])
    id: str | None = Field(None, description="The unknown id, for 404s.")
    details: list[dict[str, Any]] | None = Field(None, description="Per-field problems, for 422s.")
    status: int | None = Field(None, description="In a stream's `error` event: the HTTP status the error "
                                                 "would have had, had the stream not begun.")
    retry_after: int | None = Field(None, description="In a stream's `error` event: the Retry-After the "
                                                      "response would have had (seconds).")


class ErrorResponse(BaseModel):
    error: ErrorDetail


_ERRORS: dict[int, str] = {
    400: "Bad request.",
    401: "API key missing or wrong (only when a key is set).",
    403: "A write from another web site's page (Origin / Sec-Fetch-Site); use the service's own page or "
         "RAG_ALLOWED_ORIGINS.",
    404: "Unknown id; the message names it.",
    409: "Conflict; the message says what to do (Retry-After when it is worth retrying).",
    413: "Request body (or an uploaded file's content) over the size limit.",
    421: "The Host header names another host (the service answers localhost / 127.0.0.1 when bound to "
         "loopback; RAG_ALLOWED_HOSTS adds names).",
    422: "Malformed JSON or invalid fields; the message names them.",
    503: "Still loading, or busy (the answer queue or the search slots are full): Retry-After says when to "
         "come back.",
}


def error_responses(*codes: int, non_json_route: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error statuses, each with the ErrorResponse JSON body. On a route whose success
    is not JSON (SSE, plain text) the error body is still JSON, so it is given as content rather than as
    a model (which FastAPI would list under the route's own media type)."""
    if non_json_route:
        json_body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
        return {code: {"description": _ERRORS[code], "content": json_body} for code in codes}
    return {code: {"model": ErrorResponse, "description": _ERRORS[code]} for code in codes}


class ErrorEvent(BaseModel):
    """`event: error` of a stream: the answer failed after the stream began (same body as an error)."""

    error: ErrorDetail


# The event types of `POST /v1/ask/stream`, for its OpenAPI entry; api/app.py adds these schemas to the
# document's components (no route returns them as a model).
SSE_EVENT_MODELS: dict[str, type[BaseModel]] = {
    "evidence": EvidenceEvent, "token": TokenEvent, "row": RowEvent, "answer": AnswerEvent,
    "error": ErrorEvent}


def sse_event_schema(events: dict[str, str | None]) -> dict[str, Any]:
    """The schema of one Server-Sent Event (OpenAPI before 3.2 has a text/event-stream ``schema`` describe
    each event: its ``event`` name and its ``data``, a JSON text described by ``contentSchema``)."""
    variants = []
    for name, component in events.items():
        data: dict[str, Any] = {"type": "string"}
        if component:
            data |= {"contentMediaType": "application/json",
                     "contentSchema": {"$ref": f"#/components/schemas/{component}"}}
        variants.append({"type": "object", "required": ["data"],
                         "properties": {"event": {"const": name}, "data": data,
                                        "id": {"type": "string"}, "retry": {"type": "integer"}}})
    return {"oneOf": variants} if len(variants) > 1 else variants[0]


ASK_STREAM_EVENT = sse_event_schema({name: model.__name__ for name, model in SSE_EVENT_MODELS.items()})


UploadStageName = Literal["parsing", "parsed", "embedding", "saving"]


class UploadStage(BaseModel):
    """`event: stage` of `POST /v1/reports/stream`: the upload has reached this stage."""

    stage: UploadStageName = Field(description="parsing: reading and parsing the files (sent at once); "
                                   "parsed: every file was read (`reports` lists what was found); "
                                   "embedding: the new reports' passages are being embedded; saving: the "
                                   "new version of the corpus is being written and put in service.")
    reports: list[str] | None = Field(None, description="With `parsed`: the titles of the reports found, "
                                      "file by file in upload order.")


# The event types of `POST /v1/reports/stream`; added to the OpenAPI components like SSE_EVENT_MODELS.
UPLOAD_EVENT_MODELS: dict[str, type[BaseModel]] = {
    "stage": UploadStage, "done": ChangeSummary, "error": ErrorEvent}
UPLOAD_STREAM_EVENT = sse_event_schema({name: model.__name__ for name, model in UPLOAD_EVENT_MODELS.items()})
# OpenAI's stream: unnamed events ("message") whose data is a ChatCompletionChunk, or the text [DONE].
CHAT_STREAM_EVENT = sse_event_schema({"message": None})

# Every route behind the guard (api/security.py) can answer these.
GUARDED = (401, 421)
ERROR_RESPONSES = error_responses(*GUARDED)  # reads without a body
WRITE_RESPONSES = error_responses(*GUARDED, 403, 413, 422)  # routes that take a body
