"""One crawl shared by N processes on N machines through Redis (scrapy-redis), and how it ends.

scrapy-redis supplies the shared request queue; this module adds what a crawl
of *our* spiders needs on top of it:

* :class:`SharedScheduler` — scrapy-redis's scheduler (queue in Redis).
* :class:`SharedDupeFilter` — the Redis dupefilter, fingerprinting with the
  crawler's ``REQUEST_FINGERPRINTER_CLASS`` (canonical URLs), not scrapy-redis's
  own ``canonicalize_url`` hash, so tracking parameters don't defeat it.
* :class:`SeedOnceMiddleware` — only the first worker (``SET NX`` on
  ``newsspider:<crawl id>:seed``) issues the spider's start requests.  Those are
  the listing pages requested with ``dont_filter=True``; every other worker
  takes its requests from the shared queue, so no page is fetched twice.
* :class:`ScaleOutCoordinator` — every worker heartbeats into Redis (busy or
  idle); a worker that is idle itself stays open (``DontCloseSpider``) while
  the queue holds requests or another worker is busy, and closes (``finished``)
  once the whole crawl has been idle ``NEWSSPIDER_REDIS_IDLE_SECONDS``.  The
  last worker out deletes the crawl's keys; every heartbeat renews their
  expiry, so a crawl whose workers all died disappears after
  ``NEWSSPIDER_REDIS_KEY_TTL``.

Keys (``<id>`` = ``NEWSSPIDER_CRAWL_ID`` or the spider name): ``newsspider:<id>:requests``
(scrapy-redis priority queue), ``…:dupefilter`` (set of fingerprints), ``…:seed`` (the
seeding worker), ``…:workers`` (hash worker → ``<time> busy|idle``), ``…:activity``
(Redis time of the last busy heartbeat).

Settings read: ``REDIS_URL``, ``NEWSSPIDER_CRAWL_ID``, ``NEWSSPIDER_REDIS_IDLE_SECONDS``,
``NEWSSPIDER_REDIS_HEARTBEAT_SECONDS``, ``NEWSSPIDER_REDIS_WORKER_TIMEOUT``,
``NEWSSPIDER_REDIS_KEY_TTL``.  Written by :func:`scale_out_settings`: scrapy-redis's
``SCHEDULER*`` and ``DUPEFILTER_CLASS``.

Stats written: ``newsspider/scaleout/seeded`` (1 on the seeding worker),
``newsspider/scaleout/joined`` (1 on the others), ``newsspider/scaleout/wakeups``
(idle worker woken for requests other workers queued), ``newsspider/scaleout/keys_deleted``
(1 on the worker that cleaned up), ``newsspider/scaleout/redis_errors`` (failed heartbeats).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from redis import Redis, RedisError
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.settings import BaseSettings
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.connection import get_redis_from_settings
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

logger = logging.getLogger(__name__)

KEY_PREFIX = "newsspider"
BUSY, IDLE = "busy", "idle"


@dataclass(frozen=True, slots=True)
class CrawlKeys:
    """The Redis keys of one shared crawl."""

    crawl_id: str

    def key(self, name: str) -> str:
        return f"{KEY_PREFIX}:{self.crawl_id}:{name}"

    @property
    def requests(self) -> str:
        return self.key("requests")

    @property
    def dupefilter(self) -> str:
        return self.key("dupefilter")

    @property
    def seed(self) -> str:
        return self.key("seed")

    @property
    def workers(self) -> str:
        return self.key("workers")

    @property
    def activity(self) -> str:
        return self.key("activity")

    def all(self) -> list[str]:
        return [self.requests, self.dupefilter, self.seed, self.workers, self.activity]


def crawl_keys(settings: BaseSettings, spider_name: str) -> CrawlKeys:
    return CrawlKeys(settings.get("NEWSSPIDER_CRAWL_ID") or spider_name)


def scale_out_settings(settings: BaseSettings, redis_url: str) -> None:
    """Switch a crawler to the shared Redis crawl (called before the settings freeze)."""
    crawl_id = settings.get("NEWSSPIDER_CRAWL_ID") or "%(spider)s"
    set_ = settings.set
    set_("SCHEDULER", "newsspider.scaleout.SharedScheduler", priority="spider")
    set_("DUPEFILTER_CLASS", "newsspider.scaleout.SharedDupeFilter", priority="spider")
    set_("REDIS_URL", redis_url, priority="spider")
    set_("SCHEDULER_QUEUE_KEY", f"{KEY_PREFIX}:{crawl_id}:requests", priority="spider")
    set_("SCHEDULER_DUPEFILTER_KEY", f"{KEY_PREFIX}:{crawl_id}:dupefilter", priority="spider")
    # Never let one worker's close flush the queue the others still work on:
    # the last worker out deletes the keys (ScaleOutCoordinator).
    set_("SCHEDULER_PERSIST", True, priority="spider")
    set_("SCHEDULER_FLUSH_ON_START", False, priority="spider")
    # 0 = non-blocking pops; a blocking BRPOP would freeze the reactor.
    set_("SCHEDULER_IDLE_BEFORE_CLOSE", 0, priority="spider")
    extensions = dict(settings.getdict("EXTENSIONS"))
    extensions["newsspider.scaleout.ScaleOutCoordinator"] = 100
    set_("EXTENSIONS", extensions, priority="spider")
    middlewares = dict(settings.getdict("SPIDER_MIDDLEWARES"))
    middlewares["newsspider.scaleout.SeedOnceMiddleware"] = 10
    set_("SPIDER_MIDDLEWARES", middlewares, priority="spider")


class _StatsWithoutSpider:
    """scrapy-redis 0.9.1 passes ``spider=`` to ``inc_value``, which Scrapy 2.19 deprecates."""

    def __init__(self, stats: Any) -> None:
        self._stats = stats

    def inc_value(self, key: str, count: int = 1, start: int = 0, spider: Any = None) -> None:
        self._stats.inc_value(key, count, start)


class SharedScheduler(Scheduler):
    """scrapy-redis's scheduler, minus a deprecation warning per crawl."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedScheduler:
        instance = super().from_crawler(crawler)
        instance.stats = _StatsWithoutSpider(crawler.stats)
        return instance


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


