"""A TestClient that addresses the app as a browser on this machine would: Host 127.0.0.1, the only kind
of host a loopback-bound service answers (api/security.py). TestClient's default, "testserver", gets 421."""

from __future__ import annotations

from fastapi.testclient import TestClient

LOCAL_BASE_URL = "http://127.0.0.1:8000"


def local_client(app, **kwargs) -> TestClient:
    return TestClient(app, base_url=LOCAL_BASE_URL, **kwargs)
