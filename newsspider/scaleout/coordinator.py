"""Heartbeats, acks, dead workers and the end of a shared crawl, for one worker.

:class:`ScaleOutCoordinator` (an extension) beats every
``NEWSSPIDER_REDIS_HEARTBEAT_SECONDS``.  Each beat, in one Redis script:

* records this worker as busy (its engine is not idle, or it holds leases)
  or idle, and renews the expiry of its budget tokens and of the crawl's keys;
* finds workers silent for ``NEWSSPIDER_REDIS_WORKER_TIMEOUT``: their leased
  requests go back to the queue (another worker crawls them) and their share
  of every host's budget is freed;
* tells how many requests are queued and leased crawl-wide, and whether
  another worker is busy.

Every second or so this worker acks the leases it has handled, once the
store has written their items (a flush of the crawler's store).  A worker that is idle
itself stays open (``DontCloseSpider``) while requests are queued or leased
anywhere or another worker is busy, and closes (``finished``) once the whole
crawl has been idle for ``NEWSSPIDER_REDIS_IDLE_SECONDS``.  The last worker
out of a finished crawl deletes its keys; a crawl whose workers all died
expires after ``NEWSSPIDER_REDIS_KEY_TTL``.

Stats: ``newsspider/scaleout/wakeups`` (idle engine woken for queued
requests), ``…/keys_deleted``, ``…/redis_errors`` (failed heartbeats),
``…/leases/acked``, ``…/leases/ack_deferred`` (the store had not written
them yet), ``…/leases/requeued`` (a gone worker's, put back by this one),
``…/workers_gone``.
"""

from __future__ import annotations

import logging
from time import monotonic
from typing import Any

from redis import RedisError
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from newsspider.scaleout.crawl import STAT, SharedCrawl, items_stored

logger = logging.getLogger(__name__)


class ScaleOutCoordinator:
    """Heartbeats, acks, shared-idle detection and cleanup for one worker of a shared crawl."""

    def __init__(self, crawler: Crawler, shared: SharedCrawl) -> None:
        self.crawler = crawler
        self.shared = shared
        self.idle_seconds = crawler.settings.getfloat("NEWSSPIDER_REDIS_IDLE_SECONDS", 10)
        # How long an ack waits for the store's flush before trying again next beat.
        self.flush_timeout = max(1.0, 4 * shared.heartbeat)
        # Acks wait for a flush of the store: at most one a second, so the store's
        # writer keeps its batches (every beat, nx-27017 wrote smaller ones and
        # spent a third more CPU per article).
        self.ack_interval = max(1.0, shared.heartbeat)
        self._acked_at = 0.0
        self.done = False
        self._loop: task.LoopingCall | None = None
        self._acking = False
        self._beats = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScaleOutCoordinator:
        if not SharedCrawl.enabled(crawler.settings):
            raise NotConfigured("not a shared crawl (REDIS_URL is not set)")
        ext = cls(crawler, SharedCrawl.for_crawler(crawler))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def _inc(self, name: str, count: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(STAT + name, count)

    def spider_opened(self, spider: Spider) -> None:
        self.shared.open()  # the scheduler has registered already; idempotent
        logger.info("worker %s joined shared crawl %s", self.shared.worker,
                    self.shared.keys.crawl_id)
        self._loop = task.LoopingCall(self.tick)
        self._loop.start(self.shared.heartbeat, now=True)

    def spider_idle(self, spider: Spider) -> None:
        # Locally idle is not done: other workers may still queue requests.
        if not self.done:
            raise DontCloseSpider("shared crawl still running")

    def _locally_busy(self) -> bool:
        engine = self.crawler.engine
        return engine is not None and engine.spider is not None and not engine.spider_is_idle()

    def tick(self) -> None:
        engine = self.crawler.engine
        if self.done or engine is None or engine.spider is None:
            return
        try:
            self._tick()
        except RedisError as exc:
            # Keep beating: an exception would stop the LoopingCall for good, and
            # this worker could then never decide that the crawl is done.
            self._inc("redis_errors")
            logger.warning("shared crawl %s: Redis heartbeat failed: %s",
                           self.shared.keys.crawl_id, exc)

    def _tick(self) -> None:
        shared = self.shared
        shared.collect_handled()
        engine_busy = self._locally_busy()
        busy = engine_busy or bool(shared.leases)
        beat = shared.beat(busy)
        self._beats += 1
        if not beat.was_known and self._beats > 1:
            logger.warning("shared crawl %s: this worker (%s) was counted as gone (no heartbeat "
                           "for %.0f s); the requests it had taken were given to the others",
                           shared.keys.crawl_id, shared.worker, shared.worker_timeout)
        if beat.gone:
            self._inc("workers_gone", len(beat.gone))
            logger.warning("shared crawl %s: workers %s sent no heartbeat for %.0f s: counted as "
                           "gone; the %d requests they had taken are back in the queue",
                           shared.keys.crawl_id, ", ".join(beat.gone), shared.worker_timeout,
                           beat.requeued)
        if beat.queued:
            self._wake_engine(counted=not engine_busy)
        now = monotonic()
        if not self._acking and now - self._acked_at >= self.ack_interval and shared.handled():
            self._acking = True
            self._acked_at = now
            deferred_from_coro(self._ack()).addErrback(self._ack_failed)
        if busy or beat.queued or beat.leases or beat.others_busy:
            return
        idle_for = beat.now - (beat.activity if beat.activity is not None else beat.now)
        if idle_for >= self.idle_seconds:
            self.done = True
            logger.info("shared crawl %s idle for %.1fs: closing worker %s",
                        shared.keys.crawl_id, idle_for, shared.worker)
            assert self.crawler.engine is not None
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="finished"))

    async def _ack(self) -> None:
        try:
            ids = self.shared.handled()
            if await items_stored(self.crawler, self.flush_timeout):
                self.shared.ack(ids)
            else:
                self._inc("leases/ack_deferred", len(ids))
        finally:
            self._acking = False

    def _ack_failed(self, failure: Any) -> None:
        # Leases not acked stay in Redis: the next beat tries again.
        self._inc("redis_errors")
        logger.warning("shared crawl %s: acking leases failed: %s", self.shared.keys.crawl_id,
                       failure.getErrorMessage())

    def _wake_engine(self, counted: bool) -> None:
        """Make the engine ask the shared queue now, not at its next 5 s heartbeat."""
        if counted:
            self._inc("wakeups")
        # Scrapy has no public "poll the scheduler" call; without it a worker
        # would only notice requests queued by others every 5 seconds.
        slot = getattr(self.crawler.engine, "_slot", None)
        nextcall = getattr(slot, "nextcall", None)
        if nextcall is not None:
            nextcall.schedule()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        shared = self.shared
        remaining = shared.leave()
        if remaining == 0 and (self.done or reason == "finished"):
            # The last worker out of a finished crawl: the next scheduled run starts afresh.
            shared.delete_keys()
            assert self.crawler.stats is not None
            self.crawler.stats.set_value(STAT + "keys_deleted", 1)
            logger.info("shared crawl %s finished; its Redis keys are deleted",
                        shared.keys.crawl_id)
        else:
            logger.info("worker %s left shared crawl %s (%s); %d workers remain",
                        shared.worker, shared.keys.crawl_id, reason, remaining)
