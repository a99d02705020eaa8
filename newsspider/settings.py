"""Every newsspider and Scrapy setting, with its default, in one place.

One declaration per setting, with a one-line comment above it:

    # Seconds to wait for the store (embedded or remote) to answer at start.
    NEWSSPIDER_STORE_START_TIMEOUT = _env("NEWSSPIDER_STORE_START_TIMEOUT", 30.0)

``_env(NAME, default)`` reads the environment variable NAME as the default's
type (``True`` boolean, ``3`` whole number, ``30.0`` number, ``""`` text,
``[]`` list, ``{}`` dict) and stops any command with one line and exit code 2
on a value the type does not accept; ``old="NEWSSPIDER_…"`` keeps a renamed
setting's old name working for one release, with a warning
(``newsspider/config.py``).  Scrapy's and its plugins' settings keep their
own names; ``NEWSSPIDER_*`` is for newsspider's own.  A name assigned a plain
value here (``TELNETCONSOLE_ENABLED = False``) is fixed: only ``-s`` changes
it.  Any other Scrapy setting is read from the environment under its own name
(the last line).  Every declared setting is documented in docs/configuration.md.
"""

from __future__ import annotations

from newsspider.config import env as _env
from newsspider.config import removed as _removed
from newsspider.config import scrapy_settings_from_env as _scrapy_settings_from_env

BOT_NAME = "newsspider"
SPIDER_MODULES = ["newsspider.spiders"]
NEWSPIDER_MODULE = "newsspider.spiders"


# --- the store -------------------------------------------------------------
# MongoDB URI; unset = start the embedded nx-27017 store on a free loopback port.
MONGO_URI = _env("MONGO_URI", "")
# Database holding articles, rejects, runs and article_revisions.
MONGO_DATABASE = _env("MONGO_DATABASE", "newsspider")
# Where the embedded store keeps its SQLite files (and the store journal).
NEWSSPIDER_DATA_DIR = _env("NEWSSPIDER_DATA_DIR", "./data")
# Seconds to wait for the store (embedded or remote) to answer at start.
NEWSSPIDER_STORE_START_TIMEOUT = _env("NEWSSPIDER_STORE_START_TIMEOUT", 30.0)

# --- polite, safe crawling defaults -----------------------------------------
# Identify ourselves; operators should put a contact URL in here.
USER_AGENT = _env("USER_AGENT", "newsspider/0.1 (+https://github.com/newsspider/newsspider)",
                  old="NEWSSPIDER_USER_AGENT")
# Obey robots.txt unless an operator decides otherwise.
ROBOTSTXT_OBEY = _env("ROBOTSTXT_OBEY", True, old="NEWSSPIDER_ROBOTSTXT_OBEY")
# Requests in flight at once, overall.
CONCURRENT_REQUESTS = _env("CONCURRENT_REQUESTS", 16, old="NEWSSPIDER_CONCURRENT_REQUESTS")
# Requests in flight at once to one portal host (held: see DOWNLOADER below).
CONCURRENT_REQUESTS_PER_DOMAIN = _env("CONCURRENT_REQUESTS_PER_DOMAIN", 8,
                                      old="NEWSSPIDER_CONCURRENT_REQUESTS_PER_DOMAIN")
