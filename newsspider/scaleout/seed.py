"""Seed a shared crawl once: only one worker issues the spider's start requests.

:class:`SeedOnceMiddleware` (a spider middleware) asks Redis who seeds
(``newsspider:<id>:seed``, set if absent).  The seeding worker passes its
start requests on — they are the listing pages, requested with
``dont_filter=True`` — and marks the crawl seeded (``…:seeded``) once every
one is queued.  Every other worker takes its requests from the shared queue;
until the crawl is seeded it waits, and if the seeding worker goes silent
for ``NEWSSPIDER_REDIS_WORKER_TIMEOUT`` before it is done, the waiting
worker that notices first seeds the crawl again; start requests already
queued are not queued twice (each is marked as a child of ``seed``).

Stats: ``newsspider/scaleout/seeded`` (1 on the worker that seeded),
``…/joined`` (1 on the others), ``…/reseeded`` (1 on a worker that took the
seeding over).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import sleep

from newsspider.scaleout.crawl import PARENT_META, STAT, SharedCrawl

logger = logging.getLogger(__name__)


class SeedOnceMiddleware:
    def __init__(self, crawler: Crawler, shared: SharedCrawl) -> None:
        self.crawler = crawler
        self.shared = shared

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SeedOnceMiddleware:
        if not SharedCrawl.enabled(crawler.settings):
            raise NotConfigured("not a shared crawl (REDIS_URL is not set)")
        return cls(crawler, SharedCrawl.for_crawler(crawler))

    def _set(self, name: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.set_value(STAT + name, 1)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        shared = self.shared
        crawl_id = shared.keys.crawl_id
        role, other = shared.seed_role()
        if role == "wait":
            logger.info("shared crawl %s: waiting for %s to queue its start requests", crawl_id, other)
        while role == "wait":
            # Meanwhile the engine takes what the seeding worker has queued.
            await sleep(shared.heartbeat)
            role, other = shared.seed_role()
        if role == "seeded":
            self._set("joined")
            logger.info("joining shared crawl %s seeded by %s", crawl_id, other)
            return
        if role == "takeover":
            self._set("reseeded")
            logger.warning("shared crawl %s: %s went silent before it had queued every start "
                           "request; this worker seeds the crawl again", crawl_id, other)
        self._set("seeded")
        logger.info("seeding shared crawl %s", crawl_id)
        try:
            async for request_or_item in start:
                if isinstance(request_or_item, Request):
                    # A worker that seeds again queues none of these twice.
                    request_or_item.meta.setdefault(PARENT_META, "seed")
                yield request_or_item
        except Exception:
            # A start that fails stays failed: the others must not wait for it.
            shared.mark_seeded()
            raise
        # Each request yielded above was queued in Redis before the next one was asked for.
        shared.mark_seeded()
