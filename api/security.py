"""Who may talk to the service, decided before any route runs or any body is read.

One pure-ASGI middleware, in this order:

1. **Host** (DNS rebinding). Bound to loopback, the service answers only requests addressed to
   localhost, 127.0.0.1 or [::1] (plus ``allowed_hosts``): a page on evil.example that re-points its
   name at 127.0.0.1 sends ``Host: evil.example`` and gets 421.
2. **API key**, when one is set, on everything but the public paths, before the body is read (a client
   without the key learns nothing, not even whether its JSON parses). Precedence: an ``Authorization``
   header, when sent, is the credential (``Bearer <key>``); ``X-API-Key`` is read only when there is no
   Authorization header. A wrong credential is never rescued by the other header.
3. **Cross-origin writes.** A browser lets any page POST a form to any address (a CORS "simple"
   request), so without a check any site a user visits could add or replace reports. Unsafe methods
   (POST, PUT, PATCH, DELETE) are refused with 403 when the browser says the request comes from another
   site: ``Sec-Fetch-Site`` other than ``same-origin``/``none``, or, from browsers that do not send it,
   an ``Origin`` that is not the service's own (nor in ``allowed_origins``). Scripts and curl send
   neither header and are not affected.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_body
from rag.config import Settings

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Paths that hold no data: liveness, readiness, the chat page's static files and the API docs.
PUBLIC_PATHS = frozenset({"/", "/healthz", "/readyz", "/docs", "/redoc", "/openapi.json",
                          "/docs/oauth2-redirect", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/", "/static-offline-docs/")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_SITE_FETCH = frozenset({"same-origin", "none"})  # "none": typed in the address bar, a bookmark


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(value: str) -> str:
    """'127.0.0.1:8000' → '127.0.0.1', '[::1]:8000' → '::1', 'Example.org' → 'example.org'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rpartition(":")[0] if value.count(":") == 1 else value


def origin_of(url: str) -> str:
    parts = urlsplit(url.strip().lower())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def key_from_headers(headers: dict[bytes, bytes]) -> str | None:
    """The credential the request presents, by the documented precedence (see the module)."""
    auth = headers.get(b"authorization")
    if auth is not None:
        scheme, _, token = auth.decode("latin-1").strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""
    key = headers.get(b"x-api-key")
    return key.decode("latin-1").strip() if key is not None else None


def key_matches(given: str | None, expected: str) -> bool:
    return bool(given and hmac.compare_digest(given.encode(), expected.encode()))


class GuardMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.api_key = settings.api_key
        self.check_host = is_loopback(settings.host)
        self.hosts = LOOPBACK_NAMES | {host_name(h) for h in settings.allowed_hosts}
        self.origins = {origin_of(o) for o in settings.allowed_origins} - {""}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        path = scope.get("path", "")
        if self.check_host and host and host_name(host) not in self.hosts:
            await _refuse(send, 421, "misdirected_request",
                          f"this service answers requests addressed to localhost or 127.0.0.1, not "
                          f"{host_name(host)[:100]!r}; to serve it under that name, add it to the setting "
                          "RAG_ALLOWED_HOSTS")
            return
        if self.api_key and path not in PUBLIC_PATHS and not path.startswith(PUBLIC_PREFIXES) \
                and not key_matches(key_from_headers(headers), self.api_key):
            await _refuse(send, 401, "unauthorized",
                          "missing or wrong API key: send `Authorization: Bearer <key>` (or "
                          "`X-API-Key: <key>` without an Authorization header)",
                          [(b"www-authenticate", b"Bearer")])
            return
        if scope["method"] in UNSAFE_METHODS and self._cross_site(headers, host):
            await _refuse(send, 403, "cross_origin",
                          "requests from another web site may not change or query the service; use the "
                          "service's own page, or add that site's origin to the setting RAG_ALLOWED_ORIGINS")
            return
        await self.app(scope, receive, send)

    def _cross_site(self, headers: dict[bytes, bytes], host: str) -> bool:
        origin = origin_of(headers.get(b"origin", b"").decode("latin-1"))
        if origin and origin in self.origins:
            return False
        fetch_site = headers.get(b"sec-fetch-site")
        if fetch_site is not None:
            return fetch_site.decode("latin-1").strip().lower() not in SAME_SITE_FETCH
        raw_origin = headers.get(b"origin")
        if raw_origin is None:
            return False  # not a browser (curl, scripts, the openai client)
        # "null" (sandboxed frames, file://) or a foreign origin; our own is scheme://<Host header>
        return not origin or urlsplit(origin).netloc != host.strip().lower()


async def _refuse(send: Send, status: int, type_: str, message: str,
                  extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = json.dumps(error_body(type_, message), ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
        *(extra_headers or []),
    ]})
    await send({"type": "http.response.body", "body": payload})