# Scrapy's downloader, holding each host to CONCURRENT_REQUESTS_PER_DOMAIN
# (Scrapy 2.19's lets a burst of requests past it; see newsspider/downloader.py).
DOWNLOADER = "newsspider.downloader.Downloader"
# Items of one response processed at once.  Scrapy (2.19, asyncio reactor) starts
# this many asyncio tasks for every response's output, however few items it
# holds; at Scrapy's 100 that was a fifth of a crawl's CPU (an article page
# yields one item); 8 keep a feed's many items flowing.
CONCURRENT_ITEMS = _env("CONCURRENT_ITEMS", 8, old="NEWSSPIDER_CONCURRENT_ITEMS")
# AutoThrottle adapts the delay to the portal's latency.
AUTOTHROTTLE_ENABLED = _env("AUTOTHROTTLE_ENABLED", True, old="NEWSSPIDER_AUTOTHROTTLE")
# AutoThrottle's first delay (seconds).
AUTOTHROTTLE_START_DELAY = _env("AUTOTHROTTLE_START_DELAY", 0.5)
# Requests AutoThrottle aims to have in flight to one host.
AUTOTHROTTLE_TARGET_CONCURRENCY = _env("AUTOTHROTTLE_TARGET_CONCURRENCY", 4.0)
# Transient failures are retried by Scrapy's RetryMiddleware with backoff.
RETRY_ENABLED = True
# Retries of one request after its first try.
RETRY_TIMES = _env("RETRY_TIMES", 3, old="NEWSSPIDER_RETRY_TIMES")
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Seconds one request may take.
DOWNLOAD_TIMEOUT = _env("DOWNLOAD_TIMEOUT", 30.0, old="NEWSSPIDER_DOWNLOAD_TIMEOUT")
# Pages above this size (bytes) are refused (a reject reason, never an out-of-memory).
DOWNLOAD_MAXSIZE = _env("DOWNLOAD_MAXSIZE", 8 * 1024 * 1024, old="NEWSSPIDER_DOWNLOAD_MAXSIZE")
# Pages above this size (bytes) are logged as a warning.
DOWNLOAD_WARNSIZE = _env("DOWNLOAD_WARNSIZE", 2 * 1024 * 1024)
# Redirects followed for one request before it is rejected.
REDIRECT_MAX_TIMES = _env("REDIRECT_MAX_TIMES", 5)
# No telnet console and no RemoteControl extension: both execute code on request.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
EXTENSIONS: dict[str, int | None] = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
}
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
# Least severe log level written.
LOG_LEVEL = _env("LOG_LEVEL", "INFO", old="NEWSSPIDER_LOG_LEVEL",
                 choices=("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"))

ITEM_PIPELINES: dict[str, int] = {}
DOWNLOADER_MIDDLEWARES: dict[str, int | None] = {}
SPIDER_MIDDLEWARES: dict[str, int | None] = {}
# Tracking parameters do not make a new request (see newsspider/fingerprint.py).
REQUEST_FINGERPRINTER_CLASS = "newsspider.fingerprint.CanonicalRequestFingerprinter"

# --- the crawl --------------------------------------------------------------
# Chromium for render=js (default: found on PATH; Debian's package is 'chromium').
NEWSSPIDER_CHROMIUM = _env("NEWSSPIDER_CHROMIUM", "")
# render=js (scrapy-playwright): browser contexts at once.
PLAYWRIGHT_MAX_CONTEXTS = _env("PLAYWRIGHT_MAX_CONTEXTS", 2, old="NEWSSPIDER_JS_MAX_CONTEXTS")
# render=js: pages open at once in one browser context.
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = _env("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT", 4,
                                        old="NEWSSPIDER_JS_MAX_PAGES")
# render=js: milliseconds a page's navigation may take.
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = _env("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT", 30000,
                                             old="NEWSSPIDER_JS_TIMEOUT_MS")
# render=js: browser launch options (JSON) over ours: headless, quiet args, NEWSSPIDER_CHROMIUM.
PLAYWRIGHT_LAUNCH_OPTIONS: dict = _env("PLAYWRIGHT_LAUNCH_OPTIONS", {})
PLAYWRIGHT_BROWSER_TYPE = "chromium"
# Images, fonts, media and styles are not fetched by the browser: text is what we keep.
PLAYWRIGHT_ABORT_REQUEST = "newsspider.runtime.abort_heavy_requests"
# REDIS_URL set = share one crawl between processes through scrapy-redis.
REDIS_URL = _env("REDIS_URL", "")

ITEM_PIPELINES.update(
    {
        # raw_body_html → body_html, body_text, images, fingerprints (one module: pipelines/body.py).
        "newsspider.pipelines.body.BodyPipeline": 100,
        "newsspider.pipelines.validate.ValidatePipeline": 300,
    }
)
# Dropped items are logged by reason, never with their whole body.
LOG_FORMATTER = "newsspider.logformatter.NewsspiderLogFormatter"
# Longest string kept in a reject's copy of the item as scraped.
NEWSSPIDER_REJECT_MAX_FIELD = _env("NEWSSPIDER_REJECT_MAX_FIELD", 262144)
# Seconds between updates of `newsspider crawl`'s progress line on a terminal (0 = none).
NEWSSPIDER_PROGRESS_INTERVAL = _env("NEWSSPIDER_PROGRESS_INTERVAL", 2.0)

