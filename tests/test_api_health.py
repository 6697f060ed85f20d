"""Start-up: /healthz at once, /readyz and the other endpoints 503 until the service has loaded."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

import api.app
from api.app import create_app
from tests.local_client import local_client


def _wait(client: TestClient, path: str, status: int, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(path)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.02)


def test_ready_at_once_with_an_injected_service(settings, fake_service):
    with local_client(create_app(settings, service=fake_service)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        r = client.get("/readyz")
        assert r.status_code == 200 and r.json()["ready"] is True and r.json()["model"] == "fake-llm"


def test_not_ready_while_loading_then_ready(settings, fake_service, monkeypatch):
    release = threading.Event()

    def slow_load(_settings):
        release.wait(10)
        return fake_service

    monkeypatch.setattr(api.app, "_load_service", slow_load)
    with local_client(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200  # alive while loading
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["ready"] is False and "loading" in r.json()["detail"]
        r = client.post("/v1/ask", json={"question": "水利局资金管理"})
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
        assert r.json()["error"]["type"] == "not_ready"
        assert client.get("/v1/reports").status_code == 503
        release.set()
        assert _wait(client, "/readyz", 200).json()["ready"] is True
        assert client.get("/v1/reports").status_code == 200


def test_a_failed_load_is_reported_not_fatal(settings, monkeypatch):
    from rag.errors import ModelMissing

    def failing_load(_settings):
        raise ModelMissing("GGUF model not found at /nowhere.gguf; run `make models`")

    monkeypatch.setattr(api.app, "_load_service", failing_load)
    with local_client(create_app(settings)) as client:
        r = _wait(client, "/readyz", 503)
        deadline = time.monotonic() + 5
        while "failed" not in r.json()["detail"] and time.monotonic() < deadline:
            r = client.get("/readyz")
        assert "loading failed" in r.json()["detail"] and "make models" in r.json()["detail"]
        r = client.get("/v1/search", params={"q": "水利"})
        assert r.status_code == 503 and "make models" in r.json()["error"]["message"]
        assert client.get("/healthz").status_code == 200
