"""Request and response bodies of the HTTP API, one module per area (the answer itself is
``rag.contracts.Answer``); this face re-exports their public names."""

from api.schemas.answers import AskRequest
from api.schemas.browse import (
    Facets,
    ParagraphText,
    ReportDetail,
    ReportList,
    ReportSummary,
    SearchResponse,
    SectionExpand,
    SectionNode,
    SectionRef,
    SectionText,
)
from api.schemas.errors import (
    ERROR_RESPONSES,
    GUARDED,
    WRITE_RESPONSES,
    ErrorDetail,
    ErrorResponse,
    error_responses,
)
from api.schemas.events import (
    ASK_STREAM_EVENT,
    CHAT_STREAM_EVENT,
    SSE_EVENT_MODELS,
    UPLOAD_EVENT_MODELS,
    UPLOAD_STREAM_EVENT,
    ErrorEvent,
    UploadStage,
    UploadStageName,
    sse_event_schema,
)
from api.schemas.health import Health, Readiness
from api.schemas.openai import (
    ChatChoice,
    ChatChunkChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatDelta,
    ChatMessageIn,
    ChatMessageOut,
    ChatUsage,
    ModelCard,
    ModelList,
    TextPart,
)
from api.schemas.questions import (
    EXAMPLE_QUESTION,
    MAX_CONVERSATION_CHARS,
    MAX_K,
    TURN_MAX_CHARS,
    ApiFilters,
    ApiTurn,
    Question,
    check_text,
    conversation_chars,
)

__all__ = [
    "ASK_STREAM_EVENT", "CHAT_STREAM_EVENT", "ERROR_RESPONSES", "EXAMPLE_QUESTION", "GUARDED",
    "MAX_CONVERSATION_CHARS", "MAX_K", "SSE_EVENT_MODELS", "TURN_MAX_CHARS", "UPLOAD_EVENT_MODELS",
    "UPLOAD_STREAM_EVENT", "WRITE_RESPONSES", "ApiFilters", "ApiTurn", "AskRequest", "ChatChoice",
    "ChatChunkChoice", "ChatCompletion", "ChatCompletionChunk", "ChatCompletionRequest", "ChatDelta",
    "ChatMessageIn", "ChatMessageOut", "ChatUsage", "ErrorDetail", "ErrorEvent", "ErrorResponse", "Facets",
    "Health", "ModelCard", "ModelList", "ParagraphText", "Question", "Readiness", "ReportDetail",
    "ReportList", "ReportSummary", "SearchResponse", "SectionExpand", "SectionNode", "SectionRef",
    "SectionText", "TextPart", "UploadStage", "UploadStageName", "check_text", "conversation_chars",
    "error_responses", "sse_event_schema",
]