# --- the store writer, dedup and runs (newsspider/store, pipelines/dedup.py, pipelines/store.py) ---
# Articles per bulk_write; measured best on nx-27017 around 200-500 (see newsspider/store/bench.py).
NEWSSPIDER_STORE_BATCH_SIZE = _env("NEWSSPIDER_STORE_BATCH_SIZE", 200)
# Seconds an enqueued write may wait before a partial batch is flushed.
NEWSSPIDER_STORE_FLUSH_SECONDS = _env("NEWSSPIDER_STORE_FLUSH_SECONDS", 0.25)
# Writes queued between the pipelines and the writer thread; full = process_item awaits.
NEWSSPIDER_STORE_QUEUE_SIZE = _env("NEWSSPIDER_STORE_QUEUE_SIZE", 1000)
# Writes held in memory while the store is unreachable; beyond, they spill to DATA_DIR/journal.
NEWSSPIDER_STORE_MAX_PENDING = _env("NEWSSPIDER_STORE_MAX_PENDING", 5000)
# Seconds close() keeps retrying an unreachable store before journaling what is left.
NEWSSPIDER_STORE_CLOSE_TIMEOUT = _env("NEWSSPIDER_STORE_CLOSE_TIMEOUT", 30.0)
# Cap of the exponential backoff between write retries during an outage (seconds).
NEWSSPIDER_STORE_RETRY_MAX_DELAY = _env("NEWSSPIDER_STORE_RETRY_MAX_DELAY", 10.0)
# Seconds one write attempt waits for the server before counting as an outage.
NEWSSPIDER_STORE_SERVER_TIMEOUT = _env("NEWSSPIDER_STORE_SERVER_TIMEOUT", 3.0)
# SimHash Hamming distance at or under which two bodies are near duplicates (<= 3: exhaustive).
NEWSSPIDER_NEAR_DUP_DISTANCE = _env("NEWSSPIDER_NEAR_DUP_DISTANCE", 3)
# Recent articles kept in memory for in-run dedup (LRU; about 0.5 KB each).
NEWSSPIDER_DEDUP_INDEX_SIZE = _env("NEWSSPIDER_DEDUP_INDEX_SIZE", 10000)
# Removed (the dedup band filter saved no measurable CPU per article: docs/configuration.md).
_removed("NEWSSPIDER_DEDUP_BAND_FILTER", "the dedup band filter is gone; every item is looked up")
# Write one `runs` document per crawl.
NEWSSPIDER_RUNS_ENABLED = _env("NEWSSPIDER_RUNS_ENABLED", True)
ITEM_PIPELINES.update(
    {
        "newsspider.pipelines.dedup.DedupPipeline": 400,
        "newsspider.pipelines.store.MongoStorePipeline": 500,
    }
)
EXTENSIONS.update({"newsspider.extensions.runs.RunsRecorder": 500})

# --- exports (newsspider/export, docs/exports.md) ---------------------------------
# Seconds a write may be stamped before it is visible (a batch in flight, crawl-host clock skew):
# an incremental export still exports such a late write once (recorded in a new --state file).
NEWSSPIDER_EXPORT_LOOKBACK = _env("NEWSSPIDER_EXPORT_LOOKBACK", 60.0)

