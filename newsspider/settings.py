"""Every newsspider and Scrapy setting, with its default, in one place.

Each setting may also be given in the environment under the same name
(``MONGO_URI=… scrapy crawl ofweek``); :func:`_env` is the only place outside
the CLI that reads the environment.  Values from the environment are strings;
components read them with Scrapy's typed getters (``getint``, ``getbool``…).
"""

from __future__ import annotations

import os
from typing import Any

BOT_NAME = "newsspider"
SPIDER_MODULES = ["newsspider.spiders"]
NEWSPIDER_MODULE = "newsspider.spiders"

_ENV_PREFIXES = ("NEWSSPIDER_", "MONGO_", "REDIS_")


def _env(name: str, default: Any) -> Any:
    """The environment's value for ``name`` when set, else ``default``."""
    return os.environ.get(name, default)


# --- the store -------------------------------------------------------------
# MongoDB URI; unset = start the embedded nx-27017 store on a free loopback port.
MONGO_URI = _env("MONGO_URI", "")
# Database holding articles, rejects, runs and article_revisions.
MONGO_DATABASE = _env("MONGO_DATABASE", "newsspider")
# Where the embedded store keeps its SQLite files (and the store journal).
NEWSSPIDER_DATA_DIR = _env("NEWSSPIDER_DATA_DIR", "./data")
# Seconds to wait for the store (embedded or remote) to answer at start.
NEWSSPIDER_STORE_START_TIMEOUT = float(_env("NEWSSPIDER_STORE_START_TIMEOUT", 30))

# --- polite, safe crawling defaults -----------------------------------------
# Identify ourselves; operators should put a contact URL in here.
USER_AGENT = _env(
    "NEWSSPIDER_USER_AGENT",
    "newsspider/0.1 (+https://github.com/newsspider/newsspider)",
)
# Obey robots.txt unless an operator decides otherwise.
ROBOTSTXT_OBEY = str(_env("NEWSSPIDER_ROBOTSTXT_OBEY", "true")).lower() in ("1", "true", "yes")
# Concurrency overall and per portal host.
CONCURRENT_REQUESTS = int(_env("NEWSSPIDER_CONCURRENT_REQUESTS", 16))
CONCURRENT_REQUESTS_PER_DOMAIN = int(_env("NEWSSPIDER_CONCURRENT_REQUESTS_PER_DOMAIN", 8))
# AutoThrottle adapts the delay to the portal's latency.
AUTOTHROTTLE_ENABLED = str(_env("NEWSSPIDER_AUTOTHROTTLE", "true")).lower() in ("1", "true", "yes")
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
# Transient failures are retried by Scrapy's RetryMiddleware with backoff.
RETRY_ENABLED = True
RETRY_TIMES = int(_env("NEWSSPIDER_RETRY_TIMES", 3))
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
DOWNLOAD_TIMEOUT = int(_env("NEWSSPIDER_DOWNLOAD_TIMEOUT", 30))
# Pages above this size are refused (a reject reason, never an out-of-memory).
DOWNLOAD_MAXSIZE = int(_env("NEWSSPIDER_DOWNLOAD_MAXSIZE", 8 * 1024 * 1024))
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
REDIRECT_MAX_TIMES = 5
# No telnet console and no RemoteControl extension: both execute code on request.
TELNETCONSOLE_ENABLED = False
EXTENSIONS: dict[str, int | None] = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.remotecontrol.RemoteControl": None,
}
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = _env("NEWSSPIDER_LOG_LEVEL", "INFO")

ITEM_PIPELINES: dict[str, int] = {}
DOWNLOADER_MIDDLEWARES: dict[str, int | None] = {}
SPIDER_MIDDLEWARES: dict[str, int | None] = {}
# Tracking parameters do not make a new request (see newsspider/fingerprint.py).
REQUEST_FINGERPRINTER_CLASS = "newsspider.fingerprint.CanonicalRequestFingerprinter"

