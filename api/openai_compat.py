"""OpenAI-compatible chat completions, so the `openai` client, Open WebUI, Chatbox … can talk to us.

The last user message is the question and earlier user/assistant messages are the history (system
prompts are ignored: the answer prompt is fixed). Citations ride along twice: as an extra ``citations``
field (the `openai` client keeps unknown fields) and as a 「来源」 list at the end of the text, which any
chat UI shows.

Streaming: the model's draft is not the answer — the answer is checked afterwards (unsupported sentences
removed, markers renumbered) — and a chat client cannot take back text it has shown. So the draft streams
as ``reasoning_content`` (the field reasoning models use: Open WebUI shows it live as a collapsible
"thinking" block, clients that do not know it ignore it) and the checked answer arrives as ``content``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from api.deps import MetricsDep, ServiceDep, WorkerDep, require_api_key
from api.errors import ApiError
from api.metrics import Metrics
from api.schemas.answers import AskRequest
from api.schemas.errors import ERROR_RESPONSES, error_responses
from api.schemas.events import CHAT_STREAM_EVENT
from api.schemas.openai import (
    ChatChoice,
    ChatChunkChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatDelta,
    ChatMessageOut,
    ChatUsage,
    ModelCard,
    ModelList,
)
from api.schemas.questions import MAX_CONVERSATION_CHARS, TURN_MAX_CHARS, conversation_chars
from api.streaming import (
    ClientGone,
    EventStreamResponse,
    answer_events,
    error_payload,
    final_answer,
    submit_answer,
)
from api.worker import Job
from rag.contracts import MAX_HISTORY_TURNS, Answer, AnswerEvent, TokenEvent, Turn

MODEL_ID = "govreport-rag"
EXTRACTIVE_MODEL_ID = "govreport-rag-extractive"

router = APIRouter(prefix="/v1", tags=["OpenAI compatible"], dependencies=[Depends(require_api_key)],
                   responses=ERROR_RESPONSES)


def to_ask_request(req: ChatCompletionRequest) -> AskRequest:
    """Messages → question + history. The history keeps the latest turns that fit the limit."""
    turns = [m for m in req.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise ApiError(422, "invalid_request", "messages: the last user/assistant message must be the "
                       "user's question")
    # Earlier turns longer than a Turn allows are cut, and the oldest dropped until the conversation fits,
    # rather than refused: chat clients resend whole conversations and cannot be told to shorten them.
    history = [Turn(role=m.role, content=m.text()[:TURN_MAX_CHARS]) for m in turns[:-1]
               if m.text().strip()][-MAX_HISTORY_TURNS:]
    question = turns[-1].text()
    while history and conversation_chars(question.strip(), history) > MAX_CONVERSATION_CHARS:
        history.pop(0)
    mode = "extractive" if req.model == EXTRACTIVE_MODEL_ID else "llm"
    payload = {"question": question, "history": [t.model_dump() for t in history], "mode": mode,
               "k": req.k, "filters": req.filters.model_dump() if req.filters else None}
    # Validated like /v1/ask, so an empty or over-long question gets the same readable 422.
    try:
        return AskRequest.model_validate(payload)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", "messages", len(req.messages) - 1, "content")
                   if e["loc"][:1] == ("question",) else ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from None


def sources_text(answer: Answer) -> str:
    """The 「来源」 list appended to the text: one line per citation, with where to find the quote."""
    if not answer.citations:
        return ""
    head = "最接近的章节：" if answer.refused else "来源："
    lines = [head]
    for c in answer.citations:
        where = " › ".join([c.report_title, *c.section_path])
        span = str(c.line_start) if c.line_start == c.line_end else f"{c.line_start}–{c.line_end}"
        lines_ref = f"第{span}行"
        quote = c.quote.strip().replace("\n", " ")
        quote = quote if len(quote) <= 60 else quote[:60] + "…"
        lines.append(f"[{c.n}] {where}（{c.source_file} {lines_ref}）「{quote}」")
    return "\n".join(lines)


def full_text(answer: Answer) -> str:
    sources = sources_text(answer)
    return f"{answer.answer}\n\n{sources}" if sources else answer.answer


def _usage(answer: Answer) -> ChatUsage:
    t = answer.timings
    return ChatUsage(prompt_tokens=t.prompt_tokens, completion_tokens=t.completion_tokens,
                     total_tokens=t.prompt_tokens + t.completion_tokens)


@router.get("/models", response_model=ModelList, summary="Models (OpenAI `GET /v1/models`)")
def list_models() -> ModelList:
    now = int(time.time())
    return ModelList(data=[ModelCard(id=name, created=now) for name in (MODEL_ID, EXTRACTIVE_MODEL_ID)])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="OpenAI-compatible chat completion (stream true/false)",
    responses={200: {"description": "The completion; with `stream: true`, `text/event-stream` of chunks.",
                     "content": {"text/event-stream": {"schema": CHAT_STREAM_EVENT}}},
               **error_responses(403, 413, 422, 503)},
    description="The `openai` client works unchanged (`base_url=http://127.0.0.1:8000/v1`). With "
                "`stream: true` the reply is `text/event-stream` of `chat.completion.chunk` objects ending "
                "with `data: [DONE]`; the last chunk carries `citations`.",
)
async def chat_completions(body: ChatCompletionRequest, request: Request, service: ServiceDep,
                           worker: WorkerDep, metrics: MetricsDep) -> Response:
    ask = to_ask_request(body)
    model = body.model if body.model in (MODEL_ID, EXTRACTIVE_MODEL_ID) else MODEL_ID
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    job = submit_answer(worker, service, ask)
    if body.stream:
        return EventStreamResponse(_chunks(job, metrics, completion_id, created, model),
                                   on_close=job.cancel.set)
    try:
        answer = await final_answer(job, request, metrics)
    except ClientGone:
        return Response(status_code=499)
    result = ChatCompletion(
        id=completion_id, created=created, model=model,
        choices=[ChatChoice(message=ChatMessageOut(content=full_text(answer)))],
        usage=_usage(answer), citations=answer.citations, refused=answer.refused, table=answer.table,
    )
    return JSONResponse(result.model_dump(mode="json", exclude_none=True))


async def _chunks(job: Job, metrics: Metrics, completion_id: str, created: int,
                  model: str) -> AsyncIterator[bytes]:
    def chunk(delta: ChatDelta, finish: str | None = None, **extra) -> bytes:
        c = ChatCompletionChunk(id=completion_id, created=created, model=model,
                                choices=[ChatChunkChoice(delta=delta, finish_reason=finish)], **extra)
        return f"data: {c.model_dump_json(exclude_none=True)}\n\n".encode()

    yield chunk(ChatDelta(role="assistant", content=""))
    try:
        async for event in answer_events(job, metrics):
            if event is None:
                yield b": waiting\n\n"
            elif isinstance(event, TokenEvent) and event.text:
                yield chunk(ChatDelta(reasoning_content=event.text))
            elif isinstance(event, AnswerEvent):
                answer = event.answer
                # Line by line, so clients render the checked answer progressively too.
                for line in full_text(answer).splitlines(keepends=True):
                    yield chunk(ChatDelta(content=line))
                yield chunk(ChatDelta(), finish="stop", usage=_usage(answer), citations=answer.citations,
                            refused=answer.refused, table=answer.table)
    except Exception as exc:
        yield f"data: {json.dumps(error_payload(exc), ensure_ascii=False)}\n\n".encode()
    yield b"data: [DONE]\n\n"
