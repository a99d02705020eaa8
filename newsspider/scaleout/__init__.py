"""One crawl shared by N processes on N machines through Redis: fair, polite, and losing nothing.

``REDIS_URL`` set: :func:`scale_out_settings` switches a crawl to scrapy-redis's
scheduler and dupefilter (our subclasses), with a queue class of our own, and
adds the pieces below.  Every worker (process) runs the same spider; the
crawl's state lives in Redis under ``newsspider:<crawl id>:``.

How it works, and why:

* **A request taken is leased, not destroyed** (:mod:`.scheduler`, :mod:`.lua`).
  scrapy-redis's queues pop (``ZRANGE`` + ``ZREMRANGEBYRANK``): a worker that
  dies loses what it popped.  Ours is the reliable-queue pattern: one Lua
  script moves the entry from the queue into the worker's own hash
  ``…:leased:<worker>``, where it stays until the worker acks it — when the
  request has left Scrapy's engine (its items went through every pipeline,
  the requests it yielded are queued) *and* the crawler's store has flushed,
  so the items are in MongoDB, not only in the writer's batch.  A worker
  silent for ``NEWSSPIDER_REDIS_WORKER_TIMEOUT`` is gone: the next heartbeat
  of any other worker moves its leases back to the queue, with their
  priority.  On SIGTERM a worker finishes what it holds (Scrapy's graceful
  stop), acks it, and leaves the rest queued; what the store may not have
  (flush timed out, store unreachable) goes back to the queue at close.
  Redirects and retries are new requests, queued before their original is
  acked.  A ``dont_filter`` request a lease's response yields (a continuation
  page; likewise a retry, a start request) carries a repeat key naming that
  lease (:class:`.ParentMiddleware`), so a lease crawled a second time does not
  queue it again.  So a page is fetched at most twice unless two workers die
  with it.

* **Fair share: a worker takes a request only when it can download it now.**
  The queue is one priority queue per host slot (``…:queue:<slot>``, indexed
  by ``…:queue``); the take script walks the slots best-priority first and
  takes from the first where (a) the crawl has fewer than the host's limit
  of requests taken and not yet downloaded (``…:out:<slot>``), and (b) this
  worker holds fewer than ``ceil(limit / wanting)`` of them, ``wanting``
  being the workers that asked in the last ``max(1 s, 2 heartbeats)`` —
  work-conserving: a lone worker may use the whole limit, and a worker that
  joins gets its share as soon as the others' downloads end.  The scheduler
  asks at all only while the worker has fewer than ``CONCURRENT_REQUESTS``
  requests downloading or being processed (a worker behind on parsing
  leaves the queue to the others), and asks again after ~50 ms when the
  budget was taken (nothing else would wake it).  Without this, Scrapy's
  engine pulls ``CONCURRENT_REQUESTS`` requests the moment they are queued,
  and the worker that parses a listing page takes all its articles.
  It takes what it may in one script (a batch), and queues requests in one
  script per reactor turn (checking the dupefilter's set there): on a loaded
  host each synchronous round trip on the reactor cost milliseconds.

* **One politeness budget for the crawl** (:mod:`newsspider.downloader`).
  Just before a download starts, the downloader asks Redis for one of the
  host's transfer tokens (``…:xfer:<slot>``, at most
  ``CONCURRENT_REQUESTS_PER_DOMAIN`` crawl-wide) and for its turn: the
  host's next request may not start before ``…:next`` (the delay,
  ``DOWNLOAD_DELAY`` or AutoThrottle's, after the last one left;
  ``DOWNLOAD_DELAY_JITTER`` only ever lengthens it).  A granted turn stays
  pending (``…:pending``) until its worker confirms, at the start of the
  reactor pass that writes the request, and the next turn counts from that
  confirmation — counted from the grant, a busy reactor sent some requests
  tens of milliseconds late, and the portal saw 48 ms between two workers'
  requests at a 100 ms delay.  A refused download waits and asks again,
  awaiting an asyncio client, not blocking the reactor (stats
  ``newsspider/scaleout/politeness/*``).  The gate is at the transfer, not at
  the take, because the gap must hold where the portal sees it, and because
  requests Scrapy makes itself (robots.txt, media pipelines) never pass
  through the queue: a worker whose taken requests wait for robots.txt must
  still be able to fetch it.  Tokens are sorted-set members scored by their
  expiry; the holder renews them every heartbeat, so a dead worker's share
  of the budget is free again after ``NEWSSPIDER_REDIS_LEASE_SECONDS``.
  With AutoThrottle on, Scrapy's extension is off; each download's latency
  adjusts the host's one delay in Redis (``…:delay``) by AutoThrottle's own
  formula, in the script that returns the token.  The crawl's limit and
  delay are the first worker's settings (``…:budget``); a worker started
  with others logs a warning.  The budget is per Scrapy download slot: the
  host name, or the ``download_slot`` meta.

* **Seeded once, even if the seeder dies** (:mod:`.seed`), **finished only
  when nothing is queued or leased anywhere** and every worker has been idle
  for ``NEWSSPIDER_REDIS_IDLE_SECONDS`` (:mod:`.coordinator`).

Keys (``<id>`` = ``NEWSSPIDER_CRAWL_ID`` or the spider name, prefix
``newsspider:<id>:``): ``queue`` (slot → best score), ``queue:<slot>`` (entries:
12-digit id + the scrapy-redis-encoded request, score ``-priority``), ``seq``
(entry ids), ``leased:<worker>`` (id → score, slot, entry), ``out:<slot>`` and
``xfer:<slot>`` (``worker|token`` → expiry), ``want`` (worker → last ask),
``budget``, ``delay``, ``next``, ``pending`` (per slot), ``slots`` (every slot
seen), ``dupefilter`` (fingerprints), ``repeats`` (repeat keys),
``seed``/``seeded``, ``workers`` (worker →
``<time> busy|idle``), ``activity`` (last busy heartbeat).  Every heartbeat
renews their expiry (``NEWSSPIDER_REDIS_KEY_TTL``); the last worker out of a
finished crawl deletes them.  One Redis server (the scripts compute key
names, so not a Redis Cluster).

Cost: per request, a share of one script that queues a batch and of one
that takes a batch (synchronous on the reactor, as scrapy-redis's calls
are), one awaited script before and one after its download, and with a
delay one more synchronous script to confirm its turn; every heartbeat one
script, every second an ack.  Measured: ``make bench``'s
``scaleout_plain_vs_shared_1`` and docs/scaling.md.

Settings read: ``REDIS_URL``, ``NEWSSPIDER_CRAWL_ID``,
``NEWSSPIDER_REDIS_IDLE_SECONDS``, ``NEWSSPIDER_REDIS_HEARTBEAT_SECONDS``,
``NEWSSPIDER_REDIS_WORKER_TIMEOUT``, ``NEWSSPIDER_REDIS_LEASE_SECONDS``,
``NEWSSPIDER_REDIS_KEY_TTL``, and Scrapy's ``CONCURRENT_REQUESTS``,
``CONCURRENT_REQUESTS_PER_DOMAIN``, ``DOWNLOAD_DELAY``,
``DOWNLOAD_DELAY_JITTER``, ``DOWNLOAD_SLOTS``, ``AUTOTHROTTLE_*``.  Written by
:func:`scale_out_settings`: scrapy-redis's ``SCHEDULER*`` and
``DUPEFILTER_CLASS``, ``EXTENSIONS``, ``SPIDER_MIDDLEWARES``.

Stats (``newsspider/scaleout/…``): ``seeded``, ``joined``, ``reseeded``,
``wakeups``, ``keys_deleted``, ``redis_errors``, ``workers_gone``;
``queue/host_full``, ``queue/share_used`` (a take refused: the host's limit,
or this worker's share, was taken); ``leases/taken``, ``…/acked``,
``…/ack_deferred``, ``…/requeued``, ``…/returned``;
``politeness/waits/concurrency``, ``politeness/waits/delay`` (a download held
back, by reason), ``politeness/wait_ms`` (total), ``politeness/delay_ms``
(the host's shared delay last seen).
"""