# --- deploy: scheduler, Redis scale-out, monitor (scheduler.py, scaleout.py, extensions/monitor.py) ---
# `newsspider schedule`: "portal=CRON;portal=CRON", e.g. "ofweek=*/30 * * * *;zaker=0 * * * *".
NEWSSPIDER_SCHEDULE = _env("NEWSSPIDER_SCHEDULE", "")
# Command run for a due portal (shell words; {portal} is replaced, else the portal is appended).
NEWSSPIDER_SCHEDULE_COMMAND = _env("NEWSSPIDER_SCHEDULE_COMMAND", "")
# Time zone the schedule's cron expressions are read in.
NEWSSPIDER_SCHEDULE_TZ = _env("NEWSSPIDER_SCHEDULE_TZ", "UTC")
# Seconds a stopping scheduler lets running crawls finish (after passing SIGTERM on) before killing.
NEWSSPIDER_SCHEDULE_STOP_TIMEOUT = _env("NEWSSPIDER_SCHEDULE_STOP_TIMEOUT", 60.0)
# Name shared by every worker of one Redis crawl (default: the portal name); keys are newsspider:<id>:*.
NEWSSPIDER_CRAWL_ID = _env("NEWSSPIDER_CRAWL_ID", "")
# Seconds the shared crawl must be idle (empty queue, every worker idle) before the workers stop.
NEWSSPIDER_REDIS_IDLE_SECONDS = _env("NEWSSPIDER_REDIS_IDLE_SECONDS", 10.0)
# Seconds between a worker's heartbeats in Redis.
NEWSSPIDER_REDIS_HEARTBEAT_SECONDS = _env("NEWSSPIDER_REDIS_HEARTBEAT_SECONDS", 0.5)
# Seconds without a heartbeat after which a worker counts as gone (crashed or killed): its leased requests are requeued.
NEWSSPIDER_REDIS_WORKER_TIMEOUT = _env("NEWSSPIDER_REDIS_WORKER_TIMEOUT", 60.0)
# Seconds a silent worker's share of a host's politeness budget stays taken (renewed by its heartbeats).
NEWSSPIDER_REDIS_LEASE_SECONDS = _env("NEWSSPIDER_REDIS_LEASE_SECONDS", 10.0)
# Seconds an abandoned crawl's Redis keys live (refreshed by every heartbeat; a finished crawl deletes them).
NEWSSPIDER_REDIS_KEY_TTL = _env("NEWSSPIDER_REDIS_KEY_TTL", 86400)
# Health checks at the end of every crawl; a failed one makes `scrapy crawl` and `newsspider crawl` exit 1.
NEWSSPIDER_MONITOR_ENABLED = _env("NEWSSPIDER_MONITOR_ENABLED", True)
# Fewest articles a run must see (scraped + already stored); 0 switches the check off.
NEWSSPIDER_MONITOR_MIN_ITEMS = _env("NEWSSPIDER_MONITOR_MIN_ITEMS", 1)
# Most ERROR log lines per downloaded response.
NEWSSPIDER_MONITOR_MAX_ERROR_RATIO = _env("NEWSSPIDER_MONITOR_MAX_ERROR_RATIO", 0.1)
# Most rejected items per item the spider yielded.
NEWSSPIDER_MONITOR_MAX_REJECT_RATIO = _env("NEWSSPIDER_MONITOR_MAX_REJECT_RATIO", 0.25)
# Finish reasons that count as a healthy end (comma-separated).
NEWSSPIDER_MONITOR_FINISH_REASONS = _env(
    "NEWSSPIDER_MONITOR_FINISH_REASONS", "finished,closespider_itemcount"
)
# Before RunsRecorder (500), so its `runs` document carries the checks' outcome.
EXTENSIONS.update({"newsspider.extensions.monitor.CrawlMonitor": 400})

# --- coverage, drift checks and alerts (monitor/, extensions/monitor.py; docs/monitoring.md) ---
# A field's coverage may fall at most this far below the median of the portal's healthy runs.
NEWSSPIDER_MONITOR_MAX_COVERAGE_DROP = _env("NEWSSPIDER_MONITOR_MAX_COVERAGE_DROP", 0.3)
# Healthy runs of the portal whose median coverage is the baseline.
NEWSSPIDER_MONITOR_BASELINE_RUNS = _env("NEWSSPIDER_MONITOR_BASELINE_RUNS", 5)
# Fewest stored articles for optional fields' coverage to be judged (and for a run to count in a baseline).
NEWSSPIDER_MONITOR_MIN_COVERAGE_ARTICLES = _env("NEWSSPIDER_MONITOR_MIN_COVERAGE_ARTICLES", 3)
# Least share of articles whose title, date and body the declared selectors must find (0 = off).
NEWSSPIDER_MONITOR_SELECTOR_FLOOR = _env("NEWSSPIDER_MONITOR_SELECTOR_FLOOR", 0.5)
# Your own spidermon MonitorSuite classes (comma-separated import paths), run beside ours.
NEWSSPIDER_MONITOR_SUITES = _env("NEWSSPIDER_MONITOR_SUITES", "")
# Webhooks told when a run fails a check and when a portal recovers (comma-separated URLs).
NEWSSPIDER_ALERT_WEBHOOKS = _env("NEWSSPIDER_ALERT_WEBHOOKS", "")
# Seconds all alerts of a run may take together, retries included (the crawl's exit waits no longer).
NEWSSPIDER_ALERT_TIMEOUT = _env("NEWSSPIDER_ALERT_TIMEOUT", 5.0)
# Retries of a webhook that timed out or answered a server error, within NEWSSPIDER_ALERT_TIMEOUT.
NEWSSPIDER_ALERT_RETRIES = _env("NEWSSPIDER_ALERT_RETRIES", 2)

