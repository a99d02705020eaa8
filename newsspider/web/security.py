"""The dashboard's guards: the token gate and the security headers.

* :class:`TokenGate` — with ``NEWSSPIDER_WEB_TOKEN`` set, every page needs
  ``Authorization: Bearer <token>`` or the session cookie the login form sets
  (an HMAC of the token, never the token itself; HttpOnly, SameSite=Strict,
  Secure over HTTPS).  ``/login``, ``/healthz`` and ``/static`` stay open.
  A browser asking for a page is sent to the login form; anything else gets 401.
* :class:`SecurityHeaders` — a Content-Security-Policy allowing no script at
  all, styles and images from the dashboard only (the article page widens
  ``img-src`` to its images' origins), no framing, no referrer, no sniffing,
  no caching of pages.

Both are plain ASGI middleware: Starlette has authentication *backends* but
nothing that closes a whole app behind one shared token, and no CSP helper.

Reads no settings (the app passes the token), writes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import quote

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "newsspider_web"
COOKIE_MAX_AGE = 7 * 86400
OPEN_PATHS = ("/login", "/healthz")  # and everything under /static/
MIN_TOKEN_LENGTH = 16

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


def csp(img_origins: list[str] | tuple[str, ...] = ()) -> str:
    """The policy, with ``img-src`` widened to ``img_origins`` (checked ``scheme://host``)."""
    if not img_origins:
        return CSP
    return CSP.replace("img-src 'self'", "img-src 'self' " + " ".join(img_origins))


def session_value(token: str) -> str:
    """What the cookie holds: a keyed hash of the token (changing the token ends every session)."""
    return hmac.new(token.encode(), b"newsspider-web-session-v1", hashlib.sha256).hexdigest()


def token_ok(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or []:
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


class TokenGate:
    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token
        self.session = session_value(token)

    def allowed(self, scope: Scope) -> bool:
        path = str(scope.get("path", ""))
        if path in OPEN_PATHS or path.startswith("/static/"):
            return True
        auth = _header(scope, b"authorization")
        if auth[:7].lower() == "bearer " and token_ok(auth[7:].strip(), self.token):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(_header(scope, b"cookie"))
        except CookieError:  # a malformed Cookie header is no session
            return False
        morsel = cookie.get(COOKIE)
        return morsel is not None and token_ok(morsel.value, self.session)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.allowed(scope):
            await self.app(scope, receive, send)
            return
        browser = scope.get("method") == "GET" and "text/html" in _header(scope, b"accept")
        if browser:
            target = str(scope.get("path", "/"))
            if scope.get("query_string"):
                target += "?" + bytes(scope["query_string"]).decode("latin-1")
            headers = [(b"location", ("/login?next=" + quote(target, safe="")).encode()),
                       (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 303, "headers": headers})
        else:
            body = b"401: this dashboard needs its token (Authorization: Bearer ...)\n"
            await send({"type": "http.response.start", "status": 401, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"www-authenticate", b'Bearer realm="newsspider"'),
                (b"content-length", str(len(body)).encode()),
            ]})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.body", "body": b""})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {bytes(k).lower() for k, _ in headers}
                extra = dict(HEADERS)
                extra["content-security-policy"] = CSP
                if not static:
                    extra["cache-control"] = "no-store"
                for name, value in extra.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
