"""scrapy-redis's scheduler and dupefilter over the shared crawl's leased, per-host queues.

* :class:`LeasedQueue` — a scrapy-redis queue class (``SCHEDULER_QUEUE_CLASS``):
  ``push`` files the request under its host slot (checking the dupefilter's
  set in the same script, batched); requests are taken only while their host
  has room in the crawl's budget and this worker is under its share, and
  are leased (see :mod:`newsspider.scaleout`).
* :class:`SharedScheduler` — scrapy-redis's ``Scheduler`` that asks for a
  request only while this worker has room (fewer than ``CONCURRENT_REQUESTS``
  downloading or being processed), asks again shortly when the budget was
  taken, and at close acks its leases once the store has everything (else
  puts them back in the queue).
* :class:`SharedDupeFilter` — the Redis dupefilter, fingerprinting with the
  crawler's ``REQUEST_FINGERPRINTER_CLASS`` (canonical URLs), not scrapy-redis's
  own ``canonicalize_url`` hash, so tracking parameters don't defeat it.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from redis import Redis
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.connection import get_redis_from_settings
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import Base as RedisQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet.defer import Deferred

from newsspider.scaleout.crawl import (
    LEASE_META,
    PARENT_META,
    TAKE_BATCH,
    Lease,
    SharedCrawl,
    items_stored,
    repeat_key,
)

logger = logging.getLogger(__name__)


class LeasedQueue(RedisQueue):
    """scrapy-redis's queue interface over :class:`~newsspider.scaleout.crawl.SharedCrawl`.

    Requests are taken in batches (as many as the worker has room for, and the
    budget allows: each can be downloaded now) and handed out one by one.
    """

    def __init__(self, server: Redis, spider: Spider, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        assert spider.crawler is not None
        self.shared = SharedCrawl.for_crawler(spider.crawler)
        self.ready: deque[tuple[Lease, Request]] = deque()

    def __len__(self) -> int:
        return self.shared.queued() + len(self.ready)

    def push(self, request: Request, fingerprint: str | None = None,
             repeat: str | None = None) -> None:
        self.shared.push(request, self._encode_request(request), fingerprint, repeat)

    def take(self, most: int) -> None:
        for lease_id, slot, entry in self.shared.take(most):
            request: Request = self._decode_request(entry)
            request.meta[LEASE_META] = lease_id
            self.ready.append((self.shared.lease(lease_id, slot, request), request))

    def pop(self, timeout: int = 0) -> Request | None:
        if not self.ready:
            self.take(1)
        if not self.ready:
            return None
        lease, request = self.ready.popleft()
        lease.dispatched = True
        return request

    def clear(self) -> None:
        # Only a crawl's last worker deletes its keys (ScaleOutCoordinator).
        pass


class _StatsWithoutSpider:
    """scrapy-redis 0.9.1 passes ``spider=`` to ``inc_value``, which Scrapy 2.19 deprecates."""

    def __init__(self, stats: Any) -> None:
        self._stats = stats

    def inc_value(self, key: str, count: int = 1, start: int = 0, spider: Any = None) -> None:
        self._stats.inc_value(key, count, start)


class SharedScheduler(Scheduler):
    """scrapy-redis's scheduler, taking requests only as this worker has room for them."""

    crawler: Crawler
    shared: SharedCrawl
    _poll_pending = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedScheduler:
        instance = super().from_crawler(crawler)
        instance.stats = _StatsWithoutSpider(crawler.stats)
        instance.crawler = crawler
        instance.shared = SharedCrawl.for_crawler(crawler)
        return instance

    def open(self, spider: Spider) -> Any:
        self.shared.open()
        opened = super().open(spider)
        self.shared.on_duplicate = lambda request: self.df.log(request, spider)
        return opened

    def enqueue_request(self, request: Request) -> bool:
        # The dupefilter's set is checked in the same script that queues the
        # request, batched: the request counts as scheduled, and a duplicate is
        # logged (and counted in dupefilter/filtered) when the batch is sent.
        fingerprint = self.df.request_fingerprint(request)
        repeat = repeat_key(request, fingerprint) if request.dont_filter else None
        # Not part of the request: its lease is the worker's; a parent is only for this push.
        request.meta.pop(LEASE_META, None)
        request.meta.pop(PARENT_META, None)
        self.queue.push(request, None if request.dont_filter else fingerprint, repeat)
        return True

    def next_request(self) -> Request | None:
        queue: LeasedQueue = self.queue
        if not queue.ready:
            room = self.shared.room()
            if room <= 0:
                # The engine asks again when one of its requests is done.
                return None
            queue.take(min(room, TAKE_BATCH))
        request = queue.pop()
        if request is None:
            if self.shared.last_take in (2, 3):
                self._poll_later()
            return None
        if self.stats is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def _poll_later(self) -> None:
        """Ask again soon: another worker's download ends any moment, and nothing here would notice."""
        if self._poll_pending:
            return
        self._poll_pending = True

        def poll() -> None:
            self._poll_pending = False
            slot = getattr(self.crawler.engine, "_slot", None)
            nextcall = getattr(slot, "nextcall", None)
            if nextcall is not None:
                nextcall.schedule()

        call_later(self.shared.poll, poll)

    def close(self, reason: str) -> Deferred[None]:
        return deferred_from_coro(self._close(reason))

    async def _close(self, reason: str) -> None:
        # The engine has drained: every lease is handled, and the pipelines have
        # closed (the store pipeline flushed).  Ack what the store holds; what it
        # may not hold goes back to the queue for the other workers.
        shared = self.shared
        shared.collect_handled()
        self.queue.ready.clear()  # taken, never handed to the engine: given back below
        stored = reason != "store_unavailable" and await items_stored(self.crawler, timeout=None)
        acked = shared.ack(shared.handled()) if stored else 0
        returned = shared.give_back()
        if returned:
            logger.warning("shared crawl %s: %d requests this worker took go back to the queue (%s)",
                           shared.keys.crawl_id, returned,
                           "the store may not have their items" if not stored else reason)
        logger.info("shared crawl %s: worker %s acked %d leases at close",
                    shared.keys.crawl_id, shared.worker, acked)
        super().close(reason)


