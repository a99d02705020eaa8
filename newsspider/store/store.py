"""The store: one MongoDB connection (and bulk writer) per crawler, shared by every component.

``Store.for_crawler(crawler)`` returns the crawler's store, creating it on
first use; the dedup and store pipelines, the runs extension and the spider
(incremental crawling via :meth:`Store.known_ids`) all get the same object.
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
close), ``newsspider/store/unavailable`` (1 when the store did not answer at
open) plus the writer's (see :mod:`newsspider.store.writer`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from pymongo import ASCENDING, MongoClient
from pymongo.errors import PyMongoError

from newsspider.store.embedded import EmbeddedStore
from newsspider.store.journal import Journal
from newsspider.store.values import json_safe
from newsspider.store.writer import ARTICLE, MERGE, REJECT, RUN, Op, StoreWriter, on_reactor

if TYPE_CHECKING:
    from pymongo.database import Database
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

ARTICLES, REJECTS, RUNS, REVISIONS = "articles", "rejects", "runs", "article_revisions"
# A duplicate URL -> the article it was merged into (see writer._alias_upserts).
URL_ALIASES = "url_aliases"
# The four 16-bit SimHash bands ("0:1a2b" …), one scalar field each.  Not one
# array field: nx-27017 answers ``{array: {$in: …}}`` (and ``$or``) with a full
# scan even when indexed, while an equality on an indexed scalar field is an
# index lookup on both nx-27017 and MongoDB (measured: 4 lookups 4.5 ms vs
# 176 ms for one $in, at 20k articles).
BAND_FIELDS = tuple(f"simhash_band_{i}" for i in range(4))
INDEXES: dict[str, tuple[str, ...]] = {
    ARTICLES: ("published_at", "portal", "content_hash", "simhash", *BAND_FIELDS),
    REJECTS: ("portal", "at"),
    RUNS: ("portal", "started_at"),
}
KNOWN_IDS_CHUNK = 500

_SECRET_PARAM = re.compile(r"pass|secret|token|key", re.IGNORECASE)


class StoreUnavailable(RuntimeError):
    """The store did not answer at open; the message names the (redacted) URI."""


def redact_uri(uri: str) -> str:
    """``uri`` with its user info and secret-looking query values replaced by ``REDACTED``."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<unparseable URI, REDACTED>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "REDACTED@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = "&".join(
            f"{quote(k)}={'REDACTED' if _SECRET_PARAM.search(k) else quote(v)}" for k, v in pairs
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


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
        flush_seconds: float = 2.0,
        queue_size: int = 1000,
        max_pending: int = 5000,
        close_timeout: float = 30.0,
        retry_max_delay: float = 10.0,
        server_timeout: float = 3.0,
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
        self.stats = stats
        self.uri = self.configured_uri
        self.embedded: EmbeddedStore | None = None
        self.client: MongoClient[dict[str, Any]] | None = None
        self.writer: StoreWriter | None = None
        self._users = 0
        self._lock = threading.Lock()
        self._flush_timed_out = False
        #: Writes left in the journal at the last close (non-zero = not everything reached the store).
        self.journaled = 0

    # -- construction ---------------------------------------------------------

    @classmethod
    def from_settings(cls, settings: BaseSettings, stats: StatsCollector | None = None) -> Store:
        return cls(
            uri=settings.get("MONGO_URI") or "",
            database=settings.get("MONGO_DATABASE") or "newsspider",
            data_dir=settings.get("NEWSSPIDER_DATA_DIR") or "./data",
            start_timeout=settings.getfloat("NEWSSPIDER_STORE_START_TIMEOUT", 30.0),
            batch_size=settings.getint("NEWSSPIDER_STORE_BATCH_SIZE", 200),
            flush_seconds=settings.getfloat("NEWSSPIDER_STORE_FLUSH_SECONDS", 2.0),
            queue_size=settings.getint("NEWSSPIDER_STORE_QUEUE_SIZE", 1000),
            max_pending=settings.getint("NEWSSPIDER_STORE_MAX_PENDING", 5000),
            close_timeout=settings.getfloat("NEWSSPIDER_STORE_CLOSE_TIMEOUT", 30.0),
            retry_max_delay=settings.getfloat("NEWSSPIDER_STORE_RETRY_MAX_DELAY", 10.0),
            server_timeout=settings.getfloat("NEWSSPIDER_STORE_SERVER_TIMEOUT", 3.0),
            stats=stats,
        )

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> Store:
        """The crawler's one store, created (not opened) on first call."""
        store: Store | None = getattr(crawler, "_newsspider_store", None)
        if store is None:
            from scrapy import signals

            store = cls.from_settings(crawler.settings, stats=crawler.stats)
            crawler._newsspider_store = store  # type: ignore[attr-defined]
            crawler.signals.connect(store._engine_stopped, signal=signals.engine_stopped)
        return store

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
            if counted:
                self._users += 1
            if self.client is None:
                try:
                    self._connect()
                except BaseException:
                    if counted:
                        self._users -= 1
                    self._teardown()
                    raise
        return self

    def _connect(self) -> None:
        if not self.configured_uri:
            self.embedded = EmbeddedStore(self.data_dir / "store", start_timeout=self.start_timeout)
            self.uri = self.embedded.start()
            logger.info("embedded store started: MONGO_URI=%s (data in %s)",
                        redact_uri(self.uri), self.embedded.data_dir)
        client: MongoClient[dict[str, Any]] = MongoClient(
            self.uri,
            tz_aware=True,
            serverSelectionTimeoutMS=int(self.start_timeout * 1000),
            connectTimeoutMS=int(self.server_timeout * 1000),
        )
        try:
            client.admin.command("ping")
        except (PyMongoError, KeyError) as exc:
            # KeyError: pymongo's SCRAM handshake against a server without auth
            # (nx-27017 given a URI with credentials) fails that way, not as a PyMongoError.
            client.close()
            if self.stats is not None:
                on_reactor(self.stats.set_value, "newsspider/store/unavailable", 1)
            raise StoreUnavailable(
                f"the store at {redact_uri(self.uri)} did not answer within "
                f"{self.start_timeout:.0f}s: {exc}"
            ) from exc
        client.close()
        # Reconnect with a short selection timeout: during an outage each write
        # attempt must fail fast so the writer can keep draining its queue.
        self.client = MongoClient(
            self.uri,
            tz_aware=True,
            serverSelectionTimeoutMS=int(self.server_timeout * 1000),
            connectTimeoutMS=int(self.server_timeout * 1000),
        )
        logger.info("store open: %s, database %s", redact_uri(self.uri), self.database)
        self._ensure_indexes()
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
        )
        self.writer.start()

    def _ensure_indexes(self) -> None:
        for collection, fields in INDEXES.items():
            for name in fields:
                self.db[collection].create_index([(name, ASCENDING)])

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every write enqueued so far is in the store; False on timeout."""
        if self.writer is None:
            return True
        done = self.writer.flush(self.close_timeout if timeout is None else timeout)
        self._flush_timed_out = not done
        if not done:
            logger.warning("store flush timed out; %d writes still pending", self.pending)
        return done

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

    async def _ensure_open(self) -> None:
        if self.writer is None:
            await _in_thread(lambda: self.open(counted=False))

    async def aflush(self, timeout: float | None = None) -> bool:
        return await _in_thread(self.flush, timeout)

    async def aclose(self) -> None:
        await _in_thread(self.close)

    # -- writes (enqueued; the writer thread does the I/O) ---------------------

    def _writer(self) -> StoreWriter:
        if self.writer is None:
            raise RuntimeError("the store is not open: call Store.open() first")
        return self.writer

    async def put_article(self, doc: dict[str, Any]) -> None:
        """Upsert an article (contract §4 fields; the writer adds the bookkeeping)."""
        await self._writer().put(Op(ARTICLE, _article_doc(doc)))

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
        self._writer().put_blocking(Op(ARTICLE, _article_doc(doc)))

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
        found: set[str] = set()
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), KNOWN_IDS_CHUNK):
            chunk = unique[start:start + KNOWN_IDS_CHUNK]
            found.update(d["_id"] for d in self.db[ARTICLES].find({"_id": {"$in": chunk}}, {"_id": 1}))
            rest = [i for i in chunk if i not in found]
            if rest:
                found.update(
                    d["_id"] for d in self.db[URL_ALIASES].find({"_id": {"$in": rest}}, {"_id": 1})
                )
        return found

    def find_duplicate(
        self,
        url: str,
        content_hash: str,
        simhash: int,
        bands: list[str],
        distance: int,
    ) -> tuple[str, str] | None:
        """The stored article ``url`` duplicates, as ``(its _id, "exact"|"near")``, else None.

        Only indexed lookups: ``content_hash`` equality, then one equality per
        SimHash band field (any equal 16-bit band), the Hamming distance checked here.  An
        article already stored under ``url`` itself means a re-crawl, not a
        duplicate: None.  Blocking; call it off the reactor thread.
        """
        from newsspider.normalize.text import hamming

        articles = self.db[ARTICLES]
        if articles.find_one({"_id": url}, {"_id": 1}) is not None:
            return None
        exact = [d["_id"] for d in articles.find({"content_hash": content_hash}, {"_id": 1}).limit(10)]
        exact = [i for i in exact if i != url]
        if exact:
            return min(exact), "exact"
        best: tuple[int, str] | None = None
        for field, band in zip(BAND_FIELDS, bands, strict=False):
            for doc in articles.find({field: band}, {"_id": 1, "simhash": 1}):
                if doc["_id"] == url or doc.get("simhash") is None:
                    continue
                d = hamming(int(doc["simhash"]), simhash)
                if d <= distance and (best is None or (d, doc["_id"]) < best):
                    best = (d, doc["_id"])
        return (best[1], "near") if best else None


def band_fields(simhash: int) -> dict[str, str]:
    """``{"simhash_band_0": "0:1a2b", …}``: the indexed near-duplicate lookup keys."""
    from newsspider.normalize.text import simhash_bands

    return dict(zip(BAND_FIELDS, simhash_bands(simhash, len(BAND_FIELDS)), strict=True))


def _article_doc(doc: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    if BAND_FIELDS[0] not in out and out.get("simhash") is not None:
        out.update(band_fields(int(out["simhash"])))
    return out


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


async def _in_thread(func: Any, *args: Any) -> Any:
    from scrapy.utils.defer import maybe_deferred_to_future
    from twisted.internet.threads import deferToThread

    return await maybe_deferred_to_future(deferToThread(func, *args))