# --- the crawl --------------------------------------------------------------
# Chromium for render=js (default: found on PATH; Debian's package is 'chromium').
NEWSSPIDER_CHROMIUM = _env("NEWSSPIDER_CHROMIUM", "")
# Browser limits for render=js: contexts, pages per context, navigation timeout (ms).
NEWSSPIDER_JS_MAX_CONTEXTS = int(_env("NEWSSPIDER_JS_MAX_CONTEXTS", 2))
NEWSSPIDER_JS_MAX_PAGES = int(_env("NEWSSPIDER_JS_MAX_PAGES", 4))
NEWSSPIDER_JS_TIMEOUT_MS = int(_env("NEWSSPIDER_JS_TIMEOUT_MS", 30000))
# REDIS_URL set = share one crawl between processes through scrapy-redis.
REDIS_URL = _env("REDIS_URL", "")

ITEM_PIPELINES.update(
    {
        "newsspider.pipelines.images.ImageResolvePipeline": 100,
        "newsspider.pipelines.normalize.NormalizePipeline": 200,
        "newsspider.pipelines.validate.ValidatePipeline": 300,
    }
)
# Dropped items are logged by reason, never with their whole body.
LOG_FORMATTER = "newsspider.logformatter.NewsspiderLogFormatter"
# Longest string kept in a reject's copy of the item as scraped.
NEWSSPIDER_REJECT_MAX_FIELD = int(_env("NEWSSPIDER_REJECT_MAX_FIELD", 262144))
# Seconds between progress lines of `newsspider crawl` (0 = none).
NEWSSPIDER_PROGRESS_INTERVAL = float(_env("NEWSSPIDER_PROGRESS_INTERVAL", 2))

# --- the store writer, dedup and runs (newsspider/store, pipelines/dedup.py, pipelines/store.py) ---
# Articles per bulk_write; measured best on nx-27017 around 200-500 (see newsspider/store/bench.py).
NEWSSPIDER_STORE_BATCH_SIZE = int(_env("NEWSSPIDER_STORE_BATCH_SIZE", 200))
# Seconds an enqueued write may wait before a partial batch is flushed.
NEWSSPIDER_STORE_FLUSH_SECONDS = float(_env("NEWSSPIDER_STORE_FLUSH_SECONDS", 2))
# Writes queued between the pipelines and the writer thread; full = process_item awaits.
NEWSSPIDER_STORE_QUEUE_SIZE = int(_env("NEWSSPIDER_STORE_QUEUE_SIZE", 1000))
# Writes held in memory while the store is unreachable; beyond, they spill to DATA_DIR/journal.
NEWSSPIDER_STORE_MAX_PENDING = int(_env("NEWSSPIDER_STORE_MAX_PENDING", 5000))
# Seconds close() keeps retrying an unreachable store before journaling what is left.
NEWSSPIDER_STORE_CLOSE_TIMEOUT = float(_env("NEWSSPIDER_STORE_CLOSE_TIMEOUT", 30))
# Cap of the exponential backoff between write retries during an outage (seconds).
NEWSSPIDER_STORE_RETRY_MAX_DELAY = float(_env("NEWSSPIDER_STORE_RETRY_MAX_DELAY", 10))
# Seconds one write attempt waits for the server before counting as an outage.
NEWSSPIDER_STORE_SERVER_TIMEOUT = float(_env("NEWSSPIDER_STORE_SERVER_TIMEOUT", 3))
# SimHash Hamming distance at or under which two bodies are near duplicates (<= 3: exhaustive).
NEWSSPIDER_NEAR_DUP_DISTANCE = int(_env("NEWSSPIDER_NEAR_DUP_DISTANCE", 3))
# Recent articles kept in memory for in-run dedup (LRU; about 0.5 KB each).
NEWSSPIDER_DEDUP_INDEX_SIZE = int(_env("NEWSSPIDER_DEDUP_INDEX_SIZE", 50000))
# Write one `runs` document per crawl.
NEWSSPIDER_RUNS_ENABLED = str(_env("NEWSSPIDER_RUNS_ENABLED", "true")).lower() in ("1", "true", "yes")
ITEM_PIPELINES.update(
    {
        "newsspider.pipelines.dedup.DedupPipeline": 400,
        "newsspider.pipelines.store.MongoStorePipeline": 500,
    }
)
EXTENSIONS.update({"newsspider.extensions.runs.RunsRecorder": 500})
