"""A loopback webhook receiver that records every POST it gets (tests of newsspider.monitor.alerts).

``mode`` says how it answers: ``"ok"`` (200 with ``{"errcode": 0, "code": 0}``,
what the bots answer), ``"error"`` (500), ``"refuse"`` (200 with a bot's
``errcode`` ≠ 0, as DingTalk answers a keyword mismatch) or ``"hang"`` (reads
the request, never answers until the receiver stops).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Post:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        parts = urlsplit(self.path)
        receiver = self.server.receiver
        with receiver.lock:
            receiver.posts.append(Post(
                parts.path, parse_qs(parts.query), dict(self.headers.items()),
                json.loads(raw.decode("utf-8")),
            ))
        if receiver.mode == "hang":
            receiver.stopping.wait(60)
            return
        if receiver.mode == "error":
            self.send_response(500)
            body = b"busy"
        elif receiver.mode == "refuse":
            self.send_response(200)
            body = json.dumps({"errcode": 310000, "errmsg": "keywords not in content"}).encode()
        else:
            self.send_response(200)
            body = json.dumps({"errcode": 0, "code": 0, "errmsg": "ok"}).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: WebhookReceiver


class WebhookReceiver:
    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.posts: list[Post] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.receiver = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str = "/hook/SECRET-TOKEN-123", fragment: str = "") -> str:
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}{path}" + (f"#{fragment}" if fragment else "")

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
