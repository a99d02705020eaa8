"""Settings decided per crawl, before Scrapy freezes them: the browser and the Redis scale-out.

Called from a spider's ``from_crawler`` (spider arguments are known there and
settings are still writable).  Reads ``REDIS_URL``, ``NEWSSPIDER_CHROMIUM``,
``NEWSSPIDER_JS_*``; writes the scrapy-playwright and scrapy-redis settings.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

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


def enable_playwright(settings: BaseSettings) -> None:
    try:
        import scrapy_playwright  # noqa: F401
    except ImportError as exc:
        raise RenderUnavailableError(
            "render=js needs the Python package scrapy-playwright: pip install scrapy-playwright"
        ) from exc
    chromium = find_chromium(settings)
    if chromium is None:
        raise RenderUnavailableError(
            "render=js needs Chromium, which is not installed: apt-get install chromium "
            "(Debian package 'chromium'), or set NEWSSPIDER_CHROMIUM to the browser's path"
        )
    handler = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
    handlers = dict(settings.getdict("DOWNLOAD_HANDLERS"))
    handlers.update({"http": handler, "https": handler})
    settings.set("DOWNLOAD_HANDLERS", handlers, priority="spider")
    settings.set("PLAYWRIGHT_BROWSER_TYPE", "chromium", priority="spider")
    settings.set(
        "PLAYWRIGHT_LAUNCH_OPTIONS",
        {"executable_path": chromium, "headless": True, "args": CHROMIUM_ARGS},
        priority="spider",
    )
    settings.set(
        "PLAYWRIGHT_MAX_CONTEXTS", settings.getint("NEWSSPIDER_JS_MAX_CONTEXTS", 2), "spider"
    )
    settings.set(
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT", settings.getint("NEWSSPIDER_JS_MAX_PAGES", 4), "spider"
    )
    settings.set(
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT",
        settings.getint("NEWSSPIDER_JS_TIMEOUT_MS", 30000),
        priority="spider",
    )
    settings.set(
        "PLAYWRIGHT_ABORT_REQUEST", "newsspider.runtime.abort_heavy_requests", priority="spider"
    )
    # The browser does its own fetching; the asyncio reactor is already the default.


def playwright_meta(settings: BaseSettings) -> dict[str, Any]:
    """Request meta that sends one request through the browser."""
    return {"playwright": True}


def enable_redis(settings: BaseSettings, redis_url: str) -> None:
    """One crawl shared by every process pointing at the same Redis (scrapy-redis)."""
    settings.set("SCHEDULER", "scrapy_redis.scheduler.Scheduler", priority="spider")
    settings.set("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter", priority="spider")
    settings.set("REDIS_URL", redis_url, priority="spider")


def configure_crawler(crawler: Crawler, *, render_js: bool) -> None:
    settings = crawler.settings
    if render_js:
        enable_playwright(settings)
    redis_url = settings.get("REDIS_URL")
    if redis_url:
        enable_redis(settings, redis_url)
