"""Scrapy's retry and redirect middlewares with the two things they lack for flaky portals.

* :class:`BackoffRetryMiddleware` — Scrapy's ``RetryMiddleware`` (same
  ``RETRY_*`` settings, same ``retry/*`` stats), but a retry waits an
  exponential, jittered delay first: ``NEWSSPIDER_RETRY_BACKOFF_BASE * 2**(n-1)``
  seconds before the n-th retry, at most ``NEWSSPIDER_RETRY_BACKOFF_MAX``; a
  ``Retry-After`` header (429/503) is honoured up to the same cap.  Scrapy 2.19
  retries at once, which hammers a portal that is briefly down.  The wait is an
  ``await`` on the reactor's clock, never a blocking sleep; while it waits the
  request holds one of ``CONCURRENT_REQUESTS``, not the portal's slot.
* :class:`LoopSafeRedirectMiddleware` — Scrapy's ``RedirectMiddleware``, but a
  redirect back to a URL already in this request's redirect chain raises
  ``IgnoreRequest("redirect loop: …")``.  Without it the looping request is
  silently dropped by the duplicate filter (no errback, no reject, the article
  just vanishes); with it the spider's errback turns it into a reject.

Settings read: ``NEWSSPIDER_RETRY_BACKOFF_BASE``, ``NEWSSPIDER_RETRY_BACKOFF_MAX``
and Scrapy's ``RETRY_*`` / ``REDIRECT_*``.
Stats written: ``newsspider/retry/backoff_count``, ``newsspider/retry/backoff_ms`` (total wait),
``newsspider/redirect/loops`` (plus Scrapy's ``retry/count``,
``retry/reason_count/<reason>``, ``retry/max_reached``).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.asyncio import sleep

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

# Jitter spreads the retries of pages that failed together (a portal hiccup).
_JITTER = 0.25


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, …), jitter excluded."""
    if base <= 0 and not retry_after:
        return 0.0
    delay = base * 2 ** max(0, attempt - 1)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return max(0.0, min(cap, delay))


def _retry_after(response: Response | None) -> float | None:
    if response is None or response.status not in (429, 503):
        return None
    value = response.headers.get(b"Retry-After")
    if not value:
        return None
    try:
        return float(value.decode("latin-1").strip())
    except ValueError:
        return None  # an HTTP date: rare on portals; the exponential delay applies


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.base = settings.getfloat("NEWSSPIDER_RETRY_BACKOFF_BASE", 0.5)
        self.cap = settings.getfloat("NEWSSPIDER_RETRY_BACKOFF_MAX", 10.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        mw = cls(crawler.settings)
        mw.crawler = crawler
        return mw

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Any = None
    ) -> Request | Response:
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await self._wait(result, response)
        return result

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception, spider: Any = None
    ) -> Request | Response | None:
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await self._wait(result, None)
        return result

    async def _wait(self, retry: Request, response: Response | None) -> None:
        attempt = int(retry.meta.get("retry_times", 1))
        delay = backoff_delay(attempt, self.base, self.cap, _retry_after(response))
        if delay <= 0:
            return
        delay *= 1 + random.uniform(-_JITTER, _JITTER)
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value("newsspider/retry/backoff_count")
            stats.inc_value("newsspider/retry/backoff_ms", round(delay * 1000))
        await sleep(delay)


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


class LoopSafeRedirectMiddleware(RedirectMiddleware):
    def _redirect(self, redirected: Request, source_request: Request, reason: Any) -> Request:
        chain = [*source_request.meta.get("redirect_urls", []), source_request.url]
        target = _without_fragment(redirected.url)
        if target in {_without_fragment(u) for u in chain}:
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("newsspider/redirect/loops")
            path = " → ".join([*chain, redirected.url])
            raise IgnoreRequest(f"redirect loop: {path}")
        return super()._redirect(redirected, source_request, reason)