from __future__ import annotations

from scrapy.settings import BaseSettings

from newsspider.scaleout.coordinator import ScaleOutCoordinator
from newsspider.scaleout.crawl import SHARED_SCHEDULER, SharedCrawl
from newsspider.scaleout.keys import KEY_PREFIX, CrawlKeys, crawl_keys, worker_id
from newsspider.scaleout.scheduler import (
    LeasedQueue,
    ParentMiddleware,
    SharedDupeFilter,
    SharedScheduler,
)
from newsspider.scaleout.seed import SeedOnceMiddleware

__all__ = [
    "CrawlKeys",
    "LeasedQueue",
    "ParentMiddleware",
    "ScaleOutCoordinator",
    "SeedOnceMiddleware",
    "SharedCrawl",
    "SharedDupeFilter",
    "SharedScheduler",
    "crawl_keys",
    "scale_out_settings",
    "worker_id",
]


def scale_out_settings(settings: BaseSettings, redis_url: str) -> None:
    """Switch a crawler to the shared Redis crawl (called before the settings freeze)."""
    crawl_id = settings.get("NEWSSPIDER_CRAWL_ID") or "%(spider)s"
    set_ = settings.set
    set_("SCHEDULER", SHARED_SCHEDULER, priority="spider")
    set_("SCHEDULER_QUEUE_CLASS", "newsspider.scaleout.LeasedQueue", priority="spider")
    set_("DUPEFILTER_CLASS", "newsspider.scaleout.SharedDupeFilter", priority="spider")
    set_("REDIS_URL", redis_url, priority="spider")
    set_("SCHEDULER_QUEUE_KEY", f"{KEY_PREFIX}:{crawl_id}:queue", priority="spider")
    set_("SCHEDULER_DUPEFILTER_KEY", f"{KEY_PREFIX}:{crawl_id}:dupefilter", priority="spider")
    # Never let one worker's close flush the queue the others still work on:
    # the last worker out deletes the keys (ScaleOutCoordinator).
    set_("SCHEDULER_PERSIST", True, priority="spider")
    set_("SCHEDULER_FLUSH_ON_START", False, priority="spider")
    # 0 = non-blocking takes; a blocking pop would freeze the reactor.
    set_("SCHEDULER_IDLE_BEFORE_CLOSE", 0, priority="spider")
    extensions = dict(settings.getdict("EXTENSIONS"))
    extensions["newsspider.scaleout.ScaleOutCoordinator"] = 100
    # The downloader adapts the crawl's one delay per host instead (newsspider.downloader).
    extensions["scrapy.extensions.throttle.AutoThrottle"] = None
    set_("EXTENSIONS", extensions, priority="spider")
    middlewares = dict(settings.getdict("SPIDER_MIDDLEWARES"))
    middlewares["newsspider.scaleout.SeedOnceMiddleware"] = 10
    # Last on a response's way out (lowest order): it sees every request the engine gets.
    middlewares["newsspider.scaleout.ParentMiddleware"] = 5
    set_("SPIDER_MIDDLEWARES", middlewares, priority="spider")