class SharedDupeFilter(RFPDupeFilter):
    """scrapy-redis's dupefilter with the crawler's request fingerprinter."""

    def __init__(self, server: Redis, key: str, debug: bool = False,
                 fingerprinter: Any = None) -> None:
        super().__init__(server, key, debug)
        self.fingerprinter = fingerprinter

    @classmethod
    def from_spider(cls, spider: Spider) -> SharedDupeFilter:
        settings = spider.crawler.settings
        key = settings.get("SCHEDULER_DUPEFILTER_KEY") % {"spider": spider.name}
        return cls(
            get_redis_from_settings(settings), key=key,
            debug=settings.getbool("DUPEFILTER_DEBUG"),
            fingerprinter=spider.crawler.request_fingerprinter,
        )

    def request_fingerprint(self, request: Any) -> str:
        if self.fingerprinter is None:
            return str(super().request_fingerprint(request))
        return str(self.fingerprinter.fingerprint(request).hex())

    def close(self, reason: str = "") -> None:
        # The fingerprints belong to the shared crawl, not to this worker.
        pass


class ParentMiddleware:
    """Spider middleware: mark what a leased response yields with the response's lease.

    So a ``dont_filter`` request (a continuation page) yielded again — when the
    lease is crawled a second time after its worker died — is recognised as a
    repeat and not queued twice (:func:`~newsspider.scaleout.crawl.repeat_key`).
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ParentMiddleware:
        if not SharedCrawl.enabled(crawler.settings):
            raise NotConfigured("not a shared crawl (REDIS_URL is not set)")
        return cls()

    async def process_spider_output_async(self, response: Any, result: Any) -> Any:
        lease = response.request.meta.get(LEASE_META) if response.request is not None else None
        async for output in result:
            if lease is not None and isinstance(output, Request):
                output.meta.setdefault(PARENT_META, lease)
            yield output

    def process_spider_output(self, response: Any, result: Any) -> Any:
        lease = response.request.meta.get(LEASE_META) if response.request is not None else None
        for output in result:
            if lease is not None and isinstance(output, Request):
                output.meta.setdefault(PARENT_META, lease)
            yield output

