"""One worker's side of a shared crawl: its Redis client, the crawl's budget, its leases and tokens.

:class:`SharedCrawl` is made once per crawler (:meth:`SharedCrawl.for_crawler`)
and used by the scheduler (push and take), the downloader (a transfer token
and the shared delay before each download), the coordinator (heartbeats,
acks, dead workers) and the seeding middleware.  How they fit is in
:mod:`newsspider.scaleout`.

Redis is called synchronously on the reactor thread, as scrapy-redis does:
Scrapy's scheduler interface (``next_request``, ``enqueue_request``) is
synchronous, and a loopback round trip costs ~0.1 ms.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from time import monotonic
from typing import TYPE_CHECKING, Any

from redis import RedisError
from redis.asyncio import Redis as AsyncRedis
from scrapy.http import Request
from scrapy.utils.asyncio import call_later, sleep
from scrapy.utils.httpobj import urlparse_cached
from scrapy_redis import defaults as redis_defaults
from scrapy_redis.connection import get_redis_from_settings

from newsspider.scaleout.keys import BUSY, IDLE, CrawlKeys, crawl_keys, worker_id
from newsspider.scaleout.lua import Scripts

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

SHARED_SCHEDULER = "newsspider.scaleout.SharedScheduler"
STAT = "newsspider/scaleout/"
# Request meta: the lease a taken request holds, and the lease whose response yielded a request.
LEASE_META = "newsspider_lease"
PARENT_META = "newsspider_parent"
# Requests queued in one round trip (a listing page's articles), and taken in one.
PUSH_BATCH = 256
TAKE_BATCH = 16
# A worker with requests in progress asks for more once it has room for this many:
# one round trip per few requests instead of one per response (CPU-bound crawls).
TAKE_LOW_WATER = 4


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def repeat_key(request: Request, fingerprint: str) -> str | None:
    """What makes a ``dont_filter`` request a repeat: its parent lease and itself.

    A continuation page (or a start request) names the lease whose response
    yielded it (``PARENT_META``, set by the spider middleware); a retry or a
    redirect is a copy of a leased request (``LEASE_META``) and adds its retry
    count.  Crawled again after its worker died, the parent yields the same
    keys, which are then not queued again.  None: an unrelated request.
    """
    parent = request.meta.get(PARENT_META)
    if parent is not None:
        return f"{parent}:{fingerprint}"
    lease = request.meta.get(LEASE_META)
    if lease is not None:
        return f"{lease}:{request.meta.get('retry_times', 0)}:{fingerprint}"
    return None


def budget_slot(request: Request) -> str:
    """The host budget a request counts against: Scrapy's download slot (meta) or the host name."""
    meta_slot = request.meta.get("download_slot")
    if meta_slot is not None:
        return str(meta_slot).replace("\n", " ")
    return urlparse_cached(request).hostname or ""


@dataclass(slots=True, eq=False)
class Lease:
    """A request taken from the shared queue; recorded in Redis until acked."""

    id: str
    slot: str
    request: Request | None
    # This worker's share of the host budget, held from the take to the end of the download.
    share_held: bool = True
    # Handed to the engine (until then it waits in the scheduler, taken in a batch).
    dispatched: bool = False
    # Out of the engine: its items went through the pipelines, its requests were queued.
    handled: bool = False


@dataclass(slots=True, eq=False)
class Transfer:
    """A download holding one of its host's transfer tokens."""

    token: str
    slot: str
    lease: Lease | None


@dataclass(slots=True)
class Beat:
    """What one heartbeat learnt about the crawl."""

    queued: int
    leases: int
    others_busy: bool
    activity: float | None
    requeued: int
    gone: list[str] = field(default_factory=list)
    was_known: bool = True
    now: float = 0.0  # the server's time


@dataclass(frozen=True, slots=True)
class Throttle:
    """AutoThrottle's settings, applied to the crawl's one delay per host."""

    target_concurrency: float
    min_delay: float
    max_delay: float
    start_delay: float
    debug: bool


