"""The SSRF guard (newsspider.netguard) on a real redirect chain on loopback.

Two servers: an image host, which the crawl is told to trust
(``NEWSSPIDER_IMAGES_ALLOW_ADDRESSES=127.0.0.1:<its port>``, standing for a
public CDN), and an "internal" service on another port, which every hop
tries to reach: an HTTP redirect, a ``<meta http-equiv=refresh>`` page, a
``robots.txt`` redirect, a URL that ``urllib`` and the downloader read
differently.  The crawl runs in a subprocess (one Twisted reactor per
process); this file is also that subprocess's script.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any, ClassVar

import pytest

from newsspider.netguard import address_refusal, downloader_target, parse_allowed, resolve_refusal

REPO = Path(__file__).resolve().parents[1]


def _png(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = BytesIO()
    Image.new("RGB", (8, 6), color).save(buf, "PNG")
    return buf.getvalue()


class _Server:
    """A loopback HTTP server answering ``routes[path] = (status, headers, body)``."""

    def __init__(self, routes: dict[str, tuple[int, dict[str, str], bytes]]) -> None:
        self.routes = routes
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits.append(self.path)
                status, headers, body = outer.routes.get(self.path, (404, {}, b"no"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers() -> Iterator[tuple[_Server, _Server]]:
    internal = _Server({
        "/secret.png": (200, {"Content-Type": "image/png"}, _png((255, 0, 0))),
        "/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"),
    })
    inside = f"http://127.0.0.1:{internal.port}"
    refresh = f'<html><head><meta http-equiv="refresh" content="0;url={inside}/secret.png"></head></html>'
    cdn = _Server({
        "/article.txt": (200, {"Content-Type": "text/plain"}, b"article"),
        "/ok.png": (200, {"Content-Type": "image/png"}, _png((0, 0, 255))),
        "/redirect.png": (302, {"Location": f"{inside}/secret.png"}, b""),
        "/refresh.png": (200, {"Content-Type": "text/html"}, refresh.encode()),
        "/robots.txt": (302, {"Location": f"{inside}/robots.txt"}, b""),
    })
    try:
        yield cdn, internal
    finally:
        cdn.close()
        internal.close()


def _crawl(tmp_path: Path, cdn: _Server, internal: _Server, allow: str) -> dict[str, Any]:
    out = tmp_path / "out.json"
    config = {"cdn": cdn.port, "internal": internal.port, "allow": allow,
              "store": str(tmp_path / "images"), "out": str(out)}
    subprocess.run([sys.executable, __file__, json.dumps(config)], check=True, timeout=120, cwd=REPO)
    return json.loads(out.read_text())


def test_nothing_internal_is_fetched_by_redirect_refresh_robots_or_url_tricks(
    tmp_path: Path, servers: tuple[_Server, _Server],
) -> None:
    cdn, internal = servers
    result = _crawl(tmp_path, cdn, internal, allow=f"127.0.0.1:{cdn.port}")
    assert internal.hits == []  # not one connection got through to the internal port
    (item,) = result["items"]
    stored = {Path(i["url"]).name: i.get("path") for i in item["images"]}
    assert stored["ok.png"]  # the trusted host itself works, off the spider's domain
    assert not any(path for name, path in stored.items() if name != "ok.png")
    assert not [p for p in (tmp_path / "images").rglob("*.jpg")
                if p.name != Path(stored["ok.png"]).name]
    stats = result["stats"]
    # The backslash URL is refused before any request (the downloader's reading of it),
    # the redirect and the meta refresh at connect time.
    assert stats["newsspider/images/download/refused/private_address"] == 3
    assert stats["robotstxt/request_count"] >= 1 and "/robots.txt" in cdn.hits
    # Only image requests may leave the spider's domain: its own off-site request is
    # dropped (by the off-site filter, before the guard: Scrapy counts it at scheduling
    # and at download), the images on 127.0.0.1 are not.
    assert stats["offsite/domains"] == 1 and stats["offsite/filtered"] >= 1


def test_the_same_chain_reaches_the_internal_port_when_it_is_allowed(
    tmp_path: Path, servers: tuple[_Server, _Server],
) -> None:
    # The control: with the internal port trusted too, every hop gets there.
    cdn, internal = servers
    _crawl(tmp_path, cdn, internal, allow=f"127.0.0.1:{cdn.port},127.0.0.1:{internal.port}")
    assert "/robots.txt" in internal.hits
    assert internal.hits.count("/secret.png") >= 2  # the redirect, the meta refresh


def test_the_host_is_read_as_the_downloader_reads_it() -> None:
    assert downloader_target("http://127.0.0.1:18099\\@8.8.8.8/") == ("http", "127.0.0.1", 18099)
    assert downloader_target("http://8.8.8.8\\@127.0.0.1:18099/")[1] == "8.8.8.8"
    assert downloader_target("HTTPS://例え.jp/x#frag") == ("https", "xn--r8jz45g.jp", 443)


@pytest.mark.parametrize("host", ["127.1", "0x7f.0.0.1", "2130706433", "localhost", "[::1]",
                                  "::ffff:127.0.0.1", "0.0.0.0"])
def test_loopback_spellings_resolve_to_a_refusal(host: str) -> None:
    addresses, refusal = resolve_refusal(host.strip("[]"), 80)
    assert refusal == "private_address", addresses


def test_allowed_addresses_are_exact() -> None:
    allowed = parse_allowed("127.0.0.1:8080, [::1]:9000, 10.0.0.5")
    assert resolve_refusal("127.0.0.1", 8080, allowed)[1] is None
    assert resolve_refusal("127.0.0.1", 8081, allowed)[1] == "private_address"
    assert resolve_refusal("::1", 9000, allowed)[1] is None
    assert resolve_refusal("10.0.0.5", 1, allowed)[1] is None
    assert address_refusal("93.184.216.34") is None


def _run(config: dict[str, Any]) -> None:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    cdn = f"http://127.0.0.1:{config['cdn']}"
    page = f"http://localhost:{config['cdn']}"
    inside = f"http://127.0.0.1:{config['internal']}"
    collected: list[dict[str, Any]] = []

    class Collect:
        def process_item(self, item: Any) -> Any:
            collected.append(item)
            return item

    class ImagesSpider(scrapy.Spider):
        name = "guard"
        # The page is on "localhost", its images on "127.0.0.1": another domain, as a CDN is.
        allowed_domains: ClassVar[list[str]] = ["localhost"]

        async def start(self) -> Any:
            yield scrapy.Request(page + "/article.txt", callback=self.parse)

        def parse(self, response: Any) -> Any:
            urls = [f"{cdn}/ok.png", f"{cdn}/redirect.png", f"{cdn}/refresh.png",
                    f"http://127.0.0.1:{config['internal']}\\@8.8.8.8/secret.png"]
            yield {"url": page + "/article.html", "body_html": "",
                   "images": [{"url": u, "src": u, "alt": ""} for u in urls]}
            yield scrapy.Request(inside + "/not-an-image.html", callback=self.parse)

    process = CrawlerProcess({
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "ROBOTSTXT_OBEY": True,
        "LOG_LEVEL": "INFO",
        "TELNETCONSOLE_ENABLED": False,
        "RETRY_ENABLED": False,
        "MEDIA_ALLOW_REDIRECTS": True,  # follow them, so the guard must refuse the hop
        "DOWNLOAD_HANDLERS": {"http": "newsspider.netguard.GuardedDownloadHandler",
                              "https": "newsspider.netguard.GuardedDownloadHandler"},
        "DOWNLOADER_MIDDLEWARES": {"newsspider.netguard.GuardMiddleware": 40},
        "ITEM_PIPELINES": {"newsspider.pipelines.download.ImageDownloadPipeline": 250, Collect: 900},
        "IMAGES_STORE": config["store"],
        "NEWSSPIDER_IMAGES_ALLOW_ADDRESSES": config["allow"],
    })
    crawler = process.create_crawler(ImagesSpider)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats()
    with open(config["out"], "w", encoding="utf-8") as fh:
        json.dump({"items": collected, "stats": stats}, fh, default=str)


if __name__ == "__main__":
    _run(json.loads(sys.argv[1]))
