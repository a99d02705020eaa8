"""Scrapy's downloader, held to each host's concurrency — and, in a shared crawl, to the crawl's.

Why (user-visible): politeness — Scrapy 2.19's own let 16 requests at once reach a portal whose
limit was 2 (measured on the replica); with this one, 2; the scale-out's shared gate builds on it.

**Every crawl.**  Scrapy 2.19's ``Downloader._process_queue`` starts each
queued request as an asyncio task and counts it against its slot
(``slot.transferring``) only once that task runs.  The engine hands the
downloader a burst of requests at a time, and with no download delay
(AutoThrottle off; a delay lets one request through per pass) every request
of the burst passes the slot's free-slots check before the first task has
started: a portal got ``CONCURRENT_REQUESTS`` (16) requests at once whatever
``CONCURRENT_REQUESTS_PER_DOMAIN`` said (measured on the replica: 16 in
flight with a per-host limit of 2).  It also churned connections: the pool
keeps ``CONCURRENT_REQUESTS_PER_DOMAIN`` idle connections per host, so every
burst above it opened new ones that were closed again as they came back (89
connections for 116 requests at a per-host limit of 2).  :class:`Downloader`
counts a request against its slot when it is taken off the queue, before
its task is scheduled; Scrapy's own ``_download`` adds it again (a set, so
once) and removes it when the response is in.

**A shared crawl** (``REDIS_URL``, see :mod:`newsspider.scaleout`).  The
per-host limit and the delay hold for all workers together, so this
process's own slot delay and AutoThrottle are not used (Scrapy's
``_process_queue`` still applies the slot's own concurrency, which is the
same limit).  Each download task first takes one of the host's transfer
tokens in Redis and the host's turn
(:meth:`~newsspider.scaleout.crawl.SharedCrawl.transfer_turn`, awaiting Redis
and waiting without blocking the reactor when refused), then hands the
request to the download handler at once, and gives the token back when the
transfer ends, with its latency for AutoThrottle's shared delay.

Enabled by the ``DOWNLOADER`` setting.  Settings and stats of the shared
crawl: :mod:`newsspider.scaleout`; none of its own.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader import Downloader as ScrapyDownloader

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.core.downloader import Slot
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.internet.defer import Deferred

    from newsspider.scaleout.crawl import SharedCrawl


class Downloader(ScrapyDownloader):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        from newsspider.scaleout.crawl import SharedCrawl

        self._shared: SharedCrawl | None = (
            SharedCrawl.for_crawler(crawler) if SharedCrawl.enabled(crawler.settings) else None
        )
        if self._shared is not None:
            # The crawl's delay applies, in _download; this process's slots have none.
            self._delay = 0.0

    def _get_slot(self, request: Request, spider: Any = None) -> tuple[str, Slot]:
        key, slot = super()._get_slot(request)
        if self._shared is not None:
            slot.delay = 0.0
        return key, slot

    def _wait_for_download(
        self, slot: Slot, request: Request, queue_dfd: Deferred[Response]
    ) -> Coroutine[Any, Any, None]:
        # Called by _process_queue's loop to build the task's coroutine, before
        # the loop checks the slot's free transfer slots again.
        slot.transferring.add(request)
        return super()._wait_for_download(slot, request, queue_dfd)

    async def _download(self, slot: Slot, request: Request) -> Response:
        shared = self._shared
        if shared is None:
            return await super()._download(slot, request)
        await shared.transfer_turn(request)
        response: Response | None = None
        try:
            response = await super()._download(slot, request)
            return response
        finally:
            await shared.end_transfer(request, response)
