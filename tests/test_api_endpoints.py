"""Every endpoint through TestClient with the fake answer service (real corpus and retrieval), and every
kind of bad input: each gets a clear 4xx with the JSON error shape, never a 500."""

from __future__ import annotations

import json

import pytest

from api.app import create_app
from rag.config import Settings
from rag.contracts import Answer, AnswerEvent, EvidenceEvent, TokenEvent
from rag.corpus import source_text
from tests.local_client import local_client

QUESTION = "县水利局下半年在资金管理上有什么安排？"
WATER = "004_0fd432a33c6b23a6-r05"


@pytest.fixture
def client(settings, fake_service):
    with local_client(create_app(settings, service=fake_service), raise_server_exceptions=False) as c:
        yield c


def parse_sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.split("\n\n"):
        lines = [ln for ln in block.split("\n") if ln and not ln.startswith(":")]
        if not lines:
            continue
        name = next((ln[6:].strip() for ln in lines if ln.startswith("event:")), "message")
        data = "\n".join(ln[5:].lstrip() for ln in lines if ln.startswith("data:"))
        events.append((name, json.loads(data) if data != "[DONE]" else data))
    return events


def assert_error(r, status: int, type_: str, *words: str) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["type"] == type_, err
    for w in words:
        assert w in err["message"], (w, err["message"])
    return err


# ------------------------------------------------------------------------------------------ /v1/ask


def test_ask_returns_the_answer_contract(client, real_corpus):
    r = client.post("/v1/ask", json={"question": f"  {QUESTION}\n"})
    assert r.status_code == 200
    answer = Answer.model_validate(r.json())
    assert answer.question == QUESTION  # trimmed
    assert not answer.refused and "[1]" in answer.answer
    c = answer.citations[0]
    assert c.report_id == WATER
    src = source_text(real_corpus.source_path(real_corpus.get(c.report_id)))
    assert src[c.char_start:c.char_end] == c.quote  # the quote is where it says it is


def test_ask_passes_history_mode_k_and_filters(client, fake_service):
    r = client.post("/v1/ask", json={
        "question": "那上半年呢？", "mode": "extractive", "k": 3, "filters": {"body": "统计局"},
        "history": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "……[1]"}],
    })
    assert r.status_code == 200
    answer = r.json()
    assert answer["mode"] == "extractive" and answer["timings"]["first_token_ms"] is None
    assert answer["standalone_question"].startswith(QUESTION[:8])  # history reached the service
    evidence = answer["evidence"]
    assert 1 <= len(evidence) <= 3  # k reached retrieval
    assert all("统计局" in e["report_title"] for e in evidence)  # filters reached retrieval


def test_refusal_lists_the_nearest_sections(client):
    r = client.post("/v1/ask", json={"question": "火星上的水利局有什么安排？"})
    assert r.status_code == 200
    body = r.json()
    assert body["refused"] is True and body["citations"] and body["refusal_reason"]


@pytest.mark.parametrize("payload, field, words", [
    ({"question": ""}, "question", ["empty"]),
    ({"question": " \n\t "}, "question", ["empty"]),
    ({"question": "问" * 2001}, "question", ["2001", "2000"]),
    ({"question": 42}, "question", ["string"]),
    ({"question": ["a"]}, "question", ["string"]),
    ({}, "question", ["required"]),
    ({"question": "水利", "k": 0}, "k", ["greater than or equal to 1"]),
    ({"question": "水利", "k": 51}, "k", ["less than or equal to 50"]),
    ({"question": "水利", "k": "many"}, "k", ["integer"]),
    ({"question": "水利", "mode": "poetry"}, "mode", ["llm", "extractive"]),
    ({"question": "水利", "history": [{"role": "user", "content": "x"}] * 21}, "history", ["20"]),
    ({"question": "水利", "history": [{"role": "system", "content": "x"}]}, "history[0].role", ["user"]),
    ({"question": "水利", "history": [{"role": "user"}]}, "history[0].content", ["required"]),
    ({"question": "水利", "history": "hi"}, "history", ["list"]),
    ({"question": "水利", "filters": {"bodyy": "水利局"}}, "filters.bodyy", ["not a known field"]),
    ({"question": "水利", "filters": "水利局"}, "filters", []),
    ({"question": "水利", "temperature": 0.5}, "temperature", ["not a known field"]),
])
def test_ask_rejects_bad_fields_with_a_readable_422(client, payload, field, words):
    err = assert_error(client.post("/v1/ask", json=payload), 422, "invalid_request", field, *words)
    assert any(d["field"] == field for d in err["details"])


