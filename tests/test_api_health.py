from fastapi.testclient import TestClient

from api.app import create_app


def test_healthz_and_readyz(settings):
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"ready": True}
        assert client.get("/no-such-path").status_code == 404
