"""ImageDownloadPipeline in a real Scrapy crawl against a loopback HTTP server.

The crawl runs in a subprocess (a Twisted reactor cannot be restarted inside
the pytest process); this file is also that subprocess's script.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any, ClassVar

import pytest

from newsspider.pipelines.download import address_refusal


def _png(color: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    from PIL import Image

    buf = BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


class _Handler(BaseHTTPRequestHandler):
    images: ClassVar[dict[str, bytes]] = {}
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = self.images.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain" if self.path.endswith(".txt") else "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    red = _png((200, 0, 0), (40, 30))
    _Handler.images = {"/a.png": red, "/copy-of-a.png": red, "/b.png": _png((0, 0, 200), (20, 10)), "/notimage.txt": b"hello", "/article.txt": b"article"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _crawl(tmp_path: Path, server: str, allow_private: bool) -> dict[str, Any]:
    out = tmp_path / "out.json"
    args = [sys.executable, __file__, server, str(tmp_path / "store"), str(allow_private), str(out)]
    subprocess.run(args, check=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.read_text())


def test_download_stores_once_by_checksum_and_records_dimensions(tmp_path: Path, image_server: str) -> None:
    result = _crawl(tmp_path, image_server, allow_private=True)
    (item,) = result["items"]
    images = {Path(i["url"]).name: i for i in item["images"]}
    a, copy, b = images["a.png"], images["copy-of-a.png"], images["b.png"]
    assert a["checksum"] == copy["checksum"] and a["path"] == copy["path"]
    assert (a["width"], a["height"]) == (40, 30) and (b["width"], b["height"]) == (20, 10)
    assert a["size"] > 0 and b["path"] != a["path"]
    assert (tmp_path / "store" / a["path"]).is_file() and (tmp_path / "store" / b["path"]).is_file()
    assert len(list((tmp_path / "store").rglob("*.jpg"))) == 2  # three URLs, two contents
    # failed and refused images: recorded as stats, the article still goes through
    for name in ("missing.png", "notimage.txt"):
        assert "path" not in images[name]
    assert "path" not in images["passwd"]
    stats = result["stats"]
    assert stats["newsspider/images/download/stored"] == 2
    assert stats["newsspider/images/download/failed"] == 2
    assert stats["newsspider/images/download/refused/scheme"] == 2  # file: and data:
    # the body's <img src> points at the stored copy
    assert f'src="https://img.example/{a["path"]}"' in item["body_html"]
    srcs = re.findall(r'src="([^"]+)"', item["body_html"])
    assert [src.startswith("https://img.example/full/") for src in srcs] == [True] * 3 + [False] * 4


def test_ssrf_guard_refuses_loopback_without_allow_private(tmp_path: Path, image_server: str) -> None:
    _Handler.hits.clear()
    result = _crawl(tmp_path, image_server, allow_private=False)
    (item,) = result["items"]
    assert all("path" not in image for image in item["images"])
    assert result["stats"]["newsspider/images/download/refused/private_address"] == 5
    assert _Handler.hits == ["/article.txt"]  # the page only: no image request got out


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "private_address"), ("10.1.2.3", "private_address"), ("192.168.0.1", "private_address"),
        ("169.254.169.254", "private_address"), ("::1", "private_address"), ("fe80::1", "private_address"),
        ("::ffff:127.0.0.1", "private_address"), ("0.0.0.0", "private_address"), ("100.64.0.1", "private_address"),
        ("93.184.216.34", None), ("2606:2800:220:1:248:1893:25c8:1946", None), ("not-an-ip", "unresolvable"),
    ],
)
def test_address_refusal(address: str, reason: str | None) -> None:
    assert address_refusal(address) == reason


def test_not_configured_without_store() -> None:
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.test import get_crawler

    from newsspider.pipelines.download import ImageDownloadPipeline

    with pytest.raises(NotConfigured, match="IMAGES_STORE"):
        ImageDownloadPipeline.from_crawler(get_crawler(settings_dict={"IMAGES_STORE": ""}))


def _run_crawl(server: str, store: str, allow_private: bool, out: str) -> None:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    collected: list[dict[str, Any]] = []

    class Collect:
        def process_item(self, item: Any) -> Any:
            collected.append(item)
            return item

    names = ["a.png", "copy-of-a.png", "b.png", "missing.png", "notimage.txt"]

    class ImagesSpider(scrapy.Spider):
        name = "images"

        async def start(self) -> Any:
            yield scrapy.Request(server + "/article.txt", callback=self.parse)

        def parse(self, response: Any) -> Any:
            urls = [f"{server}/{n}" for n in names] + ["file:///etc/passwd", "data:image/png;base64,AAAA"]
            yield {
                "url": server + "/article.html",
                "images": [{"url": u, "src": u, "alt": ""} for u in urls],
                "body_html": "".join(f'<p><img src="{u}"></p>' for u in urls),
            }

    process = CrawlerProcess(
        {
            "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
            "ROBOTSTXT_OBEY": False,
            "LOG_LEVEL": "ERROR",
            "TELNETCONSOLE_ENABLED": False,
            "RETRY_ENABLED": False,
            # The SSRF guard's handler, as the project settings install it (test_netguard.py).
            "DOWNLOAD_HANDLERS": {"http": "newsspider.netguard.GuardedDownloadHandler",
                                  "https": "newsspider.netguard.GuardedDownloadHandler"},
            "ITEM_PIPELINES": {"newsspider.pipelines.download.ImageDownloadPipeline": 250, Collect: 900},
            "IMAGES_STORE": store,
            "NEWSSPIDER_IMAGES_BASE_URL": "https://img.example/",
            "NEWSSPIDER_IMAGES_ALLOW_PRIVATE": allow_private,
        }
    )
    crawler = process.create_crawler(ImagesSpider)
    process.crawl(crawler)
    process.start()
    stats = {k: v for k, v in crawler.stats.get_stats().items() if k.startswith("newsspider/")}
    Path(out).write_text(json.dumps({"items": collected, "stats": stats}, default=str))


if __name__ == "__main__":
    _run_crawl(sys.argv[1], sys.argv[2], sys.argv[3] == "True", sys.argv[4])


def test_without_the_guard_handler_every_image_is_refused(tmp_path: Path, caplog) -> None:
    from scrapy.utils.test import get_crawler

    from newsspider.pipelines.download import ImageDownloadPipeline

    caplog.set_level("ERROR")
    pipeline = ImageDownloadPipeline.from_crawler(
        get_crawler(settings_dict={"IMAGES_STORE": str(tmp_path)}))
    assert pipeline.unguarded and "every image is refused" in caplog.text
    guarded = ImageDownloadPipeline.from_crawler(get_crawler(settings_dict={
        "IMAGES_STORE": str(tmp_path),
        "DOWNLOAD_HANDLERS": {"http": "newsspider.netguard.GuardedDownloadHandler",
                              "https": "newsspider.netguard.GuardedDownloadHandler"}}))
    assert not guarded.unguarded