def test_ask_accepts_the_limits_exactly(client):
    assert client.post("/v1/ask", json={"question": " " + "问" * 2000 + " "}).status_code == 200
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": "水利"} for i in range(20)]
    assert client.post("/v1/ask", json={"question": "水利", "history": history, "k": 50}).status_code == 200
    assert client.post("/v1/ask", json={"question": "水利", "k": 1}).status_code == 200


@pytest.mark.parametrize("body, words", [
    (b'{"question": ', ["malformed JSON"]),
    (b"{'question': 'x'}", ["malformed JSON"]),
    (b"", ["required"]),
    (b"[1, 2]", ["object"]),
    (b'"just a string"', ["object"]),
    ("{\"question\": \"\xff\"}".encode("latin-1"), []),
])
def test_malformed_json_is_a_422_not_a_500(client, body, words):
    r = client.post("/v1/ask", content=body, headers={"Content-Type": "application/json"})
    assert_error(r, 422, "invalid_request", *words)


def test_oversized_bodies_get_413(settings, fake_service):
    small = settings.model_copy(update={"max_body_bytes": 2048})
    with local_client(create_app(small, service=fake_service)) as client:
        big = {"question": "水利", "history": [{"role": "user", "content": "水" * 1000}]}
        assert_error(client.post("/v1/ask", json=big), 413, "payload_too_large", "2048")

        def chunks():  # no Content-Length: the limit must hold for chunked bodies too
            for _ in range(10):
                yield b" " * 500

        r = client.post("/v1/ask", content=chunks(), headers={"Content-Type": "application/json"})
        assert_error(r, 413, "payload_too_large")
        assert client.post("/v1/ask", json={"question": "水利"}).status_code == 200


# ----------------------------------------------------------------------------------- /v1/ask/stream


def test_stream_sends_evidence_then_tokens_then_the_answer(client):
    r = client.post("/v1/ask/stream", json={"question": QUESTION})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.text)
    names = [n for n, _ in events]
    assert names[0] == "evidence" and names[-1] == "answer"
    assert set(names[1:-1]) == {"token"} and len(names) > 3
    evidence = EvidenceEvent.model_validate(events[0][1])
    assert evidence.evidence and evidence.evidence[0].report_id == WATER
    tokens = "".join(TokenEvent.model_validate(d).text for n, d in events if n == "token")
    answer = AnswerEvent.model_validate(events[-1][1]).answer
    assert tokens == answer.answer and answer.citations


def test_stream_reports_a_failure_as_an_error_event(client):
    events = parse_sse(client.post("/v1/ask/stream", json={"question": "水利局资金故障"}).text)
    assert [n for n, _ in events] == ["evidence", "error"]
    err = events[-1][1]["error"]
    # the type and status the JSON error would have had (api.errors.describe), Retry-After as a field
    assert err["type"] == "generation_error" and "on purpose" in err["message"] and err["status"] == 503
    assert err["retry_after"] == 10


def test_stream_validates_like_ask(client):
    assert_error(client.post("/v1/ask/stream", json={"question": "  "}), 422, "invalid_request", "empty")
    r = client.post("/v1/ask/stream", json={"question": "水利", "k": 99})
    assert_error(r, 422, "invalid_request", "k")


def test_service_errors_map_to_their_status(client, fake_service, monkeypatch):
    from rag.errors import InvalidQuestion

    def bad(*a, **kw):
        raise InvalidQuestion("history must alternate user and assistant turns")
        yield  # pragma: no cover

    monkeypatch.setattr(fake_service, "stream", bad)
    assert_error(client.post("/v1/ask", json={"question": "水利"}), 422, "invalid_question", "alternate")


# -------------------------------------------------------------------------------------- /v1/search