class SeedOnceMiddleware:
    """Spider middleware: pass the start requests on only in the worker that seeds the crawl."""

    def __init__(self, crawler: Crawler, server: Redis, keys: CrawlKeys, ttl: int) -> None:
        self.crawler = crawler
        self.server = server
        self.keys = keys
        self.ttl = ttl
        self.worker = worker_id()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SeedOnceMiddleware:
        settings = crawler.settings
        if not settings.get("REDIS_URL"):
            raise NotConfigured("REDIS_URL is not set")
        assert crawler.spidercls is not None
        return cls(
            crawler, get_redis_from_settings(settings),
            crawl_keys(settings, crawler.spidercls.name),
            settings.getint("NEWSSPIDER_REDIS_KEY_TTL", 86400),
        )

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        assert self.crawler.stats is not None
        if self.server.set(self.keys.seed, self.worker, nx=True, ex=self.ttl):
            self.crawler.stats.set_value("newsspider/scaleout/seeded", 1)
            logger.info("seeding shared crawl %s", self.keys.crawl_id)
            async for request_or_item in start:
                yield request_or_item
            return
        seeder = self.server.get(self.keys.seed)
        self.crawler.stats.set_value("newsspider/scaleout/joined", 1)
        logger.info("joining shared crawl %s seeded by %s", self.keys.crawl_id, seeder)


