"""The API on a real uvicorn server (loopback, fake service): streaming timing, the single LLM worker,
its bounded queue, cancellation on disconnect, and the `openai` client package against us."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from api.app import create_app
from testkit.live_server import live_server

pytestmark = pytest.mark.integration  # a real uvicorn server on loopback

QUESTION = "县水利局下半年在资金管理上有什么安排？"


def _wait_until(cond, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _events(response: httpx.Response):
    """(name, raw data) of each SSE event as it arrives."""
    name = None
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            yield name, line[5:].strip()
            name = None


@pytest.fixture
def slow_service(fake_service):
    fake_service.token_delay = 0.15  # ~20 tokens: a generation takes ~3 s
    return fake_service


def test_evidence_arrives_at_once_and_tokens_stream(settings, slow_service):
    with live_server(create_app(settings, service=slow_service)) as base, httpx.Client(timeout=30) as http:
        t0 = time.monotonic()
        with http.stream("POST", f"{base}/v1/ask/stream", json={"question": QUESTION}) as r:
            assert r.status_code == 200
            arrivals = [(name, time.monotonic() - t0) for name, _ in _events(r)]
    tokens = [t for name, t in arrivals if name == "token"]
    assert arrivals[0][0] == "evidence" and arrivals[-1][0] == "answer"
    # No wall-clock limit: the fake model's own pace is the yardstick. The evidence is sent before the
    # first token (which the fake produces only after sleeping token_delay), not with the answer; tokens
    # arrive spread over the generation (≥ half the sleeps between the first and the last), not buffered.
    delay = slow_service.token_delay
    assert arrivals[0][1] < tokens[0] - delay / 2
    assert tokens[-1] - tokens[0] > (len(tokens) - 1) * delay / 2


def test_disconnect_cancels_the_running_generation(settings, slow_service):
    app = create_app(settings, service=slow_service)
    with live_server(app) as base, httpx.Client(timeout=30) as http:
        with http.stream("POST", f"{base}/v1/ask/stream", json={"question": QUESTION}) as r:
            for name, _ in _events(r):
                if name == "token":
                    break  # leave after the first token
        # the whole generation takes ~3 s; it must stop well before
        assert _wait_until(lambda: QUESTION in slow_service.cancelled, 1.0), "generation was not cancelled"
        worker = app.state.runtime.worker
        assert _wait_until(lambda: worker.jobs_total["cancelled"] == 1)
        assert not worker.busy
        # the worker is free again for the next question
        assert http.post(f"{base}/v1/ask", json={"question": QUESTION}).status_code == 200


def test_disconnect_cancels_a_blocking_ask_too(settings, slow_service):
    app = create_app(settings, service=slow_service)
    with live_server(app) as base:
        with pytest.raises(httpx.ReadTimeout), httpx.Client(timeout=0.8) as http:
            http.post(f"{base}/v1/ask", json={"question": QUESTION})
        assert _wait_until(lambda: QUESTION in slow_service.cancelled, 1.0)


def test_one_generation_at_a_time_and_a_full_queue_is_503(settings, slow_service):
    app = create_app(settings.model_copy(update={"queue_size": 1}), service=slow_service)
    results: dict[str, int] = {}

    took: dict[str, float] = {}

    def ask(tag: str, base: str) -> None:
        t0 = time.monotonic()
        r = httpx.post(f"{base}/v1/ask", json={"question": f"{QUESTION}{tag}"}, timeout=30)
        results[tag], took[tag] = r.status_code, time.monotonic() - t0

    with live_server(app) as base:
        first = threading.Thread(target=ask, args=("A", base))
        first.start()
        assert _wait_until(slow_service.running.is_set)  # A is generating
        second = threading.Thread(target=ask, args=("B", base))
        second.start()
        worker = app.state.runtime.worker
        assert _wait_until(lambda: worker.depth == 1)  # B waits in the queue
        r = httpx.post(f"{base}/v1/ask", json={"question": QUESTION}, timeout=30)
        assert r.status_code == 503 and r.json()["error"]["type"] == "busy"
        assert 1 <= int(r.headers["Retry-After"]) <= 300
        s = httpx.post(f"{base}/v1/ask/stream", json={"question": QUESTION}, timeout=30)
        assert s.status_code == 503 and "Retry-After" in s.headers  # refused before the stream starts
        # the event loop is not blocked by the generation: health and reports answer while A generates,
        # in a small part of A's generation time (a blocked loop would make them wait for the rest of it)
        t0 = time.monotonic()
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/v1/reports").status_code == 200
        served = time.monotonic() - t0
        metrics = httpx.get(f"{base}/metrics").text
        assert "rag_llm_queue_depth 1" in metrics and "rag_llm_busy 1" in metrics
        assert 'rag_llm_jobs_total{outcome="rejected"} 2' in metrics
        first.join(30)
        second.join(30)
    assert results == {"A": 200, "B": 200}
    assert served < took["A"] / 4, (served, took)
    assert slow_service.max_concurrent == 1  # serialised
    assert [c for c in slow_service.calls if c[-1] in "AB"] == [f"{QUESTION}A", f"{QUESTION}B"]  # in order


def test_a_queued_question_whose_client_left_is_skipped(settings, slow_service):
    app = create_app(settings, service=slow_service)
    with live_server(app) as base:
        first = threading.Thread(
            target=lambda: httpx.post(f"{base}/v1/ask", json={"question": "第一个问题 水利"}, timeout=30))
        first.start()
        assert _wait_until(slow_service.running.is_set)
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{base}/v1/ask", json={"question": "第二个问题 水利"}, timeout=0.5)
        first.join(30)
        worker = app.state.runtime.worker
        assert _wait_until(lambda: worker.jobs_total["cancelled"] == 1)
    assert "第二个问题 水利" not in slow_service.calls  # never generated


def test_openai_client_against_the_server(settings, fake_service):
    openai = pytest.importorskip("openai")
    with live_server(create_app(settings, service=fake_service)) as base:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
        assert {m.id for m in client.models.list().data} == {"govreport-rag", "govreport-rag-extractive"}
        completion = client.chat.completions.create(
            model="govreport-rag", messages=[{"role": "user", "content": QUESTION}])
        text = completion.choices[0].message.content
        assert "[1]" in text and "来源：" in text and "县水利局" in text
        extra = completion.model_extra or {}
        assert extra["citations"][0]["n"] == 1 and extra["refused"] is False
        assert completion.usage.completion_tokens > 0

        stream = client.chat.completions.create(
            model="govreport-rag", stream=True,
            messages=[{"role": "system", "content": "你是助手"},
                      {"role": "user", "content": "统计局"}, {"role": "assistant", "content": "……"},
                      {"role": "user", "content": QUESTION}])
        content, draft, last = [], [], None
        for chunk in stream:
            if chunk.choices:
                delta = chunk.choices[0].delta
                content.append(delta.content or "")
                draft.append((delta.model_extra or {}).get("reasoning_content") or "")
            last = chunk
        # the draft streams as reasoning, token by token; the checked answer + sources as content
        assert sum(1 for d in draft if d) > 3
        assert "".join(draft) == completion.choices[0].message.content.split("\n\n来源")[0]
        assert "".join(content) == completion.choices[0].message.content
        assert last.choices[0].finish_reason == "stop" and last.model_extra["citations"]

        with pytest.raises(openai.UnprocessableEntityError) as exc:
            client.chat.completions.create(model="govreport-rag", messages=[{"role": "user", "content": " "}])
        assert "empty" in str(exc.value)


def test_a_queued_stream_says_how_many_are_ahead(settings, slow_service):
    app = create_app(settings, service=slow_service)
    with live_server(app) as base:
        first_done = threading.Event()

        def ask_first() -> None:
            httpx.post(f"{base}/v1/ask", json={"question": QUESTION}, timeout=30)
            first_done.set()

        first = threading.Thread(target=ask_first)
        first.start()
        assert _wait_until(slow_service.running.is_set)
        question = {"question": "统计局数据质量"}
        with httpx.stream("POST", f"{base}/v1/ask/stream", json=question, timeout=30) as r:
            lines = r.iter_lines()
            # the evidence does not wait for the busy model: it comes while the first answer is generated
            assert next(lines) == "event: evidence" and not first_done.is_set()
            slow_service.token_delay = 0.01  # proven: the rest need not take seconds
            rest = [ln for ln in lines if ln.startswith(("event:", ":"))]
        first.join(30)
    assert rest[0] == ": queued 1" and rest[-1] == "event: answer"
    assert slow_service.max_concurrent == 1