class SharedCrawl:
    """The shared crawl as one worker sees it (see the module docstring)."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        assert crawler.spidercls is not None
        self.crawler = crawler
        self.server = get_redis_from_settings(settings)
        self.scripts = Scripts(self.server)
        # The downloader's gate awaits Redis instead of blocking the reactor: one
        # round trip before and one after every download.  Made on first use, in the loop.
        self._async_scripts: Scripts | None = None
        self._redis_params = {**redis_defaults.REDIS_PARAMS, **settings.getdict("REDIS_PARAMS"),
                              "url": settings.get("REDIS_URL")}
        self.keys: CrawlKeys = crawl_keys(settings, crawler.spidercls.name)
        self.prefix = self.keys.prefix
        self.worker = worker_id()
        self.heartbeat = settings.getfloat("NEWSSPIDER_REDIS_HEARTBEAT_SECONDS", 0.5)
        self.worker_timeout = settings.getfloat("NEWSSPIDER_REDIS_WORKER_TIMEOUT", 60)
        self.key_ttl = settings.getint("NEWSSPIDER_REDIS_KEY_TTL", 86400)
        self.token_ttl = settings.getfloat("NEWSSPIDER_REDIS_LEASE_SECONDS", 10)
        # How soon to ask again when a host's budget or this worker's share was taken.
        self.poll = min(0.05, max(0.01, self.heartbeat / 10))
        # A worker counts as wanting requests for this long after it last asked.
        self.want_window = max(1.0, 2 * self.heartbeat)
        # Requests in this worker at once (downloading or being processed).
        self.capacity = settings.getint("CONCURRENT_REQUESTS")
        self.concurrency = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        self.jitter = settings.getfloat("DOWNLOAD_DELAY_JITTER", 0.0)
        self.throttle: Throttle | None = None
        delay = settings.getfloat("DOWNLOAD_DELAY")
        if settings.getbool("AUTOTHROTTLE_ENABLED"):
            target = settings.getfloat("AUTOTHROTTLE_TARGET_CONCURRENCY")
            if target > 0:
                start = max(delay, settings.getfloat("AUTOTHROTTLE_START_DELAY"))
                self.throttle = Throttle(target, delay, settings.getfloat("AUTOTHROTTLE_MAX_DELAY"),
                                         start, settings.getbool("AUTOTHROTTLE_DEBUG"))
                delay = start
        self.delay = delay
        self.slot_settings: dict[str, dict[str, Any]] = settings.getdict("DOWNLOAD_SLOTS")
        self.leases: dict[str, Lease] = {}
        self._pushes: list[tuple[Request, str, int, str, str, bytes]] = []
        self._push_due = False
        #: Called with each request the dupefilter dropped (the scheduler logs it).
        self.on_duplicate: Any = None
        self._lease_of: dict[Request, Lease] = {}
        self.transfers: dict[Request, Transfer] = {}
        self._tokens = 0
        self.last_take = 0  # the TAKE script's answer code (see lua.TAKE)
        # When the last take was refused (or found nothing), and whether something
        # that could change the answer happened here since (a push, a share returned).
        self._refused_at: float | None = None
        self._nudged = False
        self._opened = False

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> SharedCrawl:
        """The crawler's one shared crawl, created on first call."""
        shared: SharedCrawl | None = getattr(crawler, "_newsspider_shared_crawl", None)
        if shared is None:
            shared = cls(crawler)
            crawler._newsspider_shared_crawl = shared  # type: ignore[attr-defined]
        return shared

    @staticmethod
    def enabled(settings: BaseSettings) -> bool:
        """Whether the crawl is shared (``scale_out_settings`` switched it on)."""
        return settings.get("SCHEDULER") == SHARED_SCHEDULER

    def _stat(self, name: str, count: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(STAT + name, count)

    # -- joining -------------------------------------------------------------

    def open(self) -> None:
        """Register this worker and the crawl's budget (the first worker's settings win)."""
        if self._opened:
            return
        self._opened = True
        budget = {"concurrency": self.concurrency, "delay": self.delay}
        for slot, values in self.slot_settings.items():
            if "concurrency" in values:
                budget[f"concurrency:{slot}"] = int(values["concurrency"])
            if "delay" in values and self.throttle is None:
                budget[f"delay:{slot}"] = float(values["delay"])
        seconds, micros = self.server.time()
        pipe = self.server.pipeline()
        pipe.hset(self.keys.workers, self.worker, f"{seconds + micros / 1e6:.6f} {BUSY}")
        for name, value in budget.items():
            pipe.hsetnx(self.keys.budget, name, value)
        pipe.hgetall(self.keys.budget)
        *_, stored = pipe.execute()
        crawl = {_text(k): float(_text(v)) for k, v in stored.items()}
        for name, value in budget.items():
            if crawl.get(name) != float(value):
                logger.warning(
                    "shared crawl %s: %s is %s for the whole crawl (set by its first worker), "
                    "not this worker's %s", self.keys.crawl_id, name, crawl.get(name), value)
        logger.info("shared crawl %s: at most %d requests in flight per host, %.3f s apart%s",
                    self.keys.crawl_id, int(crawl.get("concurrency", self.concurrency)),
                    crawl.get("delay", self.delay),
                    " (AutoThrottle adapts the delay)" if self.throttle else "")

    # -- the queue -----------------------------------------------------------

    def push(self, request: Request, entry: bytes, fingerprint: str | None,
             repeat_key: str | None = None) -> None:
        """Queue a request, in the next batch.

        ``fingerprint`` (None: dont_filter) is checked against the dupefilter's
        set, ``repeat_key`` (see :func:`repeat_key`) against the repeats already
        queued.

        A batch goes out at the reactor's next turn, before this worker takes,
        beats or acks, or when it is full: a listing page's articles cost one
        round trip, not two each.
        """
        self._pushes.append((request, budget_slot(request), -request.priority, fingerprint or "",
                             repeat_key or "", entry))
        self._nudged = True
        if len(self._pushes) >= PUSH_BATCH:
            self.flush_pushes()
        elif not self._push_due:
            self._push_due = True
            call_later(0, self._flush_due)

    def _flush_due(self) -> None:
        self._push_due = False
        self.flush_pushes()

    def flush_pushes(self) -> None:
        if not self._pushes:
            return
        batch, self._pushes = self._pushes, []
        args: list[Any] = [self.prefix]
        for _, slot, score, fingerprint, repeat, entry in batch:
            args += [slot, score, fingerprint, repeat, entry]
        flags = self.scripts.push(args=args)
        stats = self.crawler.stats
        queued = sum(int(flag) for flag in flags)
        if stats is not None:
            stats.inc_value("scheduler/enqueued/redis", queued)
            if queued < len(batch):
                stats.inc_value("dupefilter/filtered", len(batch) - queued)
        if self.on_duplicate is not None:
            for (request, *_), flag in zip(batch, flags, strict=True):
                if not int(flag):
                    self.on_duplicate(request)

    def queued(self) -> int:
        self.flush_pushes()
        return int(self.scripts.queued(args=[self.prefix]))

    def room(self) -> int:
        """How many requests this worker should ask for now (0: none).

        Room to download — ``CONCURRENT_REQUESTS`` minus the downloads under
        way, Scrapy's own rule — but no more than twice that downloading or
        being processed: a worker behind on parsing leaves the queue to the
        others, while the pipelines' helper (the store) still
        gets work queued (with one limit for both, a CPU-bound worker's
        reactor waited on its helper).  With some in progress it asks only
        once room for ``TAKE_LOW_WATER`` has opened, and not again within
        ``poll`` seconds of a refused or empty take unless it queued a request
        or gave a share back meanwhile: on a loaded host every round trip on
        the reactor costs milliseconds, and the engine asks after every response.
        """
        inprogress = _engine_inprogress(self.crawler)
        busy = len(inprogress) if inprogress is not None else 0
        engine = self.crawler.engine
        downloading = len(engine.downloader.active) if engine is not None else 0
        waiting = sum(1 for lease in self.leases.values() if not lease.dispatched)
        room = min(self.capacity - downloading, 2 * self.capacity - busy) - waiting
        if room <= 0 or (busy and room < min(TAKE_LOW_WATER, self.capacity)):
            return 0
        if (self._refused_at is not None and not self._nudged
                and monotonic() - self._refused_at < self.poll):
            return 0
        return room

    def take(self, most: int) -> list[tuple[str, str, bytes]]:
        """``(lease id, slot, entry)`` of up to ``most`` requests this worker may download now."""
        self.flush_pushes()
        reply = self.scripts.take(args=[self.prefix, self.worker, self.want_window,
                                        self.token_ttl, self.concurrency, most])
        self.last_take = int(reply[0])
        if self.last_take == 1:
            self._refused_at = None
        else:
            self._refused_at, self._nudged = monotonic(), False
        if self.last_take == 2:
            self._stat("queue/host_full")
        elif self.last_take == 3:
            self._stat("queue/share_used")
        return [(_text(reply[i]), _text(reply[i + 1]), bytes(reply[i + 2]))
                for i in range(1, len(reply), 3)]

    def lease(self, lease_id: str, slot: str, request: Request) -> Lease:
        lease = Lease(lease_id, slot, request)
        self.leases[lease_id] = lease
        self._lease_of[request] = lease
        self._stat("leases/taken")
        return lease

    # -- transfers (the downloader) ------------------------------------------

    def _gate(self) -> Scripts:
        if self._async_scripts is None:
            params = dict(self._redis_params)
            params.pop("redis_cls", None)
            self._async_scripts = Scripts(AsyncRedis.from_url(params.pop("url"), **params))
        return self._async_scripts

    async def transfer_turn(self, request: Request) -> None:
        """Wait until this download holds one of its host's transfer tokens and its turn."""
        slot = budget_slot(request)
        self._tokens += 1
        token = f"x{self._tokens}"
        gate = self._gate()
        waited_since = None
        while True:
            factor = 1 + random.uniform(0, self.jitter) if self.jitter > 0 else 1.0
            code, value = await gate.start(args=[
                self.prefix, self.worker, slot, token, self.token_ttl, factor, self.concurrency,
                self.delay,
            ])
            if int(code) == 0:
                if float(_text(value)) > 0:
                    # Runs at the start of the next reactor pass, before the one that
                    # writes the request (the caller hands it to the download handler
                    # now): the host's next turn counts from there.
                    asyncio.get_running_loop().call_soon(self._confirm, slot, factor)
                break
            if waited_since is None:
                waited_since = monotonic()
            if int(code) == 1:
                self._stat("politeness/waits/concurrency")
                wait = self.poll
            else:
                self._stat("politeness/waits/delay")
                wait = max(0.001, float(_text(value)))
            await sleep(wait)
        if waited_since is not None:
            self._stat("politeness/wait_ms", round((monotonic() - waited_since) * 1000))
        self.transfers[request] = Transfer(token, slot, self._lease_of.pop(request, None))

    def _confirm(self, slot: str, factor: float) -> None:
        try:
            self.scripts.confirm(args=[self.prefix, slot, factor, self.delay])
        except RedisError as exc:
            # The turn stays pending for lua.PENDING seconds, then the next one may go.
            self._stat("redis_errors")
            logger.warning("shared crawl %s: confirming a turn failed: %s", self.keys.crawl_id, exc)

    async def end_transfer(self, request: Request, response: Response | None) -> None:
        """Give the download's token back; with AutoThrottle, its latency adjusts the host's delay."""
        transfer = self.transfers.pop(request, None)
        if transfer is None:
            return
        lease = transfer.lease
        args: list[Any] = [self.prefix, self.worker, transfer.slot, transfer.token,
                           lease.id if lease is not None and lease.share_held else ""]
        if lease is not None:
            lease.share_held = False
            self._nudged = True
        throttle = self.throttle
        latency = request.meta.get("download_latency")
        if (throttle is not None and response is not None and latency is not None
                and request.meta.get("autothrottle_dont_adjust_delay", False) is not True):
            args += [float(latency), response.status, throttle.target_concurrency,
                     throttle.min_delay, throttle.max_delay, throttle.start_delay]
        try:
            delay = _text(await self._gate().finish(args=args))
        except RedisError as exc:
            # The tokens lapse by themselves (NEWSSPIDER_REDIS_LEASE_SECONDS): no longer renewed.
            self._stat("redis_errors")
            logger.warning("shared crawl %s: returning a transfer token failed: %s",
                           self.keys.crawl_id, exc)
            return
        if delay and self.crawler.stats is not None:
            self.crawler.stats.set_value(STAT + "politeness/delay_ms", round(float(delay) * 1000))
            if throttle is not None and throttle.debug:
                logger.info("shared slot %s: delay %d ms, latency %d ms, status %s",
                            transfer.slot, float(delay) * 1000, float(latency or 0) * 1000,
                            response.status if response is not None else None)

    # -- leases (the coordinator) --------------------------------------------

    def collect_handled(self) -> None:
        """Mark leases whose request has left the engine; free the share of those never downloaded."""
        inprogress = _engine_inprogress(self.crawler)
        if inprogress is None:
            return
        unshared = []
        for lease in self.leases.values():
            if lease.handled or not lease.dispatched or lease.request in inprogress:
                continue
            lease.handled = True
            if lease.request is not None:
                self._lease_of.pop(lease.request, None)
                if lease.request in self.transfers:
                    continue  # its transfer's end gives the share back
            lease.request = None
            if lease.share_held:
                lease.share_held = False
                unshared.append(lease.id)
        if unshared:
            self.scripts.release(args=[self.prefix, self.worker, *unshared])

    def handled(self) -> list[str]:
        return [lease.id for lease in self.leases.values() if lease.handled]

    def ack(self, ids: Iterable[str]) -> int:
        """Forget these leases in Redis: their work is done (and stored)."""
        ids = [i for i in ids if i in self.leases]
        if not ids:
            return 0
        # The requests they yielded go to Redis first: acked, a lease's children must be queued.
        self.flush_pushes()
        self.scripts.ack(args=[self.prefix, self.worker, *ids])
        for lease_id in ids:
            self.leases.pop(lease_id, None)
        self._stat("leases/acked", len(ids))
        return len(ids)

    def give_back(self) -> int:
        """Put every lease this worker still holds back in the queue (leaving without finishing them)."""
        returned = int(self.scripts.give_back(args=[self.prefix, self.worker]))
        self.leases.clear()
        self._lease_of.clear()
        if returned:
            self._stat("leases/returned", returned)
        return returned

    # -- heartbeat -----------------------------------------------------------

    def beat(self, busy: bool) -> Beat:
        self.flush_pushes()
        tokens = [f"xfer|{t.slot}|{t.token}" for t in self.transfers.values()]
        tokens += [f"out|{lease.slot}|{lease.id}" for lease in self.leases.values()
                   if lease.share_held]
        reply = self.scripts.beat(args=[
            self.prefix, self.worker, BUSY if busy else IDLE, self.worker_timeout, self.key_ttl,
            self.token_ttl, *tokens,
        ])
        queued, leases, others_busy, activity, requeued, gone, known, now = reply
        activity_text = _text(activity)
        beat = Beat(int(queued), int(leases), bool(int(others_busy)),
                    float(activity_text) if activity_text else None, int(requeued),
                    _text(gone).split(), bool(int(known)), float(_text(now)))
        if beat.requeued:
            self._stat("leases/requeued", beat.requeued)
        return beat

    def seed_role(self) -> tuple[str, str]:
        role, other = self.scripts.seed(args=[self.prefix, self.worker, self.worker_timeout,
                                              self.key_ttl])
        return _text(role), _text(other)

    def mark_seeded(self) -> None:
        self.server.set(self.keys.seeded, self.worker, ex=self.key_ttl)

    def leave(self) -> int:
        """Unregister; returns how many workers remain."""
        pipe = self.server.pipeline(transaction=True)
        pipe.hdel(self.keys.workers, self.worker)
        pipe.zrem(self.keys.key("want"), self.worker)
        pipe.hlen(self.keys.workers)
        *_, remaining = pipe.execute()
        return int(remaining)

    def delete_keys(self) -> int:
        """Delete every key of this crawl (the last worker out of a finished crawl)."""
        keys = list(self.server.scan_iter(match=self.keys.pattern(), count=500))
        if keys:
            self.server.delete(*keys)
        return len(keys)


async def items_stored(crawler: Crawler, timeout: float | None) -> bool:
    """Whether the store has written every item the pipelines handed it so far.

    True without a store (a crawl without our store pipeline: handing items to
    the pipelines is all there is).  ``timeout=None``: the store's close timeout.
    """
    from newsspider.store.store import Store

    store = Store.of_crawler(crawler)
    if store is None:
        return True
    if store.is_open:
        return bool(await store.aflush(timeout))
    # Closed: its last close flushed, journaling what the server did not take.
    return store.journaled == 0


def _engine_inprogress(crawler: Crawler) -> set[Request] | None:
    """The requests the engine is downloading or processing.

    Scrapy has no public view of it: a request leaves this set once its
    response's items have gone through the pipelines and the requests it
    yielded are scheduled — the moment a lease's work is done.
    """
    slot = getattr(crawler.engine, "_slot", None)
    inprogress = getattr(slot, "inprogress", None)
    return inprogress if isinstance(inprogress, set) else None
