"""A loopback HTTP server serving a replica portal (OFweek by default).

``ReplicaServer`` runs ``http.server.ThreadingHTTPServer`` (HTTP/1.1 keep-alive,
one thread per connection) in a background thread. Pages are rendered from the
scenario on first request and cached as bytes (bounded LRU), so the demo's
pages are served from memory and a 50,000-article generated scenario never
holds more than the cache.

Beyond pages it serves ``/robots.txt`` (allow all), the lazy-load placeholder
``/images/loading.gif``, small valid PNGs for any ``/Upload/…`` image, and 404
for everything else. ``hits`` counts requests by path (query excluded),
``connections`` the TCP connections accepted, ``peak_in_flight`` the most
requests it was answering at once, and ``min_gap`` the shortest time between
two requests' arrivals: what a client's concurrency, delay and keep-alive
really were, however many processes the client ran.  ``latency`` delays every
listing and article page (each fetch) by that many seconds, as a remote
portal would; ``record_requests=True`` keeps ``request_log``, one
``(path, arrived, answered)`` per request (``time.monotonic()``).

:meth:`ReplicaServer.change_template` rewrites every article page from then
on (regex substitutions on the rendered HTML, any site): a portal's redesign,
for tests of the drift checks and of self-healing extraction.

Reads no settings, writes no stats.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
import zlib
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from types import TracebackType
from typing import Any, Self

from newsspider.replica.corpus import LOADING_GIF
from newsspider.replica.faults import OVERSIZED_PATH, REDIRECT_LOOP_PATHS, FaultPlan
from newsspider.replica.model import ArticleSpec, Scenario, _path_of

__all__ = ["ReplicaServer"]


def _png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xcc\x33\x33")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PNG_BYTES = _png_1x1()
GIF_BYTES = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
ROBOTS = b"User-agent: *\nAllow: /\n"


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    content_type: str
    kind: str  # "listing" | "article" | "asset" | "error" | "redirect"
    headers: list[tuple[str, str]] = field(default_factory=list)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Scrapy opens a burst of connections at start; the default backlog of 5 refuses some.
    request_queue_size = 256
    replica: ReplicaServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-response is normal for a crawler being stopped.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.replica._count_connection()

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        replica = self.server.replica
        path = _path_of(self.path)
        arrived = replica._enter(path)
        try:
            self._answer(replica, path, head)
        finally:
            replica._leave(path, arrived)

    def _answer(self, replica: ReplicaServer, path: str, head: bool) -> None:
        response = replica._response(path)
        fault = replica._first_fetch_fault(path, response)
        try:
            if fault == "reset":
                # SO_LINGER 0 turns close() into a TCP RST.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()
                return
            if replica.latency > 0 and response.kind in ("listing", "article"):
                time.sleep(replica.latency)
            if fault == "slow":
                time.sleep(replica.faults.slow_seconds)
            if fault == "500":
                response = replica._error(500)
            body = b"" if head else response.body
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            for name, value in response.headers:
                self.send_header(name, value)
            if fault == "cut":
                self.send_header("Content-Length", str(len(response.body) * 2 + 1))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class ReplicaServer:
    """Serve ``scenario`` (default: a fresh ``Scenario.demo()``) on loopback.

    >>> with ReplicaServer() as server:          # doctest: +SKIP
    ...     server.listing_url
    'http://127.0.0.1:40123/CATList-8100-CHANGYIEXINWE.html'
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        scenario: Scenario | None = None,
        faults: FaultPlan | None = None,
        *,
        cache_size: int = 4096,
        latency: float = 0.0,
        record_requests: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.scenario = scenario if scenario is not None else Scenario.demo()
        self.faults = faults or FaultPlan()
        self.hits: Counter[str] = Counter()
        self.connections = 0  # TCP connections accepted
        self.peak_in_flight = 0  # most requests being answered at once
        self._in_flight = 0
        self.latency = latency  # seconds before each listing and article page is answered
        self.min_gap: float | None = None  # shortest time between two arrivals (seconds)
        self._last_arrival: float | None = None
        self.record_requests = record_requests
        self.request_log: list[tuple[str, float, float]] = []  # (path, arrived, answered)
        self.faults_served: Counter[str] = Counter()  # fault kind -> count
        self.fault_log: list[tuple[str, str]] = []  # (path, kind) in serving order
        self._lock = threading.Lock()
        self._fetched: set[str] = set()
        self._cache: OrderedDict[str, Response] = OrderedDict()
        self._cache_size = cache_size
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._next_id = count(39_000_001)
        self._base_url = ""
        self._template: tuple[tuple[re.Pattern[str], str], ...] = ()
        self._add_fault_articles()

    # --- lifecycle ----------------------------------------------------
    def start(self) -> str:
        """Bind, serve in a daemon thread, and return the base URL."""
        if self._httpd is not None:
            return self._base_url
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.replica = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"replica-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self._base_url

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if not self._base_url:
            raise RuntimeError("ReplicaServer is not started; call start() first")
        return self._base_url

    @property
    def listing_url(self) -> str:
        return self.base_url + self.scenario.site.listing_path

    def listing_page_url(self, number: int) -> str:
        return self.base_url + self.scenario.site.listing_page_path(number)

    # --- ground truth -------------------------------------------------
    def url(self, spec_or_path: ArticleSpec | str) -> str:
        path = spec_or_path.path if isinstance(spec_or_path, ArticleSpec) else spec_or_path
        return self.base_url + path

    def expected(self, spec: ArticleSpec) -> dict[str, Any]:
        """What a correct crawl extracts from this article, with absolute URLs."""
        base = self.base_url
        return {
            "url": spec.url(base),
            "page_urls": spec.page_urls(base),
            "title": spec.title,
            "author": spec.author,
            "published_raw": spec.published,
            "published_at": spec.published_at,
            "raw_body_html": spec.body_html,
            "pages": spec.n_pages,
            "summary": spec.summary,
            "images": [
                {"url": url, "src": image.src, "alt": image.alt}
                for url, image in zip(spec.image_urls(base), spec.images, strict=True)
            ],
            "lead_image": spec.image_urls(base)[0] if spec.images else None,
            "always_500": spec.always_500,
            "empty_body": spec.empty_body,
            "duplicate_of": base + spec.duplicate_of if spec.duplicate_of else None,
            "revision": spec.revision,
        }

    # --- hits ---------------------------------------------------------
    def _count_connection(self) -> None:
        with self._lock:
            self.connections += 1

    def _enter(self, path: str) -> float:
        """A request for ``path`` arrives: count it, and it is in flight until :meth:`_leave`."""
        with self._lock:
            arrived = time.monotonic()
            self.hits[path] += 1
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            if self._last_arrival is not None:
                gap = arrived - self._last_arrival
                self.min_gap = gap if self.min_gap is None else min(self.min_gap, gap)
            self._last_arrival = arrived
        return arrived

    def _leave(self, path: str, arrived: float) -> None:
        with self._lock:
            self._in_flight -= 1
            if self.record_requests:
                self.request_log.append((path, arrived, time.monotonic()))

    def reset_hits(self) -> None:
        """Forget request and connection counts and which paths were already fetched
        (faults re-arm)."""
        with self._lock:
            self.hits.clear()
            self.connections = 0
            self.peak_in_flight = 0
            self.min_gap = None
            self._last_arrival = None
            self.request_log.clear()
            self._fetched.clear()
            self.faults_served.clear()
            self.fault_log.clear()

    # --- revisions ----------------------------------------------------
    def edit_article(self, url_or_id: str | int, new_body_html: str) -> ArticleSpec:
        """Change an article's body from now on (one page); returns the new ground truth."""
        spec = self.scenario.edit(url_or_id, new_body_html)
        self._invalidate()
        return spec

    def add_article(
        self,
        title: str,
        body_html: str,
        *,
        author: str = "OFweek维科网",
        layout: str = "source-name",
        channel: str = "",
        published_at: datetime | None = None,
    ) -> ArticleSpec:
        """Publish a new article at the top of the listing; returns its ground truth."""
        from newsspider.replica.scenarios import new_article

        spec = new_article(
            title,
            body_html,
            article_id=next(self._next_id),
            author=author,
            layout=layout,
            channel=channel,
            published_at=published_at,
        )
        self.scenario.add(spec)
        self._invalidate()
        return spec

    def _invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    # --- template changes ---------------------------------------------
    def change_template(self, rewrites: Sequence[tuple[str, str]]) -> None:
        """From now on serve article pages rewritten by ``(regex, replacement)`` pairs, in order.

        Ground truth (titles, times, bylines, bodies) does not change: only the
        markup around it, as when a portal redesigns its pages.
        """
        self._template = tuple((re.compile(pattern), new) for pattern, new in rewrites)
        self._invalidate()

    def restore_template(self) -> None:
        """Serve article pages as the site renders them again."""
        self._template = ()
        self._invalidate()

    # --- serving ------------------------------------------------------
    def _first_fetch_fault(self, path: str, response: Response) -> str | None:
        if response.status != 200:
            return None
        with self._lock:
            if path in self._fetched:
                return None
            self._fetched.add(path)
        fault = self.faults.first_fetch_fault(path, response.kind)
        if fault is not None:
            with self._lock:
                self.faults_served[fault] += 1
                self.fault_log.append((path, fault))
        return fault

    def _response(self, path: str) -> Response:
        with self._lock:
            cached = self._cache.get(path)
            if cached is not None:
                self._cache.move_to_end(path)
        if cached is None:
            cached = self._render(path)
            if cached.kind in ("listing", "article") and cached.status == 200:
                with self._lock:
                    self._cache[path] = cached
                    if len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        return self._with_charset_fault(path, cached)

    def _with_charset_fault(self, path: str, response: Response) -> Response:
        fault = self.faults.charset_fault(path, response.kind) if response.status == 200 else None
        if fault is None:
            return response
        site = self.scenario.site
        if fault == "missing":
            body = response.body.replace(site.charset_meta.encode("ascii"), b"")
            return Response(200, body, "text/html", response.kind)
        return Response(200, response.body, "text/html; charset=utf-8", response.kind)

    def _encode(self, html: str) -> bytes:
        # Characters outside GBK survive as numeric entities, as on the real site.
        return html.encode(self.scenario.site.encoding, "xmlcharrefreplace")

    def _error(self, status: int) -> Response:
        return Response(
            status,
            self._encode(self.scenario.site.render_error(status)),
            self.scenario.content_types.get("error", self.scenario.content_types["article"]),
            "error",
        )

    def _render(self, path: str) -> Response:
        if path == "/robots.txt":
            return Response(200, ROBOTS, "text/plain", "asset")
        if path == LOADING_GIF:
            return Response(200, GIF_BYTES, "image/gif", "asset")
        if path.startswith("/Upload/") and path.lower().endswith((".png", ".jpg", ".jpeg", ".gif")):
            return Response(200, PNG_BYTES, "image/png", "asset")
        if path in REDIRECT_LOOP_PATHS and self.faults.redirect_loop:
            other = REDIRECT_LOOP_PATHS[1 - REDIRECT_LOOP_PATHS.index(path)]
            return Response(
                302, b"", "text/html", "redirect", [("Location", self.base_url + other)]
            )
        scenario = self.scenario
        route = scenario.site.route(path)
        if route is None:
            return self._error(404)
        if route.kind == "listing":
            if not 1 <= route.number <= scenario.n_listing_pages:
                return self._error(404)
            html = scenario.site.render_listing(scenario, route.number, self.base_url)
            return Response(200, self._encode(html), scenario.content_types["listing"], "listing")
        spec = scenario.find(route.article_path)
        if spec is None or not 1 <= route.number <= spec.n_pages:
            return self._error(404)
        if spec.always_500:
            return self._error(500)
        html = scenario.site.render_article(scenario, spec, route.number, self.base_url)
        for pattern, replacement in self._template:
            html = pattern.sub(replacement, html)
        return Response(200, self._encode(html), scenario.content_types["article"], "article")

    def _add_fault_articles(self) -> None:
        """Listing items the fault plan needs: they go on top of the listing."""
        from newsspider.replica.scenarios import new_article

        plan = self.faults
        # 2021-03-22 16:30 Beijing: newer than every demo post but the seed.
        stamp = datetime(2021, 3, 22, 8, 30, tzinfo=UTC)
        if plan.oversized_bytes > 0:
            paragraph = (
                '<p style="text-indent: 2em; text-align: left;">'
                + "超大页面填充文字。" * 40
                + "</p>"
            )
            repeats = plan.oversized_bytes // len(paragraph.encode("gbk")) + 1
            spec = new_article(
                "超大页面：这篇文章的正文超过了下载上限",
                paragraph * repeats,
                article_id=39_999_999,
                published_at=stamp,
            )
            self.scenario.add(_with_fault(spec, "oversized", OVERSIZED_PATH))
        if plan.redirect_loop:
            spec = new_article(
                "重定向循环：这篇文章永远跳转",
                "<p>loop</p>",
                article_id=39_999_998,
                published_at=stamp,
            )
            self.scenario.add(_with_fault(spec, "redirect_loop", REDIRECT_LOOP_PATHS[0]))


def _with_fault(spec: ArticleSpec, fault: str, path: str | None = None) -> ArticleSpec:
    from dataclasses import replace

    return replace(spec, fault=fault, path=path or spec.path)