def worker_id() -> str:
    """Unique per process, readable in Redis: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class ScaleOutCoordinator:
    """Heartbeats, shared-idle detection and cleanup for one worker of a shared crawl."""

    def __init__(self, crawler: Crawler, server: Redis, keys: CrawlKeys) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.server = server
        self.keys = keys
        self.worker = worker_id()
        self.idle_seconds = settings.getfloat("NEWSSPIDER_REDIS_IDLE_SECONDS", 10)
        self.heartbeat = settings.getfloat("NEWSSPIDER_REDIS_HEARTBEAT_SECONDS", 0.5)
        self.worker_timeout = settings.getfloat("NEWSSPIDER_REDIS_WORKER_TIMEOUT", 60)
        self.ttl = settings.getint("NEWSSPIDER_REDIS_KEY_TTL", 86400)
        self.done = False
        self._loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScaleOutCoordinator:
        settings = crawler.settings
        if not settings.get("REDIS_URL"):
            raise NotConfigured("REDIS_URL is not set")
        assert crawler.spidercls is not None
        ext = cls(crawler, get_redis_from_settings(settings),
                  crawl_keys(settings, crawler.spidercls.name))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    # Redis calls here are single pipelined round trips made synchronously on
    # the reactor, like the ones scrapy-redis's scheduler makes for every request.

    def _now(self) -> float:
        seconds, micros = self.server.time()
        return float(seconds) + micros / 1e6

    def spider_opened(self, spider: Spider) -> None:
        now = self._now()
        pipe = self.server.pipeline()
        pipe.hset(self.keys.workers, self.worker, f"{now} {BUSY}")
        # Joining restarts the shared idle clock, so an early worker doesn't
        # close before the seeding worker has queued anything.
        pipe.set(self.keys.activity, now)
        for key in self.keys.all():
            pipe.expire(key, self.ttl)
        pipe.execute()
        logger.info("worker %s joined shared crawl %s", self.worker, self.keys.crawl_id)
        self._loop = task.LoopingCall(self.tick)
        self._loop.start(self.heartbeat, now=False)

    def spider_idle(self, spider: Spider) -> None:
        # Locally idle is not done: other workers may still queue requests.
        if not self.done:
            raise DontCloseSpider("shared crawl still running")

    def _locally_busy(self) -> bool:
        engine = self.crawler.engine
        return engine is not None and engine.spider is not None and not engine.spider_is_idle()

    def tick(self) -> None:
        if self.done or self.crawler.engine is None or self.crawler.engine.spider is None:
            return
        try:
            self._tick()
        except RedisError as exc:
            # Keep beating: an exception would stop the LoopingCall for good, and
            # this worker could then never decide that the crawl is done.
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("newsspider/scaleout/redis_errors")
            logger.warning("shared crawl %s: Redis heartbeat failed: %s", self.keys.crawl_id, exc)

    def _tick(self) -> None:
        assert self.crawler.engine is not None
        busy = self._locally_busy()
        now = self._now()
        pipe = self.server.pipeline()
        pipe.hset(self.keys.workers, self.worker, f"{now} {BUSY if busy else IDLE}")
        if busy:
            pipe.set(self.keys.activity, now)
        for key in self.keys.all():
            pipe.expire(key, self.ttl)
        pipe.zcard(self.keys.requests)
        pipe.hgetall(self.keys.workers)
        pipe.get(self.keys.activity)
        *_, queued, workers, activity = pipe.execute()
        if busy:
            return
        if queued:
            self._wake_engine()
            return
        if self._others_busy(workers, now):
            return
        idle_for = now - float(activity or now)
        if idle_for >= self.idle_seconds:
            self.done = True
            logger.info("shared crawl %s idle for %.1fs: closing worker %s",
                        self.keys.crawl_id, idle_for, self.worker)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="finished"))

    def _others_busy(self, workers: dict[Any, Any], now: float) -> bool:
        gone = []
        busy = False
        for name, value in workers.items():
            name = name.decode() if isinstance(name, bytes) else str(name)
            if name == self.worker:
                continue
            text = value.decode() if isinstance(value, bytes) else str(value)
            stamp, _, state = text.partition(" ")
            if now - float(stamp) > self.worker_timeout:
                gone.append(name)
            elif state == BUSY:
                busy = True
        if gone:
            # A crashed worker's in-flight requests are lost to this run; the next
            # run picks those articles up (stored ones are skipped).
            logger.warning("workers %s sent no heartbeat for %.0fs; counting them as gone",
                           gone, self.worker_timeout)
            self.server.hdel(self.keys.workers, *gone)
        return busy

    def _wake_engine(self) -> None:
        """Make an idle engine pull from the shared queue now, not at its next 5 s heartbeat."""
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("newsspider/scaleout/wakeups")
        # Scrapy has no public "poll the scheduler" call; without it a worker
        # would only notice requests queued by others every 5 seconds.
        slot = getattr(self.crawler.engine, "_slot", None)
        nextcall = getattr(slot, "nextcall", None)
        if nextcall is not None:
            nextcall.schedule()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        pipe = self.server.pipeline(transaction=True)
        pipe.hdel(self.keys.workers, self.worker)
        pipe.hlen(self.keys.workers)
        _, remaining = pipe.execute()
        if remaining == 0 and (self.done or reason == "finished"):
            # The last worker out of a finished crawl: the next scheduled run starts afresh.
            self.server.delete(*self.keys.all())
            assert self.crawler.stats is not None
            self.crawler.stats.set_value("newsspider/scaleout/keys_deleted", 1)
            logger.info("shared crawl %s finished; its Redis keys are deleted", self.keys.crawl_id)
        else:
            logger.info("worker %s left shared crawl %s (%s); %d workers remain",
                        self.worker, self.keys.crawl_id, reason, remaining)