# --- the body stage & images (newsspider/normalize, pipelines/body.py, download.py) ---
# Extra image proxy wrappers to unwrap, comma-separated: "host/path?" (the whole query is the
# original URL) or "host/path?param" (the param's value is); host "*" = any host.
NEWSSPIDER_IMAGE_PROXIES = _env("NEWSSPIDER_IMAGE_PROXIES", "")
# Extra regexes (comma-separated) for placeholder image file names (last path segment).
NEWSSPIDER_IMAGE_PLACEHOLDERS = _env("NEWSSPIDER_IMAGE_PLACEHOLDERS", "")
# Longest summary taken from the first paragraph when the listing gave none.
NEWSSPIDER_SUMMARY_MAX_CHARS = _env("NEWSSPIDER_SUMMARY_MAX_CHARS", 200)
# Niceness of the crawl's helper process (the embedded store): the crawl process goes first.
NEWSSPIDER_HELPER_NICE = _env("NEWSSPIDER_HELPER_NICE", 5)
# Download body images into this store (a path or s3://bucket/prefix); empty = off.
IMAGES_STORE = _env("IMAGES_STORE", "", old="NEWSSPIDER_IMAGES_STORE")
# Rewrite body <img src> to this base URL + stored path; empty = keep the original URLs.
NEWSSPIDER_IMAGES_BASE_URL = _env("NEWSSPIDER_IMAGES_BASE_URL", "")
# Let image downloads reach loopback/private/link-local addresses (turns the SSRF guard off).
NEWSSPIDER_IMAGES_ALLOW_PRIVATE = _env("NEWSSPIDER_IMAGES_ALLOW_PRIVATE", False)
ITEM_PIPELINES.update({"newsspider.pipelines.body.BodyPipeline": 100})
# ImageDownloadPipeline (250) is added per crawl when IMAGES_STORE is set
# (newsspider.runtime.configure_crawler), so crawls without it log no "Disabled" warning.

# --- feed spider & render=js (spiders/feed.py, extract/feed.py, extract/auto.py, runtime.py) ---
# Feed/sitemap documents the `feed` spider walks (index + children, RFC 5005 pages) unless -a max_pages.
NEWSSPIDER_FEED_MAX_DOCUMENTS = _env("NEWSSPIDER_FEED_MAX_DOCUMENTS", 20)
# Text characters a feed entry's content:encoded/Atom content needs to be taken as the whole article.
NEWSSPIDER_FEED_FULL_CONTENT_CHARS = _env("NEWSSPIDER_FEED_FULL_CONTENT_CHARS", 300)
# Largest decompressed size of a gzipped sitemap (bytes).
NEWSSPIDER_FEED_MAX_SITEMAP_BYTES = _env("NEWSSPIDER_FEED_MAX_SITEMAP_BYTES", 50 * 1024 * 1024)
# render=js: after `load`, wait at most this long (ms) for the page to stop fetching; 0 = don't.
NEWSSPIDER_JS_SETTLE_MS = _env("NEWSSPIDER_JS_SETTLE_MS", 3000)
# Project scrapy commands: `scrapy crawl` checks spider arguments and Chromium before starting.
COMMANDS_MODULE = "newsspider.commands"