def test_search_returns_ranked_hits(client):
    r = client.get("/v1/search", params={"q": QUESTION, "k": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["k"] == 5 and 1 <= len(body["hits"]) <= 5
    assert [h["rank"] for h in body["hits"]] == list(range(1, len(body["hits"]) + 1))
    assert any(h["report_id"] == WATER for h in body["hits"][:3])


def test_search_filters(client):
    hits = client.get("/v1/search", params={"q": "工作计划", "k": 20, "body": "统计局"}).json()["hits"]
    assert hits and all("统计" in h["report_title"] for h in hits)
    hits = client.get("/v1/search", params={"q": "资金", "report_id": WATER}).json()["hits"]
    assert hits and {h["report_id"] for h in hits} == {WATER}


@pytest.mark.parametrize("params, field", [
    ({}, "q"), ({"q": "   "}, "q"), ({"q": "x" * 2001}, "q"), ({"q": "水利", "k": 0}, "k"),
    ({"q": "水利", "k": 51}, "k"), ({"q": "水利", "k": "ten"}, "k"), ({"q": "水利", "mode": "magic"}, "mode"),
])
def test_search_bad_params_are_422(client, params, field):
    assert_error(client.get("/v1/search", params=params), 422, "invalid_request", field)


# ------------------------------------------------------------------------------------- /v1/reports


def test_reports_list_with_filters_and_facets(client, real_corpus):
    body = client.get("/v1/reports").json()
    assert body["total"] == len(real_corpus.reports) == len(body["reports"])
    assert "2023年下半年" in body["facets"]["periods"] and "县水利局" in body["facets"]["bodies"]
    water = client.get("/v1/reports", params={"body": "水利局"}).json()
    assert water["total"] >= 1 and all("水利局" in (r["body"] or "") + r["title"] for r in water["reports"])
    plans = client.get("/v1/reports", params={"kind": "计划", "period": "2023年下半年"}).json()["reports"]
    assert plans and all(r["kind"] in ("计划", "both") and "2023年下半年" in r["periods"] for r in plans)
    assert client.get("/v1/reports", params={"body": "不存在的单位"}).json() == {
        "total": 0, "reports": [], "facets": body["facets"]}


def test_report_detail_is_the_section_tree(client, real_corpus):
    body = client.get(f"/v1/reports/{WATER}").json()
    report = real_corpus.get(WATER)
    assert body["id"] == WATER and body["title"] == report.title
    root = body["sections"]
    assert root["heading"] is None and root["level"] == 0

    def count(node):
        return 1 + sum(count(c) for c in node["children"])

    assert count(root) - 1 == report.n_sections == body["n_sections"]


def test_section_text_has_source_offsets(client, real_corpus):
    report = real_corpus.get(WATER)
    section = report.root.children[1]  # 二、下半年工作计划, with sub-sections
    body = client.get(f"/v1/reports/{WATER}/sections/{section.id}").json()
    assert body["section"]["id"] == section.id and body["report"]["id"] == WATER
    src = source_text(real_corpus.source_path(report))
    paragraphs = body["paragraphs"]
    assert len(paragraphs) > len(section.paragraphs)  # sub-sections included
    assert [p["char_start"] for p in paragraphs] == sorted(p["char_start"] for p in paragraphs)
    for p in paragraphs:
        assert src[p["char_start"]:p["char_end"]] == p["text"]
    assert body["text"] == "\n".join(p["text"] for p in paragraphs)
    assert {p["section_id"] for p in paragraphs} > {section.id}


def _refs(refs: list[dict]) -> list[str]:
    return [r["id"] for r in refs]


def test_section_context_trail_and_neighbours(client, real_corpus):
    report = real_corpus.get(WATER)
    root = report.root
    one, two = root.children[0], root.children[1]  # 一、工作举措及成效, 二、下半年工作计划
    deep = one.children[0].children[1]  # 一、 › （一） › 2、
    body = client.get(f"/v1/reports/{WATER}/sections/{deep.id}").json()
    assert body["requested_id"] == deep.id and body["section"]["id"] == deep.id
    assert _refs(body["trail"]) == [one.id, one.children[0].id, deep.id]  # top level down, root excluded
    assert body["trail"][-1] == {"id": deep.id, "heading": deep.heading, "path": deep.path}
    assert body["trail"][0]["path"] == [one.heading]
    # neighbours among the same depth, in reading order
    assert body["previous"]["id"] == one.children[0].children[0].id
    assert body["next"]["id"] == one.children[0].children[2].id
    # ... across parents: the last 1、 under （一） is followed by the first under （二）
    last = one.children[0].children[-1]
    body = client.get(f"/v1/reports/{WATER}/sections/{last.id}").json()
    assert body["next"]["id"] == one.children[1].children[0].id
    # the last （四） of 一、 and the first 1、 of 二、 are neighbours at depth 2
    body = client.get(f"/v1/reports/{WATER}/sections/{one.children[-1].id}").json()
    assert body["next"]["id"] == two.children[0].id
    body = client.get(f"/v1/reports/{WATER}/sections/{two.children[0].id}").json()
    assert body["previous"]["id"] == one.children[-1].id
    # top level: this report's preamble is empty, so 一、 has no previous; the last has no next
    assert not root.paragraphs
    body = client.get(f"/v1/reports/{WATER}/sections/{one.id}").json()
    assert body["previous"] is None and body["next"]["id"] == two.id and _refs(body["trail"]) == [one.id]
    body = client.get(f"/v1/reports/{WATER}/sections/{two.children[-1].id}").json()
    assert body["next"] is None and body["previous"]["id"] == two.children[-2].id
    # the root: no trail, nothing before it, the first top-level section after it
    body = client.get(f"/v1/reports/{WATER}/sections/{root.id}").json()
    assert body["trail"] == [] and body["previous"] is None and body["next"]["id"] == one.id
    assert body["section"]["heading"] is None


def test_a_preamble_comes_before_the_first_top_level_section(client, real_corpus):
    report = next(r for r in real_corpus.reports if r.root.paragraphs and r.root.children)
    first = report.root.children[0]
    body = client.get(f"/v1/reports/{report.id}/sections/{first.id}").json()
    assert body["previous"] == {"id": report.root.id, "heading": None, "path": []}


def test_section_expand_chapter_returns_the_top_level_section(client, real_corpus):
    report = real_corpus.get(WATER)
    one, two = report.root.children[0], report.root.children[1]
    deep = one.children[0].children[1]
    url = f"/v1/reports/{WATER}/sections"
    chapter = client.get(f"{url}/{deep.id}", params={"expand": "chapter"}).json()
    whole = client.get(f"{url}/{one.id}").json()
    assert chapter["requested_id"] == deep.id and chapter["section"]["id"] == one.id
    assert chapter["section"] == whole["section"]
    assert chapter["text"] == whole["text"] and chapter["paragraphs"] == whole["paragraphs"]
    assert any(p["section_id"] == deep.id for p in chapter["paragraphs"])  # the citation is in it
    assert _refs(chapter["trail"]) == [one.id, one.children[0].id, deep.id]  # still to the requested one
    # neighbours are the returned section's: the chapters around it
    assert chapter["previous"] is None and chapter["next"]["id"] == two.id
    # a top-level section and the root are their own chapters
    assert client.get(f"{url}/{two.id}", params={"expand": "chapter"}).json()["section"]["id"] == two.id
    root = client.get(f"{url}/{report.root.id}", params={"expand": "chapter"}).json()
    assert root["section"]["id"] == report.root.id and root["trail"] == []
    assert root["next"]["id"] == one.id
    # the default is the section itself
    assert client.get(f"{url}/{deep.id}").json()["section"]["id"] == deep.id


def test_section_expand_must_be_known(client):
    err = assert_error(client.get(f"/v1/reports/{WATER}/sections/{WATER}-s1", params={"expand": "book"}),
                       422, "invalid_request", "expand")
    assert err["details"][0]["field"] == "expand"
    # an unknown section is still a 404, with or without expand
    assert_error(client.get(f"/v1/reports/{WATER}/sections/{WATER}-s99", params={"expand": "chapter"}),
                 404, "section_not_found", f"{WATER}-s99", f"GET /v1/reports/{WATER}")


def test_unknown_ids_are_404_with_the_id(client, real_corpus):
    err = assert_error(client.get("/v1/reports/no-such-report"), 404, "report_not_found", "no-such-report")
    assert err["id"] == "no-such-report"
    err = assert_error(client.get(f"/v1/reports/{WATER}/sections/{WATER}-s99"), 404, "section_not_found",
                       f"{WATER}-s99")
    assert err["id"] == f"{WATER}-s99"
    other = next(r for r in real_corpus.reports if r.id != WATER and r.root.children).root.children[0].id
    assert_error(client.get(f"/v1/reports/{WATER}/sections/{other}"), 404, "section_not_found", other)
    assert_error(client.get("/v1/reports/nope/sections/nope-s1"), 404, "report_not_found", "nope")


# ------------------------------------------------------------------------------------- misc routes


def test_unknown_route_and_wrong_method_are_json_errors(client):
    assert_error(client.get("/v2/everything"), 404, "not_found", "/v2/everything")
    assert_error(client.get("/v1/ask"), 405, "method_not_allowed", "GET")
    assert_error(client.post("/v1/ask", content=b"question=x",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}),
                 422, "invalid_request")


def test_openapi_documents_every_endpoint_with_examples(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ["/v1/ask", "/v1/ask/stream", "/v1/chat/completions", "/v1/models", "/v1/search",
                 "/v1/reports", "/v1/reports/stream", "/v1/reports/{report_id}",
                 "/v1/reports/{report_id}/sections/{section_id}",
                 "/healthz", "/readyz", "/metrics"]:
        assert path in paths, path
    ask = spec["components"]["schemas"]["AskRequest"]
    assert ask["examples"][0]["question"] == QUESTION
    assert "422" in paths["/v1/ask"]["post"]["responses"]
    assert "text/event-stream" in paths["/v1/ask/stream"]["post"]["responses"]["200"]["content"]
    upload = paths["/v1/reports/stream"]["post"]["responses"]
    assert "text/event-stream" in upload["200"]["content"] and "application/json" in upload["422"]["content"]
    assert {"UploadStage", "ChangeSummary", "ErrorEvent", "SectionRef"} <= set(spec["components"]["schemas"])
    section = paths["/v1/reports/{report_id}/sections/{section_id}"]["get"]
    assert any(p["name"] == "expand" for p in section["parameters"])


def test_chat_page_and_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "政府工作报告问答" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for asset in ("/static/app.js", "/static/style.css"):
        r = client.get(asset)
        assert r.status_code == 200 and "https://" not in r.text


def test_metrics_exposition(client):
    client.post("/v1/ask", json={"question": QUESTION})
    client.get("/v1/reports/nope")
    text = client.get("/metrics").text
    assert 'rag_http_requests_total{method="POST",route="/v1/ask",status="200"} 1' in text
    assert 'rag_http_requests_total{method="GET",route="/v1/reports/{report_id}",status="404"} 1' in text
    assert 'rag_http_request_duration_seconds_count{route="/v1/ask"} 1' in text
    assert "rag_llm_queue_depth 0" in text and "rag_ready 1" in text
    assert 'rag_llm_jobs_total{outcome="ok"} 1' in text
    assert 'rag_answers_total{mode="llm",refused="false"} 1' in text
    tps = next(ln for ln in text.splitlines() if ln.startswith("rag_llm_tokens_per_second "))
    assert float(tps.split()[1]) > 0
    for line in text.splitlines():  # every sample line is `name{labels} number`
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


# -------------------------------------------------------------------------------------------- API key


def test_api_key_protects_everything_but_health(settings, fake_service):
    keyed = Settings(**{**settings.model_dump(), "api_key": "s3cret"}, _env_file=None)
    with local_client(create_app(keyed, service=fake_service)) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/").status_code == 200  # the page holds no data; it asks for the key
        protected = [("GET", "/v1/reports", None), ("GET", "/v1/search?q=水利", None),
                     ("POST", "/v1/ask", {"question": "水利"}), ("GET", "/metrics", None),
                     ("GET", "/v1/models", None), ("POST", "/v1/ask/stream", {"question": "水利"}),
                     ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "水利"}]})]
        for method, path, body in protected:
            r = client.request(method, path, json=body)
            assert_error(r, 401, "unauthorized", "API key")
            assert r.headers["WWW-Authenticate"] == "Bearer"
            wrong = client.request(method, path, json=body, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
        assert client.get("/v1/reports", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/v1/reports", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert client.get("/metrics", headers={"X-API-Key": "s3cret"}).status_code == 200


GARBAGE = [
    b"\x00\x01", b"{" * 50_000, b"[" * 50_000, b"1e999999", b"NaN", b"null", b"true",
    b'{"question": null}', b'{"question": "\\ud800\\u6c34"}', b'{"question": "a", "history": [null]}',
    b'{"question": "a", "history": [{"role": "user", "content": "\\udfff"}]}',
    b'{"question": "a", "k": 1.5}', b'{"question": "a", "k": true}', b'{"question": "a", "k": "5"}',
    b'{"question": "a", "k": NaN}', b'{"question": "a", "filters": {"period": 5}}',
    b'{"question": {"$gt": ""}}',
    b'{"messages": "hi"}', b'{"messages": []}', b'{"messages": [{"role": "user"}]}',
    b'{"messages": [{"role": "wizard", "content": "x"}]}', b'{"messages": [{"role": "user", "content": 5}]}',
    b'{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}',
    b'{"messages": [{"role": "user", "content": "\\ud800"}], "stream": true}',
    b'{"messages": [{"role": "assistant", "content": "hi"}]}',
    b'{"messages": [{"role": "user", "content": "a"}], "k": "3"}',
]


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/ask/stream", "/v1/chat/completions"])
def test_garbage_never_gets_a_500(client, path):
    for body in GARBAGE:
        r = client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code < 500 and "internal_error" not in r.text, (body[:60], r.text[:200])
        if r.status_code >= 400:
            assert r.json()["error"]["message"]
    ask = '"messages": [{"role": "user", "content": "水利"}]' if "chat" in path else '"question": "水利"'
    for k in ("true", "1.5", '"5"'):  # strict: a JSON number, not something that converts to one
        r = client.post(path, content=f'{{{ask}, "k": {k}}}'.encode(),
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and [d["field"] for d in r.json()["error"]["details"]] == ["k"]
