"""Settings decided per crawl, before Scrapy freezes them: the browser and the Redis scale-out.

Also where removed settings and renamed item pipelines a crawl still names
are warned about (and the pipelines replaced), see :mod:`newsspider.config`.

Called from a spider's ``from_crawler`` (spider arguments are known there and
settings are still writable).  Reads ``REDIS_URL``, ``NEWSSPIDER_CHROMIUM``, ``PLAYWRIGHT_LAUNCH_OPTIONS``,
``IMAGES_STORE``; writes the download handlers, browser launch options and
scrapy-redis settings.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any

from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from newsspider.config import rename_pipelines, warn_removed

# Chromium flags that keep it quiet on a closed network (see DEVELOPERS.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
logger = logging.getLogger(__name__)

_HEAVY_RESOURCES = frozenset({"image", "media", "font", "stylesheet"})


class RenderUnavailableError(RuntimeError):
    """``render=js`` was asked for but the browser stack is missing; says what to install."""


def find_chromium(settings: BaseSettings) -> str | None:
    configured = settings.get("NEWSSPIDER_CHROMIUM")
    if configured:
        return configured if os.path.exists(configured) else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def abort_heavy_requests(request: Any) -> bool:
    """PLAYWRIGHT_ABORT_REQUEST: images, fonts, media and styles are not needed for text."""
    return request.resource_type in _HEAVY_RESOURCES


def require_browser(settings: BaseSettings) -> str:
    """The Chromium to launch; raises :class:`RenderUnavailableError` saying what to install."""
    try:
        import scrapy_playwright  # noqa: F401
    except ImportError as exc:
        raise RenderUnavailableError(
            "render=js needs the Python package scrapy-playwright: pip install scrapy-playwright"
        ) from exc
    chromium = find_chromium(settings)
    if chromium is None:
        configured = settings.get("NEWSSPIDER_CHROMIUM")
        where = f"NEWSSPIDER_CHROMIUM={configured} does not exist" if configured else (
            "no chromium, chromium-browser or google-chrome on PATH"
        )
        raise RenderUnavailableError(
            f"render=js needs Chromium, which is not installed ({where}): "
            "apt-get install chromium (Debian package 'chromium'), "
            "or set NEWSSPIDER_CHROMIUM to the browser's path"
        )
    return chromium


GUARDED_HANDLER = "newsspider.netguard.GuardedDownloadHandler"


def enable_playwright(settings: BaseSettings) -> None:
    chromium = require_browser(settings)
    handler = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
    handlers = dict(settings.getdict("DOWNLOAD_HANDLERS"))
    if handlers.get("http") == GUARDED_HANDLER:
        # The SSRF guard stays in front (image downloads); pages go on to the browser.
        settings.set("NEWSSPIDER_GUARD_PAGE_HANDLER", handler, priority="spider")
    else:
        handlers.update({"http": handler, "https": handler})
        settings.set("DOWNLOAD_HANDLERS", handlers, priority="spider")
    # The browser's limits (PLAYWRIGHT_MAX_CONTEXTS…) are plain settings (settings.py);
    # launch options given in PLAYWRIGHT_LAUNCH_OPTIONS win over these.
    options = {"executable_path": chromium, "headless": True, "args": CHROMIUM_ARGS,
               **settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS")}
    settings.set("PLAYWRIGHT_LAUNCH_OPTIONS", options, priority="spider")
    # The browser does its own fetching; the asyncio reactor is already the default.


async def settle(page: Any, timeout_ms: int) -> None:
    """A PageMethod: after ``load``, wait until the page stops fetching (scripts that fill
    the body from an API run after ``load``), but at most ``timeout_ms``."""
    from playwright.async_api import TimeoutError as PlaywrightTimeoutError

    try:
        await page.wait_for_load_state("networkidle", timeout=timeout_ms)
    except PlaywrightTimeoutError:
        # A page that keeps polling never goes idle; its DOM is as rendered as it will get.
        logger.debug("%s still busy after %d ms; taking the DOM as it is", page.url, timeout_ms)


def playwright_meta(settings: BaseSettings) -> dict[str, Any]:
    """Request meta that sends one request through the browser.

    The response body scrapy-playwright returns is the rendered DOM
    (``page.content()``) after ``load`` and :func:`settle`.
    """
    from scrapy_playwright.page import PageMethod

    settle_ms = settings.getint("NEWSSPIDER_JS_SETTLE_MS", 3000)
    meta: dict[str, Any] = {"playwright": True}
    if settle_ms > 0:
        meta["playwright_page_methods"] = [PageMethod(settle, settle_ms)]
    return meta


def enable_redis(settings: BaseSettings, redis_url: str) -> None:
    """One crawl shared by every process pointing at the same Redis (see newsspider.scaleout)."""
    from newsspider.scaleout import scale_out_settings

    scale_out_settings(settings, redis_url)


IMAGE_DOWNLOAD_PIPELINE = "newsspider.pipelines.download.ImageDownloadPipeline"


def enable_image_download(settings: BaseSettings) -> None:
    """Image download is opt-in: the pipeline joins only when it has somewhere to store."""
    pipelines = dict(settings.getdict("ITEM_PIPELINES"))
    pipelines.setdefault(IMAGE_DOWNLOAD_PIPELINE, 250)
    settings.set("ITEM_PIPELINES", pipelines, priority="spider")


def configure_crawler(crawler: Crawler, *, render_js: bool) -> None:
    settings = crawler.settings
    warn_removed(settings)
    rename_pipelines(settings)
    if render_js:
        enable_playwright(settings)
    if settings.get("IMAGES_STORE"):
        enable_image_download(settings)
    redis_url = settings.get("REDIS_URL")
    if redis_url:
        enable_redis(settings, redis_url)