# --- faults & recovery (downloadermiddlewares/retry.py, spiders/base.py) ---
# Cut-short bodies (Content-Length mismatch) fail and are retried, never stored half.
DOWNLOAD_FAIL_ON_DATALOSS = True
# Seconds before the first retry of a failed page; doubled for each further retry.
NEWSSPIDER_RETRY_BACKOFF_BASE = _env("NEWSSPIDER_RETRY_BACKOFF_BASE", 0.5)
# Longest wait before one retry (also caps a portal's Retry-After).
NEWSSPIDER_RETRY_BACKOFF_MAX = _env("NEWSSPIDER_RETRY_BACKOFF_MAX", 10.0)
# Scrapy's retry and redirect, plus backoff and redirect-loop detection (same settings, same stats).
DOWNLOADER_MIDDLEWARES.update(
    {
        "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
        "newsspider.downloadermiddlewares.retry.BackoffRetryMiddleware": 550,
        "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
        "newsspider.downloadermiddlewares.retry.LoopSafeRedirectMiddleware": 600,
    }
)
# A crawl that did not finish (killed, stopped, a listing page lost) is resumed by the next run:
# it walks past listing pages whose articles are all stored (kept in the `crawl_state` collection).
NEWSSPIDER_RESUME_ENABLED = _env("NEWSSPIDER_RESUME_ENABLED", True)
# Hours after first seen during which an incremental crawl re-fetches a stored article when due (0 = never).
NEWSSPIDER_REVISIT_HOURS = _env("NEWSSPIDER_REVISIT_HOURS", 48.0)


# --- the dashboard (newsspider/web, `newsspider web`) ---
# Token every dashboard page requires (Bearer header or the login form); needed to bind beyond loopback.
NEWSSPIDER_WEB_TOKEN = _env("NEWSSPIDER_WEB_TOKEN", "")
# Rows per page of the dashboard's run and article lists.
NEWSSPIDER_WEB_PAGE_SIZE = _env("NEWSSPIDER_WEB_PAGE_SIZE", 50)

# --- safety: SSRF guard, document sizes (netguard.py, pipelines/validate.py; docs/safety.md) ---
# Every http(s) download goes through the guard's handler; only the requests it marks (image
# downloads and what follows from them: redirects, meta refresh, robots.txt) dial public addresses only.
DOWNLOAD_HANDLERS = {
    "http": "newsspider.netguard.GuardedDownloadHandler",
    "https": "newsspider.netguard.GuardedDownloadHandler",
}
# Private addresses image downloads may still reach, comma-separated IP or IP:port (e.g. an internal image server).
NEWSSPIDER_IMAGES_ALLOW_ADDRESSES = _env("NEWSSPIDER_IMAGES_ALLOW_ADDRESSES", "")
# Handler of the portal's own pages behind the guard (empty = Scrapy's HTTP/1.1; render=js sets scrapy-playwright's).
NEWSSPIDER_GUARD_PAGE_HANDLER = _env("NEWSSPIDER_GUARD_PAGE_HANDLER", "")
# Largest article document (BSON bytes) sent to the store; larger ones are rejected (MongoDB: 16 MiB).
NEWSSPIDER_MAX_DOCUMENT_BYTES = _env("NEWSSPIDER_MAX_DOCUMENT_BYTES", 16 * 1024 * 1024 - 64 * 1024)
# Marks robots.txt fetched for a guarded request's host; before OffsiteMiddleware (50) and RobotsTxtMiddleware (100).
DOWNLOADER_MIDDLEWARES.update({"newsspider.netguard.GuardMiddleware": 40})

# --- removed settings: still given, each is ignored with a warning naming it (config.removed) ---
_removed("NEWSSPIDER_BODY_WORKERS", "bodies are processed in the crawl process (a worker process "
         "cost a second interpreter and ~35 MB for no measurable gain; docs/benchmarks.md)")
_removed("NEWSSPIDER_GC_THRESHOLD", "the garbage collector keeps Python's settings (freezing start-up "
         "objects saved 0.15 % of a crawl's instructions; docs/benchmarks.md)")

# --- every other Scrapy and scrapy-playwright setting ---------------------------
# From the environment under its own name (DOWNLOAD_DELAY=2, JOBDIR=crawls/1, HTTPCACHE_ENABLED=1),
# typed as Scrapy's default; names assigned above and credentials are not read this way.
globals().update(_scrapy_settings_from_env(globals()))
