"""The store: one MongoDB connection (and bulk writer) per crawler, shared by every component.

``Store.for_crawler(crawler)`` returns the crawler's store, creating it on
first use; the dedup and store pipelines, the runs extension and the spider
(incremental crawling via :meth:`Store.known_ids` / :meth:`Store.known_articles`) all get
the same object.
Outside Scrapy (the CLI, benchmarks) build one with ``Store(uri=…)`` or
:meth:`Store.from_settings`.

``open()`` and ``close()`` are reference-counted: every component that opens
the store closes it once, and the last close flushes the writer, closes the
client and stops the embedded server if this store started it.  Components
may call them in any order; an ``engine_stopped`` handler closes whatever is
left open.

When ``MONGO_URI`` is empty the embedded nx-27017 server is started on a free
loopback port with its data in ``NEWSSPIDER_DATA_DIR/store``; its URI is
logged (credentials are always redacted in logs, see :func:`redact_uri`).
Writes that cannot reach the store are journaled under
``NEWSSPIDER_DATA_DIR/journal/<database>/`` and replayed at the next open.

Settings read: ``MONGO_URI``, ``MONGO_DATABASE``, ``NEWSSPIDER_DATA_DIR``,
``NEWSSPIDER_STORE_START_TIMEOUT``, ``NEWSSPIDER_STORE_BATCH_SIZE``,
``NEWSSPIDER_STORE_FLUSH_SECONDS``, ``NEWSSPIDER_STORE_QUEUE_SIZE``,
``NEWSSPIDER_STORE_MAX_PENDING``, ``NEWSSPIDER_STORE_CLOSE_TIMEOUT``,
``NEWSSPIDER_STORE_RETRY_MAX_DELAY``, ``NEWSSPIDER_STORE_SERVER_TIMEOUT``.

Stats written: ``newsspider/store/journaled`` (writes left in the journal at
close, and after :meth:`Store.settle`), ``newsspider/store/unavailable`` (1
when the store did not answer at open) plus the writer's (see
:mod:`newsspider.store.writer`).  When the writer raises an alarm (the store
is down and the journal cannot be written, or the writer thread died) the
crawl this store serves is closed with that finish reason.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from pymongo import ASCENDING, IndexModel, MongoClient
from pymongo.errors import PyMongoError

from newsspider.store.embedded import EmbeddedStore, StoreStartError
from newsspider.store.journal import Journal
from newsspider.store.listing import ARTICLE_KEYS, mark_complete
from newsspider.store.nx27017 import CONNECT_ERRORS, is_nx27017, keyset_index
from newsspider.store.values import json_safe
from newsspider.store.writer import (
    ARTICLE,
    DEDUP_KEYS,
    MERGE,
    REJECT,
    RUN,
    SIMHASH_BANDS,
    Op,
    StoreWriter,
    on_reactor,
)

if TYPE_CHECKING:
    from pymongo.database import Database
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

ARTICLES, REJECTS, RUNS, REVISIONS = "articles", "rejects", "runs", "article_revisions"
# A duplicate URL -> the article it was merged into (see writer._alias_upserts).
URL_ALIASES = "url_aliases"
# Near-duplicate lookup keys: ``_id`` = one 16-bit SimHash band ("0:1a2b"),
# ``refs`` = ["<simhash>|<url>", …] of the stored bodies with that band.  Keyed
# by ``_id`` because nx-27017 answers any other query shape — a scalar ``$in``,
# an array field, ``$or`` — with a full scan (176 ms at 20k articles), while an
# ``_id`` ``$in`` is an index lookup on nx-27017 and MongoDB alike: one query
# serves a whole batch of items (newsspider.pipelines.dedup).  DEDUP_KEYS
# (= "dedup_keys") and SIMHASH_BANDS (4) are defined by the writer, which fills it.
# Each entry a field, or a tuple of fields for a compound index (all ascending).
# The ``list_key``/``k`` ones serve the dashboard's keyset pages
# (newsspider.store.listing): one filter's equality fields, then the key.
IndexSpec = str | tuple[str, ...]
INDEXES: dict[str, tuple[IndexSpec, ...]] = {
    ARTICLES: ("published_at", "portal", "content_hash", "simhash", "first_seen_at"),
    REJECTS: ("portal", "at", "list_key", ("portal", "list_key"), ("reason", "list_key"),
              ("portal", "reason", "list_key")),
    RUNS: ("portal", "started_at", ("portal", "started_at"), "list_key", ("portal", "list_key"),
           ("status", "list_key"), ("portal", "status", "list_key")),
    ARTICLE_KEYS: ("k",),
}
# Read in ``(field, _id)`` order by keyset pagination: "articles changed since T"
# (newsspider.export.source.iter_changes, docs/exports.md).
KEYSET_INDEXES: dict[str, tuple[str, ...]] = {ARTICLES: ("updated_at",)}


def index_model(spec: IndexSpec) -> IndexModel:
    fields = (spec,) if isinstance(spec, str) else spec
    return IndexModel([(name, ASCENDING) for name in fields])
KNOWN_IDS_CHUNK = 500

# URI options shown as given in a redacted URI; every other option's value is
# hidden — authMechanismProperties (AWS_SESSION_TOKEN…), tlsCertificateKeyFilePassword,
# proxyPassword, and any option pymongo does not know (it may be mistyped credentials).
_PLAIN_OPTIONS = frozenset(name.lower() for name in (
    "appName", "authMechanism", "authSource", "compressors", "connect", "connectTimeoutMS",
    "directConnection", "heartbeatFrequencyMS", "journal", "loadBalanced", "localThresholdMS",
    "maxConnecting", "maxIdleTimeMS", "maxPoolSize", "maxStalenessSeconds", "minPoolSize",
    "readConcernLevel", "readPreference", "readPreferenceTags", "replicaSet", "retryReads",
    "retryWrites", "serverMonitoringMode", "serverSelectionTimeoutMS", "serverSelectionTryOnce",
    "socketTimeoutMS", "srvMaxHosts", "srvServiceName", "ssl", "timeoutMS", "tls",
    "tlsAllowInvalidCertificates", "tlsAllowInvalidHostnames", "tlsCAFile",
    "tlsCertificateKeyFile", "tlsDisableOCSPEndpointCheck", "tlsInsecure", "uuidRepresentation",
    "w", "waitQueueTimeoutMS", "wTimeoutMS", "zlibCompressionLevel",
))
REDACTED = "REDACTED"


class StoreUnavailable(RuntimeError):
    """The store did not answer at open; the message names the (redacted) URI."""


def redact_uri(uri: str) -> str:
    """``uri`` safe to log: what pymongo reads as a credential never shows.

    The URI is parsed by pymongo's own parser (never by ``urllib``, which
    reads a ``#`` or ``?`` in a password as the end of the user info) and
    rebuilt from what it found: user info as ``REDACTED@``, the hosts, the
    database, and the options, each value hidden unless the option is in
    :data:`_PLAIN_OPTIONS`.  A URI pymongo cannot parse is not shown at all.
    """
    srv = uri.startswith("mongodb+srv://")
    scheme = "mongodb+srv://" if srv else "mongodb://"
    try:
        parsed = _parse_mongo_uri(uri)
    except (PyMongoError, ValueError, TypeError, IndexError):
        return f"{scheme}{REDACTED} (not a URI pymongo can parse)"
    userinfo = f"{REDACTED}@" if parsed["username"] is not None or parsed["password"] else ""
    if srv:
        hosts = str(parsed["fqdn"])
    else:
        hosts = ",".join(_host_port(host, port) for host, port in parsed["nodelist"])
    database = parsed["database"] or ""
    if parsed["collection"]:
        database += "." + parsed["collection"]
    out = f"{scheme}{userinfo}{hosts}"
    options = parsed["options"]
    if database or options:
        out += "/" + quote(database, safe=".")
    if options:
        pairs = []
        cased = getattr(options, "cased_key", lambda key: key)  # the spelling as given
        for name, value in options.items():
            values = value if isinstance(value, list) else [value]
            for one in values:
                shown = quote(str(one), safe=",:") if name.lower() in _PLAIN_OPTIONS else REDACTED
                pairs.append(f"{quote(str(cased(name)))}={shown}")
        out += "?" + "&".join(pairs)
    return out


def _parse_mongo_uri(uri: str) -> dict[str, Any]:
    """pymongo's parse of ``uri`` without validating option values or any DNS lookup.

    ``mongodb+srv://`` would make ``parse_uri`` resolve the SRV record; its
    parsing step alone (``_validate_uri``, pymongo ≥ 4.9) does not.
    """
    try:
        from pymongo.uri_parser_shared import _validate_uri
    except ImportError:  # pymongo < 4.9: parse_uri is that step
        from pymongo.uri_parser import parse_uri

        if uri.startswith("mongodb+srv://"):
            raise ValueError("mongodb+srv:// URIs need pymongo >= 4.9 to be parsed offline") from None
        return parse_uri(uri, validate=False)  # type: ignore[no-any-return]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymongo warns about duplicate options
        return _validate_uri(uri, validate=False, warn=False, normalize=False)


def _host_port(host: str, port: int | str | None) -> str:
    shown = f"[{host}]" if ":" in host else quote(host, safe=".-_~")
    return f"{shown}:{port}" if port is not None else shown


class Store:
    """MongoDB (or the embedded nx-27017) plus the bulk writer, opened once, shared."""

    def __init__(
        self,
        uri: str = "",
        database: str = "newsspider",
        data_dir: str | Path = "./data",
        *,
        start_timeout: float = 30.0,
        batch_size: int = 200,
        flush_seconds: float = 0.25,
        queue_size: int = 1000,
        max_pending: int = 5000,
        close_timeout: float = 30.0,
        retry_max_delay: float = 10.0,
        server_timeout: float = 3.0,
        helper_nice: int = 0,
        batch_transactions: bool | None = None,
        stats: StatsCollector | None = None,
    ) -> None:
        self.configured_uri = uri or ""
        self.database = database
        self.data_dir = Path(data_dir)
        self.start_timeout = start_timeout
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.queue_size = queue_size
        self.max_pending = max_pending
        self.close_timeout = close_timeout
        self.retry_max_delay = retry_max_delay
        self.server_timeout = server_timeout
        self.helper_nice = helper_nice
        # One transaction per writer batch: by default only on the embedded
        # server this store starts (see StoreWriter).
        self.batch_transactions = batch_transactions
        self.stats = stats
        self.uri = self.configured_uri
        self.embedded: EmbeddedStore | None = None
        #: Servers asked to exit at the last close; a crawl's store reaps them at engine_stopped.
        self._exiting: list[EmbeddedStore] = []
        #: The crawl this store serves (Store.for_crawler): its stats when the
        #: store was created before them; its engine_stopped reaps the server.
        self._crawler: Crawler | None = None
        self.client: MongoClient[dict[str, Any]] | None = None
        self.writer: StoreWriter | None = None
        self._users = 0
        self._lock = threading.Lock()
        self._flush_timed_out = False
        #: Writes left in the journal at the last close (non-zero = not everything reached the store).
        self.journaled = 0
        #: Why the store could not be opened: later opens fail at once with it.
        self._unavailable: str | None = None

    # -- construction ---------------------------------------------------------

    @classmethod
    def from_settings(cls, settings: BaseSettings, stats: StatsCollector | None = None) -> Store:
        return cls(
            uri=settings.get("MONGO_URI") or "",
            database=settings.get("MONGO_DATABASE") or "newsspider",
            data_dir=settings.get("NEWSSPIDER_DATA_DIR") or "./data",
            start_timeout=settings.getfloat("NEWSSPIDER_STORE_START_TIMEOUT", 30.0),
            batch_size=settings.getint("NEWSSPIDER_STORE_BATCH_SIZE", 200),
            flush_seconds=settings.getfloat("NEWSSPIDER_STORE_FLUSH_SECONDS", 0.25),
            queue_size=settings.getint("NEWSSPIDER_STORE_QUEUE_SIZE", 1000),
            max_pending=settings.getint("NEWSSPIDER_STORE_MAX_PENDING", 5000),
            close_timeout=settings.getfloat("NEWSSPIDER_STORE_CLOSE_TIMEOUT", 30.0),
            retry_max_delay=settings.getfloat("NEWSSPIDER_STORE_RETRY_MAX_DELAY", 10.0),
            server_timeout=settings.getfloat("NEWSSPIDER_STORE_SERVER_TIMEOUT", 3.0),
            helper_nice=settings.getint("NEWSSPIDER_HELPER_NICE", 5),
            stats=stats,
        )

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> Store:
        """The crawler's one store, created (not opened) on first call."""
        store: Store | None = getattr(crawler, "_newsspider_store", None)
        if store is None:
            from scrapy import signals

            try:
                stats = crawler.stats
            except RuntimeError:
                stats = None  # called from the spider's from_crawler: open() takes them
            store = cls.from_settings(crawler.settings, stats=stats)
            store._crawler = crawler
            crawler._newsspider_store = store  # type: ignore[attr-defined]
            crawler.signals.connect(store._engine_stopped, signal=signals.engine_stopped)
            # The embedded server takes about a second to start: let it boot
            # while Scrapy builds the rest of the crawler.
            store.prestart()
        return store

    @classmethod
    def of_crawler(cls, crawler: Crawler) -> Store | None:
        """The crawler's store if a component has asked for one; never creates it."""
        store: Store | None = getattr(crawler, "_newsspider_store", None)
        return store

    def prestart(self) -> None:
        """Spawn the embedded server now (when one is needed); :meth:`open` waits for it."""
        with self._lock:
            if not self.configured_uri and self.embedded is None and self.client is None:
                self.embedded = self._embedded_server()
                try:
                    self.embedded.spawn()
                except (OSError, StoreStartError) as exc:
                    # open() spawns it again and reports why it cannot (StoreUnavailable).
                    logger.debug("embedded store not spawned early: %s", exc)

    # -- lifecycle ------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.client is not None

    @property
    def db(self) -> Database[dict[str, Any]]:
        if self.client is None:
            raise RuntimeError("the store is not open: call Store.open() first")
        return self.client[self.database]

    @property
    def journal_dir(self) -> Path:
        return self.data_dir / "journal" / self.database

    def open(self, *, counted: bool = True) -> Store:
        """Connect (starting the embedded server if needed); idempotent, counted, thread-safe.

        ``counted=False`` (reads and rejects from a component that did not open
        the store itself) connects without taking a user: the last counted
        close, or ``engine_stopped``, closes it.
        """
        with self._lock:
            if self.stats is None and self._crawler is not None:
                self.stats = self._crawler.stats
            if self._unavailable is not None:
                # Every component of a crawl opens the store: one wait for a
                # store that is not there is enough.
                raise StoreUnavailable(self._unavailable)
            if counted:
                self._users += 1
            if self.client is None:
                try:
                    self._connect()
                except BaseException as exc:
                    if counted:
                        self._users -= 1
                    if isinstance(exc, StoreUnavailable):
                        self._unavailable = str(exc)
                        logger.error("store unavailable: %s", exc)
                        if self.stats is not None:
                            on_reactor(self.stats.set_value, "newsspider/store/unavailable", 1)
                    self._teardown()
                    raise
        return self

    def _embedded_server(self) -> EmbeddedStore:
        return EmbeddedStore(
            self.data_dir / "store", start_timeout=self.start_timeout, nice=self.helper_nice
        )

    def _check_reachable(self) -> None:
        """Ping the configured server for up to ``start_timeout``; StoreUnavailable if it never answers."""
        client: MongoClient[dict[str, Any]] = MongoClient(
            self.uri,
            tz_aware=True,
            serverSelectionTimeoutMS=int(self.start_timeout * 1000),
            connectTimeoutMS=int(self.server_timeout * 1000),
        )
        try:
            client.admin.command("ping")
        except CONNECT_ERRORS as exc:
            client.close()
            raise StoreUnavailable(
                f"the store at {redact_uri(self.uri)} did not answer within "
                f"{self.start_timeout:.0f}s: {exc}"
            ) from exc
        client.close()

    def _connect(self) -> None:
        if not self.configured_uri:
            if self.embedded is None:
                self.embedded = self._embedded_server()
            try:
                self.uri = self.embedded.wait_ready()  # it has answered a ping
            except (OSError, StoreStartError) as exc:  # OSError: its data directory, e.g.
                raise StoreUnavailable(f"the embedded store did not start: {exc}") from exc
            logger.info("embedded store started: MONGO_URI=%s (data in %s)",
                        redact_uri(self.uri), self.embedded.data_dir)
        else:
            self._check_reachable()
        # The store's client has a short selection timeout: during an outage each
        # write attempt must fail fast so the writer can keep draining its queue.
        self.client = MongoClient(
            self.uri,
            tz_aware=True,
            serverSelectionTimeoutMS=int(self.server_timeout * 1000),
            connectTimeoutMS=int(self.server_timeout * 1000),
        )
        logger.info("store open: %s, database %s", redact_uri(self.uri), self.database)
        nx = is_nx27017(self.db)
        self._ensure_indexes(nx)
        journal = Journal(self.journal_dir)
        if journal.has_files():
            logger.info("journal %s holds writes from an earlier run; replaying them first",
                        self.journal_dir)
        self.writer = StoreWriter(
            self.db,
            journal,
            batch_size=self.batch_size,
            flush_seconds=self.flush_seconds,
            queue_size=self.queue_size,
            max_pending=self.max_pending,
            retry_max_delay=self.retry_max_delay,
            stats=self.stats,
            batch_transactions=(
                not self.configured_uri if self.batch_transactions is None else self.batch_transactions
            ),
            nx27017=nx,
            on_alarm=self._alarm,
        )
        self.writer.start()

    def _ensure_indexes(self, nx27017: bool) -> None:
        # One createIndexes per collection (four round trips, not twenty-five); existing ones stay.
        keyset = {collection: [keyset_index(name, nx27017) for name in fields]
                  for collection, fields in KEYSET_INDEXES.items()}
        for collection, specs in INDEXES.items():
            models = [index_model(spec) for spec in specs]
            self.db[collection].create_indexes(models + keyset.get(collection, []))
        if self.db[ARTICLES].find_one({}, {"_id": 1}) is None:
            # No article yet: every one from now on gets its listing keys from the writer.
            mark_complete(self.db)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every write enqueued so far is in the store; False on timeout."""
        if self.writer is None:
            return True
        done = self.writer.flush(self.close_timeout if timeout is None else timeout)
        self._flush_timed_out = not done
        if not done:
            logger.warning("store flush timed out; %d writes still pending", self.pending)
        return done

    def settle(self) -> None:
        """After a final flush that timed out: journal every queued write now, or count it lost.

        So that what the crawl's health checks read (``…/journaled``,
        ``…/lost``) is the outcome, not a guess about the close to come.
        """
        writer = self.writer
        if writer is None or not writer.failing:
            return
        writer.settle(self.close_timeout)
        if self.stats is not None:
            on_reactor(self.stats.set_value, "newsspider/store/journaled", writer.journal.count())

    def _alarm(self, reason: str) -> None:
        """The writer says the crawl cannot go on safely (called from its thread): close it."""
        crawler = self._crawler
        if crawler is not None:
            on_reactor(_close_crawl, crawler, reason)

    def close(self) -> None:
        """Release one user; the last one flushes, closes and stops the embedded server."""
        with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users == 0:
                self._teardown()

    def _teardown(self) -> None:
        if self.writer is not None:
            # Already waited close_timeout in flush() for a store that is down: don't wait twice.
            timeout = 0.0 if self._flush_timed_out and self.writer.failing else self.close_timeout
            self.journaled = self.writer.close(timeout)
            self.writer = None
            if self.stats is not None:
                on_reactor(self.stats.set_value, "newsspider/store/journaled", self.journaled)
            if self.journaled:
                logger.error(
                    "store %s unreachable: %d writes are journaled in %s; they are written "
                    "at the next open against this data directory",
                    redact_uri(self.uri), self.journaled, self.journal_dir,
                )
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.embedded is not None:
            if self._crawler is not None:
                # The crawl's own server, every write answered and the client
                # closed: killed (SQLite keeps what it answered), not asked to
                # exit — nx-27017's shutdown would hold the crawl's exit
                # 0.06-0.12 s, or 0.5 s when it sits the SIGTERM out.  Reaped
                # at engine_stopped.
                self.embedded.terminate(kill=True)
                self._exiting.append(self.embedded)
            else:
                self.embedded.stop()
            self.embedded = None
            self.uri = self.configured_uri

    def _engine_stopped(self) -> None:
        # Safety net: a component that opened the store but never closed it.
        with self._lock:
            if self.client is not None:
                logger.debug("closing the store left open by %d component(s)", self._users)
                self._users = 0
                self._teardown()
            elif self.embedded is not None:
                # Spawned early but never opened (e.g. the crawl failed to start).
                self.embedded.stop()
                self.embedded = None
            exiting, self._exiting = self._exiting, []
        for server in exiting:
            server.wait_stopped()

    @property
    def available(self) -> bool:
        """Open, and the last write attempt reached the store."""
        return self.writer is not None and not self.writer.failing

    @property
    def pending(self) -> int:
        if self.writer is None:
            return 0
        return len(self.writer.queue) + len(self.writer._pending)

    # -- reactor-friendly wrappers -------------------------------------------

    async def aopen(self) -> Store:
        return await _in_thread(self.open)

    async def aopen_for_crawl(self) -> Store:
        """:meth:`aopen` for a crawl component's ``open_spider``: a store that is
        not there closes the spider (reason ``store_unavailable``, the cause
        logged once) before anything is fetched, instead of failing the crawl's start."""
        from scrapy.exceptions import CloseSpider

        try:
            return await self.aopen()
        except StoreUnavailable as exc:
            raise CloseSpider("store_unavailable") from exc

    async def _ensure_open(self) -> None:
        if self.writer is None:
            await _in_thread(lambda: self.open(counted=False))

    async def aflush(self, timeout: float | None = None) -> bool:
        return await _in_thread(self.flush, timeout)

    async def asettle(self) -> None:
        await _in_thread(self.settle)

    async def aclose(self) -> None:
        await _in_thread(self.close)

    # -- writes (enqueued; the writer thread does the I/O) ---------------------

    def _writer(self) -> StoreWriter:
        if self.writer is None:
            raise RuntimeError("the store is not open: call Store.open() first")
        return self.writer

    async def put_article(self, doc: dict[str, Any]) -> None:
        """Upsert an article (contract §4 fields; the writer adds the bookkeeping)."""
        await self._writer().put(Op(ARTICLE, dict(doc)))

    async def put_merge(self, target: str, urls: Iterable[str]) -> None:
        """Add ``urls`` to ``alternate_urls`` of the article ``target`` (after its upsert)."""
        await self._writer().put(Op(MERGE, {"target": target, "urls": sorted(set(urls))}))

    async def put_reject(
        self, url: str, portal: str, errors: list[dict[str, str]], item: Mapping[str, Any],
    ) -> None:
        await self.add_reject({"url": url, "portal": portal, "errors": errors, "item": item})

    async def add_reject(self, doc: Mapping[str, Any]) -> None:
        """Enqueue a ``rejects`` document ``{url, portal, errors, item[, at]}``.

        ``item`` is made JSON-safe (dates as ISO strings, huge strings cut);
        ``_id`` is ``f"{portal}:{url}"`` so a re-crawl replaces the old reject.
        """
        await self._ensure_open()
        out = reject_doc(str(doc.get("url") or ""), str(doc.get("portal") or ""),
                         list(doc.get("errors") or []), doc.get("item") or {})
        if doc.get("at") is not None:
            out["at"] = doc["at"]
        await self._writer().put(Op(REJECT, out))

    async def put_run(self, doc: dict[str, Any]) -> None:
        await self._writer().put(Op(RUN, doc))

    def put_article_blocking(self, doc: dict[str, Any]) -> None:
        """:meth:`put_article` for plain threads (CLI, benchmarks)."""
        self._writer().put_blocking(Op(ARTICLE, dict(doc)))

    def put_run_blocking(self, doc: dict[str, Any]) -> None:
        self._writer().put_blocking(Op(RUN, doc))

    # -- reads ----------------------------------------------------------------

    async def known_ids(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` are stored, as articles or as a stored article's duplicate, off the reactor."""
        if not ids:
            return set()
        await self._ensure_open()
        return await _in_thread(self.known_ids_blocking, ids)

    def known_ids_blocking(self, ids: list[str]) -> set[str]:
        return set(self.known_articles_blocking(ids))

    async def known_articles(self, ids: list[str]) -> dict[str, KnownArticle]:
        """Which of ``ids`` are stored, and when each was first seen and last crawled, off the reactor.

        What the spider's revisit rule needs (newsspider.revisit), in the same
        ``_id`` queries as :meth:`known_ids`; dates are compared in Python, not
        in the query (nx-27017 compares dates at whole seconds, without an index).
        """
        if not ids:
            return {}
        await self._ensure_open()
        return await _in_thread(self.known_articles_blocking, ids)

    def known_articles_blocking(self, ids: list[str]) -> dict[str, KnownArticle]:
        found: dict[str, KnownArticle] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), KNOWN_IDS_CHUNK):
            chunk = unique[start:start + KNOWN_IDS_CHUNK]
            for d in self.db[ARTICLES].find({"_id": {"$in": chunk}}, _KNOWN_PROJECTION):
                found[d["_id"]] = KnownArticle(d.get("first_seen_at"), d.get("last_crawled_at"))
            rest = [i for i in chunk if i not in found]
            if rest:
                for d in self.db[URL_ALIASES].find({"_id": {"$in": rest}}, {"_id": 1}):
                    found[d["_id"]] = KnownArticle(None, None, alias=True)
        return found

    def dedup_refs_blocking(self, keys: list[str]) -> dict[str, list[str]]:
        """``{band key: ["<simhash>|<url>", …]}`` for the keys that exist; one ``_id`` query."""
        found: dict[str, list[str]] = {}
        for start in range(0, len(keys), KNOWN_IDS_CHUNK):
            chunk = keys[start:start + KNOWN_IDS_CHUNK]
            for doc in self.db[DEDUP_KEYS].find({"_id": {"$in": chunk}}):
                found[doc["_id"]] = [r for r in doc.get("refs") or [] if isinstance(r, str)]
        return found

    def article_states_blocking(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """``{_id: {simhash, content_hash}}`` of the stored articles among ``ids``."""
        fields = {"_id": 1, "simhash": 1, "content_hash": 1}
        return {d["_id"]: d for d in self.db[ARTICLES].find({"_id": {"$in": ids}}, fields)}


class KnownArticle(NamedTuple):
    """A listed URL the store has: a stored article's timestamps, or a duplicate's alias."""

    first_seen_at: Any
    last_crawled_at: Any
    #: The URL of a duplicate merged into another article (``url_aliases``): never revisited.
    alias: bool = False


_KNOWN_PROJECTION = {"_id": 1, "first_seen_at": 1, "last_crawled_at": 1}


def dedup_keys(simhash: int) -> list[str]:
    """The ``dedup_keys`` ids of a SimHash: its four 16-bit bands, ``["0:1a2b", …]``.

    Any two hashes within 3 bits share at least one band (pigeonhole).
    """
    from newsspider.normalize.text import simhash_bands

    return simhash_bands(simhash, SIMHASH_BANDS)


def reject_doc(
    url: str, portal: str, errors: list[dict[str, str]], item: Mapping[str, Any],
) -> dict[str, Any]:
    """A ``rejects`` document: ``{url, portal, errors:[{field,message}], item}`` (``at`` set on write)."""
    return {
        "url": url,
        "portal": portal,
        "errors": [{"field": str(e.get("field", "")), "message": str(e.get("message", ""))}
                   for e in errors],
        "item": json_safe(item),
    }


def _close_crawl(crawler: Crawler, reason: str) -> None:
    engine = crawler.engine
    if engine is None or engine.spider is None:
        return
    from scrapy.utils.defer import deferred_from_coro

    logger.error("closing the crawl: %s", reason)
    deferred_from_coro(engine.close_spider_async(reason=reason))


async def _in_thread(func: Any, *args: Any) -> Any:
    from scrapy.utils.defer import maybe_deferred_to_future
    from twisted.internet.threads import deferToThread

    return await maybe_deferred_to_future(deferToThread(func, *args))
