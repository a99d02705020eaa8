"""The bulk writer: one background thread turning queued writes into ``bulk_write`` calls.

Producers (pipelines on the reactor thread, or plain threads in the CLI) only
enqueue :class:`Op` objects on a bounded queue; when it is full they wait
(``await put()`` on the reactor, ``put_blocking()`` elsewhere) — backpressure
instead of unbounded memory.  The writer thread takes the ops in order and
writes them every ``batch_size`` ops or ``flush_seconds`` seconds (and on
:meth:`StoreWriter.flush` / :meth:`StoreWriter.close`):

* ``article`` — one ``find({_id: {$in: ids}})`` per flush reads the stored
  documents (all but ``raw_body_html``), then ``ReplaceOne({_id: url},
  document, upsert=True)``: the article fields plus ``last_crawled_at`` (when
  the op was produced: the crawl's time); a new article gets
  ``first_seen_at`` = that time, ``alternate_urls: []`` (the array exists
  from the start: newsspider.store.nx27017),
  ``revision: 1``, ``schema_version: 1``; an existing one keeps its
  ``first_seen_at``, ``alternate_urls`` and ``revision`` — unless its
  ``content_hash`` differs: then the previous body is archived to
  ``article_revisions`` (``_id`` = ``f"{url}#r{revision}"``) and ``revision``
  +1.  Why a replacement and not ``$set`` + ``$setOnInsert``: nx-27017 (0.8)
  stores a top-level datetime given to ``$set`` on an *existing* document as
  a string (newsspider.store.nx27017), which would turn ``published_at`` into
  text on every re-crawl; replacements keep BSON dates on both servers.
* ``updated_at`` is when the stored article last changed, as a consumer sees
  it: the time of the write (the batch's, not the op's: a write replayed from
  the journal hours later is a change *now*, or a consumer that exported
  meanwhile would never see it) that inserted the article, gave it a new
  ``content_hash``, changed any other field but :data:`UNWATCHED` (a new
  title, a moved date), or added a URL to its ``alternate_urls``.  A re-crawl
  that finds the article as stored keeps ``updated_at`` (stat
  ``…/unchanged``), so an incremental export (docs/exports.md) does not
  re-export it.
* ``merge`` — ``$addToSet`` of duplicate URLs on the first article's
  ``alternate_urls``, and ``$set`` of ``updated_at`` when one of them is new
  to the article (as a date on nx-27017 too: newsspider.store.nx27017).
  Ops are written in queue order, and a merge whose article is neither
  stored nor earlier in the stream is *parked* until that article's upsert
  comes, so a merge never lands on a missing document.
* ``reject`` — upserted into ``rejects`` under ``_id`` = ``f"{portal}:{url}"``:
  a re-crawl replaces the previous reject of the same URL (its latest errors
  and ``at``) rather than piling up copies.  One ``_id`` query per flush reads
  the rejects being replaced: a reject for the same ``reason`` as the stored
  one is a *repeat* (a known-broken page fetched again; stat
  ``…/rejects_repeated``, which the ``reject_ratio`` health check leaves out):
  the document carries ``repeated`` (how many times in a row that reason was
  recorded again, 0 for a new one) and ``first_at`` (when it was first recorded).
* ``run`` — one ``runs`` document, replaced by ``_id``.

Each write also keeps the dashboard's listing keys (:mod:`newsspider.store.listing`):
an article's ``article_keys`` rows (written before the article, so a retried
batch recomputes them from the article as it was), and ``list_key`` plus
``status`` (runs) or ``reason`` (rejects) on the document itself.

Every write is an idempotent upsert recomputed from the store on each
attempt, so a batch interrupted by an outage is simply written again.

``batch_transactions`` (the :class:`~newsspider.store.store.Store` sets it
when it started the embedded nx-27017 itself): each batch's writes run in one
:func:`newsspider.store.nx27017.batch_transaction`, always committed — also
when a write of the batch failed — so a batch keeps exactly what autocommit
would have kept (why: newsspider.store.nx27017).  Ops leave the queue only
after the commit.  Off for a ``MONGO_URI`` server (a MongoDB transaction aborts
on a write error and needs a replica set).

Outages: connection errors are retried with exponential backoff (capped at
``retry_max_delay``); meanwhile the thread keeps draining the queue, so the
crawl goes on.  Beyond ``max_pending`` ops in memory the oldest are spilled
to the :class:`~newsspider.store.journal.Journal` and replayed, before any
newer op, once the store answers.  What is still unwritten when
:meth:`close` gives up (after ``close_timeout``) is journaled, counted in
:attr:`StoreWriter.journaled` and replayed at the next open.

Nothing is lost silently.  When an outage begins the writer checks that the
journal can be written; if it cannot (a file where its directory should be,
a read-only or full disk), nothing is safe any more: it logs an ERROR and
raises the alarm (``on_alarm("store_unreachable_journal_unwritable")``: the
crawl's store closes the spider), keeps retrying the store with what it holds,
and counts every write it finally cannot place as ``…/lost``.  A writer
thread that dies, for any reason, raises ``on_alarm("store_writer_died")``,
journals what it held (and producers journal what they enqueue afterwards)
or counts it lost.  A journal record that cannot be replayed is quarantined
(see :mod:`newsspider.store.journal`), never fatal.

Stats written (when given a stats collector): ``newsspider/store/inserted``,
``…/updated`` (existing articles re-written: ``unchanged`` + ``changed`` +
``revised``), ``…/unchanged`` (found as stored), ``…/changed`` (another field
than the body changed), ``…/revised`` (new ``content_hash``), ``…/merged``, ``…/rejects``,
``…/rejects_repeated`` (of those, repeats of the stored reject), ``…/runs``,
``…/flushes``, ``…/retries``, ``…/spilled``, ``…/replayed``,
``…/write_errors``, ``…/merges_orphaned``, ``…/journal_quarantined``,
``…/journal_unwritable`` (1), ``…/writer_died`` (1), ``…/lost``.  Reads no
settings (the :class:`~newsspider.store.store.Store` passes them in).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bson
from bson.errors import InvalidDocument
from pymongo import InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError, ConnectionFailure, PyMongoError

from newsspider.store.journal import Journal
from newsspider.store.listing import (
    ARTICLE_KEYS,
    insert_rows,
    reject_keys,
    row_changes,
    row_source,
    rows_of,
    run_keys,
)
from newsspider.store.nx27017 import batch_transaction, date_operand, is_nx27017
from newsspider.store.values import json_safe

if TYPE_CHECKING:
    from pymongo.client_session import ClientSession
    from pymongo.database import Database
    from scrapy.statscollectors import StatsCollector
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

STAT = "newsspider/store/"
DEDUP_KEYS = "dedup_keys"  # SimHash band → stored bodies (see newsspider.store.store)
SIMHASH_BANDS = 4  # 16-bit bands: ids "0:0000" … "3:ffff"
# Band keys per raw command or ``$in`` query: far under MongoDB's 16 MB command
# limit (a key document is ~150 bytes).
KEY_COMMAND_CHUNK = 1000

# Fields the writer owns; an incoming article never overwrites them.
BOOKKEEPING = frozenset(
    {"_id", "alternate_urls", "revision", "first_seen_at", "last_crawled_at",
     "updated_at", "schema_version"}
)
# The previous version kept in ``article_revisions`` when the body changes.
REVISION_FIELDS = ("body_html", "body_text", "content_hash", "revision", "title", "last_crawled_at")
# Fields whose change alone leaves ``updated_at`` as it is: the crawl's own
# bookkeeping, and what depends on the fetch rather than the article (the raw
# page HTML changes with every view counter or ad; ``fetched_url`` with the
# listing link followed).
UNWATCHED = frozenset({"_id", "last_crawled_at", "updated_at", "raw_body_html", "fetched_url"})
# What a flush reads back to carry the bookkeeping over and detect changes:
# the stored document without its biggest unwatched field.
_STATE_PROJECTION = {"raw_body_html": 0}
# What a flush reads of the stored rejects its rejects replace, to tell a repeat (:func:`_repeat_reject`).
_REJECT_PROJECTION = {"reason": 1, "errors": 1, "at": 1, "first_at": 1, "repeated": 1}

ARTICLE, MERGE, REJECT, RUN = "article", "merge", "reject", "run"
# What each kind of write needs in its document to be written at all.
_REQUIRED: dict[str, tuple[str, ...]] = {ARTICLE: ("url",), MERGE: ("target", "urls"), REJECT: (), RUN: ("_id",)}
# Finish reasons of the alarms the writer raises (see the module docstring).
JOURNAL_UNWRITABLE = "store_unreachable_journal_unwritable"
WRITER_DIED = "store_writer_died"


def utcnow() -> datetime:
    # BSON dates hold milliseconds; truncating here keeps in-memory and stored values equal.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass(slots=True)
class Op:
    """One queued write.  ``at`` is when it was produced (its bookkeeping time)."""

    kind: str
    doc: dict[str, Any]
    at: datetime = field(default_factory=utcnow)

    def to_record(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": self.at, "doc": self.doc}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Op:
        """The op of a journal record; ``ValueError``/``TypeError`` saying why for one that is not a write."""
        if not isinstance(record, dict):
            raise TypeError(f"a journal record is an object, got {type(record).__name__}")
        kind, doc, at = record.get("kind"), record.get("doc"), record.get("at")
        if kind not in _REQUIRED:
            raise ValueError(f"unknown kind {kind!r}")
        if not isinstance(doc, dict):
            raise TypeError(f"{kind}: 'doc' is not an object")
        if not isinstance(at, datetime):
            raise TypeError(f"{kind}: 'at' is not a date")
        for name in _REQUIRED[kind]:
            if not doc.get(name):
                raise ValueError(f"{kind}: doc has no {name!r}")
        if kind == ARTICLE and not isinstance(doc["url"], str):
            raise TypeError("article: 'url' is not a string")
        simhash = doc.get("simhash")
        if kind == ARTICLE and simhash is not None and (
                not isinstance(simhash, int) or isinstance(simhash, bool)):
            raise TypeError("article: 'simhash' is not an integer")
        if kind == MERGE and (not isinstance(doc["target"], str) or not isinstance(doc["urls"], list)
                              or not all(isinstance(u, str) for u in doc["urls"])):
            raise TypeError("merge: 'target' must be a string and 'urls' a list of strings")
        return cls(kind, doc, at)

    @property
    def key(self) -> str:
        return str(self.doc.get("target") or self.doc.get("url") or self.doc.get("_id"))


class OpQueue:
    """A bounded FIFO shared by producer threads/the reactor and the writer thread."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = max(1, maxsize)
        self._items: deque[Op] = deque()
        self._cond = threading.Condition()
        self._waiters: deque[Deferred[None]] = deque()
        self._wake_waiters: Callable[[list[Deferred[None]]], None] | None = None
        # How many queued ops the taker waits for: producers only wake it then,
        # not on every op (a thread wake-up per item costs more than the write).
        self._wanted = 1
        #: No taker any more (the writer thread died): offers are refused.
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, op: Op, waiter: Deferred[None] | None = None) -> bool:
        """Enqueue ``op`` if there is room; else register ``waiter`` (atomically) and say no.

        A closed queue says no without registering ``waiter``."""
        with self._cond:
            if self.closed:
                return False
            if len(self._items) < self.maxsize:
                self._items.append(op)
                if len(self._items) >= self._wanted:
                    self._cond.notify_all()
                return True
            if waiter is not None:
                self._waiters.append(waiter)
            return False

    def put_blocking(self, op: Op) -> bool:
        """Enqueue ``op``, waiting for room; False (not enqueued) once the queue is closed."""
        with self._cond:
            while len(self._items) >= self.maxsize and not self.closed:
                self._cond.wait()
            if self.closed:
                return False
            self._items.append(op)
            if len(self._items) >= self._wanted:
                self._cond.notify_all()
            return True

    def close(self) -> list[Op]:
        """Refuse further offers, wake every producer waiting for room; returns what was queued."""
        with self._cond:
            self.closed = True
            left = list(self._items)
            self._items.clear()
            waiters = list(self._waiters)
            self._waiters.clear()
            self._cond.notify_all()
        if waiters and self._wake_waiters is not None:
            self._wake_waiters(waiters)
        return left

    def take(self, limit: int, timeout: float, wanted: int = 1) -> list[Op]:
        """Up to ``limit`` ops, waiting at most ``timeout`` s for ``wanted`` of them
        (or a :meth:`wake`)."""
        with self._cond:
            if len(self._items) < wanted and timeout > 0:
                self._wanted = max(1, min(wanted, self.maxsize))
                self._cond.wait(timeout)
                self._wanted = 1
            taken = [self._items.popleft() for _ in range(min(limit, len(self._items)))]
            waiters: list[Deferred[None]] = []
            if taken:
                self._cond.notify_all()  # wake blocked put_blocking() callers
                while self._waiters and len(waiters) < len(taken):
                    waiters.append(self._waiters.popleft())
        if waiters and self._wake_waiters is not None:
            self._wake_waiters(waiters)
        return taken

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


@dataclass(slots=True)
class _Counts:
    inserted: int = 0
    unchanged: int = 0
    changed: int = 0
    revised: int = 0
    merged: int = 0
    rejects: int = 0
    rejects_repeated: int = 0
    runs: int = 0


class _InsertConflict(Exception):
    """An article planned as new was inserted meanwhile by someone else."""


class _BadOp(Exception):
    """One op the store refuses for good (not an outage); dropped with an ERROR."""

    def __init__(self, op: Op, reason: str) -> None:
        super().__init__(reason)
        self.op = op
        self.reason = reason


class StoreWriter:
    """Batches queued :class:`Op` writes into ordered ``bulk_write`` calls on a thread."""

    def __init__(
        self,
        db: Database[dict[str, Any]],
        journal: Journal,
        *,
        batch_size: int = 200,
        flush_seconds: float = 0.25,
        queue_size: int = 1000,
        max_pending: int = 5000,
        retry_base_delay: float = 0.25,
        retry_max_delay: float = 10.0,
        stats: StatsCollector | None = None,
        batch_transactions: bool = False,
        nx27017: bool | None = None,
        on_alarm: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.journal = journal
        #: Called (from the writer thread) with JOURNAL_UNWRITABLE or WRITER_DIED.
        self.on_alarm = on_alarm
        self.batch_transactions = batch_transactions
        self._session: ClientSession | None = None
        self.batch_size = max(1, batch_size)
        self.flush_seconds = flush_seconds
        self.max_pending = max(self.batch_size, max_pending)
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.stats = stats
        self.queue = OpQueue(queue_size)
        self.queue._wake_waiters = _wake_on_reactor
        self._pending: deque[Op] = deque()
        self._oldest_pending_at: float | None = None
        self._parked: dict[str, list[Op]] = {}
        self._journal_dirty = journal.has_files()
        self._failing = False
        self._delay = retry_base_delay
        self._retry_at = 0.0
        self._flush_token = 0  # bumped by flush(); echoed by the thread once idle
        self._flushed_token = 0
        self._stopping = False
        self._stop_deadline = 0.0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._settle_token = 0  # bumped by settle(); echoed by the thread once settled
        self._settled_token = 0
        # Journal appends come from the writer thread, and from producers once it died.
        self._journal_lock = threading.Lock()
        #: Why the journal cannot be written (set at the first failed probe or append).
        self.journal_error: str | None = None
        #: Writes neither acknowledged by the store nor journaled.
        self.lost = 0
        self.journaled = 0
        self.gave_up = False
        # Whether dedup_keys was empty when this writer first wrote one: then a key
        # exists only if this run (or another writer meanwhile) made it, which the
        # insert's E11000 catches, so no existence query is needed.
        self._keys_fresh: bool | None = None
        # Whether the server is nx-27017 (newsspider.store.nx27017): asked at the first batch
        # unless the caller knows.
        self._nx27017 = nx27017

    # -- producer side --------------------------------------------------------

    async def put(self, op: Op) -> None:
        """Enqueue from the reactor thread; waits (without blocking it) while the queue is full.

        Once the writer thread has died the op is journaled right here (or counted lost).
        """
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet.defer import Deferred

        self._check_open()
        while True:
            waiter: Deferred[None] = Deferred()
            if self.queue.offer(op, waiter):
                return
            if self.queue.closed:
                self._place_orphans([op])
                return
            await maybe_deferred_to_future(waiter)

    def put_blocking(self, op: Op) -> None:
        """Enqueue from a plain thread (CLI, benchmarks); blocks while the queue is full."""
        self._check_open()
        if not self.queue.put_blocking(op):
            self._place_orphans([op])

    def _check_open(self) -> None:
        if self._stopping:
            raise RuntimeError("the store writer is closed")

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="newsspider-store-writer", daemon=True)
        self._thread.start()

    def flush(self, timeout: float) -> bool:
        """Block until everything enqueued so far is written; False after ``timeout`` s."""
        return self._ask("_flush_token", "_flushed_token", timeout)

    def settle(self, timeout: float) -> bool:
        """While the store is unreachable, journal every queued write now (or count it lost).

        For the end of a crawl whose final flush timed out: afterwards every
        write enqueued so far is acknowledged, journaled or counted in
        :attr:`lost`, so the health checks see the outcome.  False after ``timeout`` s.
        """
        # A dead writer placed everything it held when it died.
        return self._ask("_settle_token", "_settled_token", timeout) or self._error is not None

    def _ask(self, asked: str, answered: str, timeout: float) -> bool:
        """Bump the ``asked`` token, wake the thread, wait up to ``timeout`` s for it to echo
        the token in ``answered`` (at the end of an iteration that began after the request:
        ops taken off the queue but not yet written can't hide)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            token = getattr(self, asked) + 1
            setattr(self, asked, token)
        self.queue.wake()
        with self._idle:
            while getattr(self, answered) < token:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return False
                self._idle.wait(min(left, 0.5))
        return True

    def close(self, timeout: float) -> int:
        """Write what is left, for up to ``timeout`` s, then journal the rest.

        Returns (and keeps in :attr:`journaled`) how many writes are left in the
        journal for the next open.
        """
        with self._idle:
            self._stopping = True
            self._stop_deadline = time.monotonic() + timeout
        self.queue.wake()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.journal.seal()
        self.journaled = self.journal.count()
        return self.journaled

    @property
    def failing(self) -> bool:
        """The last write attempt failed (an outage being retried)."""
        return self._failing

    def _is_idle(self) -> bool:
        return not self._pending and not len(self.queue) and not self._journal_dirty

    # -- the writer thread ----------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        # Whatever kills the thread (a bug, MemoryError…): the crawl must hear of
        # it and no write may vanish.  Logged with its traceback, not re-raised
        # (threading's excepthook would only print it again).
        except BaseException as exc:
            self._error = exc
            logger.exception("store writer thread died: the crawl stops; unwritten writes go "
                             "to the journal %s", self.journal.directory)
            self._set("writer_died", 1)
            self._place_orphans(self._take_everything(close_queue=True))
            self._alarm(WRITER_DIED)
        finally:
            with self._idle:
                self._idle.notify_all()

    def _place_orphans(self, ops: list[Op]) -> None:
        """Writes no thread will take (it died): journal them, or count them lost."""
        if not ops:
            return
        try:
            placed = self._spill(ops)
        # The thread is gone and these writes are all that is left of them:
        # whatever journaling them raises, they are counted lost, loudly.
        except Exception as exc:  # noqa: BLE001
            logger.error("journaling %d writes failed: %s: %s", len(ops), type(exc).__name__, exc)
            placed = False
        if not placed:
            self._lose(ops)

    def _alarm(self, reason: str) -> None:
        if self.on_alarm is not None:
            self.on_alarm(reason)

    def _journal_broken(self, exc: OSError) -> None:
        """The journal cannot be written: say so once, and raise the alarm if the store is down."""
        first = self.journal_error is None
        self.journal_error = f"{type(exc).__name__}: {exc}"
        if first:
            self._set("journal_unwritable", 1)
            logger.error(
                "the store is unreachable and its journal %s cannot be written (%s): nothing "
                "is safe any more, so the crawl stops; %d writes held in memory are written if "
                "the store comes back before the close timeout, else lost",
                self.journal.directory, self.journal_error, len(self._pending) + len(self.queue),
            )
            self._alarm(JOURNAL_UNWRITABLE)

    def _lose(self, ops: list[Op]) -> None:
        self.lost += len(ops)
        self._inc("lost", len(ops))
        kinds = Counter(op.kind for op in ops)
        logger.error(
            "%d writes lost (%s), neither written to the store nor journaled (%s); first: %s",
            len(ops), ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
            self.journal_error or "the journal failed", [op.key for op in ops[:5]],
        )

    def _loop(self) -> None:
        while True:
            now = time.monotonic()
            wait = self.flush_seconds
            if self._oldest_pending_at is not None:
                wait = max(0.0, self._oldest_pending_at + self.flush_seconds - now)
            if self._failing:
                wait = max(0.0, self._retry_at - now)
            flush_requested = self._flush_token > self._flushed_token
            if self._stopping or flush_requested:
                # Write what is queued now (while failing, retry at least every
                # 0.05 s): the wake() of a flush or close sent while a batch was
                # being written is gone, and waiting for one held every flush up
                # to 0.05 s.
                wait = min(wait, 0.05) if self._failing else 0.0
            room = self.batch_size - len(self._pending) if not self._failing else self.batch_size
            taken = self.queue.take(max(room, 1), wait, wanted=max(room, 1))
            if taken:
                if self._oldest_pending_at is None:
                    self._oldest_pending_at = time.monotonic()
                self._pending.extend(taken)

            now = time.monotonic()
            due = (
                len(self._pending) >= self.batch_size
                or (self._oldest_pending_at is not None
                    and now - self._oldest_pending_at >= self.flush_seconds)
                or flush_requested
                or self._stopping
                or self._journal_dirty
            )
            backing_off = self._failing and now < self._retry_at
            if due and (self._pending or self._journal_dirty) and not backing_off:
                self._flush_pending()
            if len(self._pending) > self.max_pending and self.journal_error is None:
                excess = [self._pending.popleft() for _ in range(len(self._pending) - self.max_pending)]
                if not self._spill(excess):
                    self._pending.extendleft(reversed(excess))  # kept in memory, still retried
            settle = self._settle_token > self._settled_token
            if settle and self._failing and (self._pending or len(self.queue)):
                self._settle_now()

            with self._idle:
                if self._is_idle():
                    self._flushed_token = self._flush_token
                if settle and (self._failing or self._is_idle()):
                    self._settled_token = self._settle_token
                self._idle.notify_all()
                stopping, deadline = self._stopping, self._stop_deadline
            if stopping and not len(self.queue):
                if not self._pending and not self._journal_dirty:
                    self._close_parked()
                    return
                if time.monotonic() >= deadline:
                    self._give_up()
                    return

    def _flush_pending(self) -> None:
        """Replay the journal, then write pending ops batch by batch; stop at an outage."""
        try:
            if self._journal_dirty:
                self._replay_journal()
            while self._pending:
                chunk = [self._pending[i] for i in range(min(self.batch_size, len(self._pending)))]
                self._write(chunk)
                for _ in chunk:
                    self._pending.popleft()
            self._oldest_pending_at = None
            if self._failing:
                logger.info("store is reachable again; writes resumed")
            self._failing = False
            self._delay = self.retry_base_delay
        except (ConnectionFailure, PyMongoError) as exc:
            # Outage or store-side failure: keep the ops, retry later with backoff.
            if not self._failing and self.journal_error is None:
                # The journal is all that is left now: make sure it can take them.
                try:
                    self.journal.probe()
                except OSError as broken:
                    self._journal_broken(broken)
            self._inc("retries")
            self._retry_at = time.monotonic() + self._delay
            log = logger.warning if not self._failing else logger.debug
            log("store write failed (%s: %s); retrying in %.1fs, %d items pending",
                type(exc).__name__, exc, self._delay, len(self._pending))
            self._failing = True
            self._delay = min(self._delay * 2, self.retry_max_delay)

    def _replay_journal(self) -> None:
        self.journal.seal()  # our own file becomes replayable; new spills start a new file
        quarantined = self.journal.quarantined
        try:
            for path, ops in self.journal.replayable(Op.from_record):
                for start in range(0, len(ops), self.batch_size):
                    self._replay_batch(path, ops[start:start + self.batch_size])
                self.journal.done(path)
                self._inc("replayed", len(ops))
                logger.info("replayed %d journaled writes from %s", len(ops), path)
        finally:
            if self.journal.quarantined > quarantined:
                self._inc("journal_quarantined", self.journal.quarantined - quarantined)
        self._journal_dirty = False

    def _replay_batch(self, path: Path, ops: list[Op]) -> None:
        """Write journaled ops; a batch that fails other than by an outage is quarantined.

        Records come from disk: well-formed is all :meth:`Op.from_record` can
        promise, and a value that trips the writer up (a string where a number
        belongs…) must cost those records, not the writer.
        """
        try:
            self._write(ops)
        except PyMongoError:
            raise  # an outage: the file stays and is replayed later
        # Untrusted records, and the writer must survive them: whatever else writing
        # them raises, they go to the quarantine with that reason.
        except Exception as exc:
            if len(ops) > 1:
                # Find the culprit: one at a time (idempotent upserts, so the
                # part of the batch already written is simply written again).
                for op in ops:
                    self._replay_batch(path, [op])
                return
            reason = f"{type(exc).__name__}: {exc}"[:300]
            if not self.journal.quarantine_records(path, [op.to_record() for op in ops], reason):
                raise

    def _spill(self, ops: list[Op]) -> bool:
        """Journal ``ops``; False (nothing journaled, the alarm raised) when the journal fails."""
        if not ops:
            return True
        try:
            with self._journal_lock:
                written = self.journal.append(op.to_record() for op in ops)
        except OSError as exc:
            self._journal_broken(exc)
            return False
        self._journal_dirty = True
        self._inc("spilled", written)
        logger.warning("store unreachable: %d writes journaled to %s", written, self.journal.directory)
        return True

    def _settle_now(self) -> None:
        ops = list(self._pending) + self.queue.take(len(self.queue) + 1, 0)
        self._pending.clear()
        self._oldest_pending_at = None
        if not self._spill(ops):
            self._lose(ops)

    def _give_up(self) -> None:
        self.gave_up = True
        leftover = self._take_everything(close_queue=False)
        if not self._spill(leftover):
            self._lose(leftover)

    def _take_everything(self, *, close_queue: bool) -> list[Op]:
        """Every op still held: pending, queued (the queue closed too if asked), parked."""
        queued = self.queue.close() if close_queue else self.queue.take(len(self.queue) + 1, 0)
        ops = list(self._pending) + queued
        for parked in self._parked.values():
            ops.extend(parked)
        self._pending.clear()
        self._parked.clear()
        return ops

    def _close_parked(self) -> None:
        # A merge still parked at close points at an article that never came
        # (e.g. it was dropped after dedup): nothing to merge into.
        orphans = sum(len(ops) for ops in self._parked.values())
        if orphans:
            logger.warning("%d duplicate merges had no article to merge into: %s",
                           orphans, sorted(self._parked)[:10])
            self._inc("merges_orphaned", orphans)
        self._parked.clear()

    # -- one batch ------------------------------------------------------------

    def _write(self, chunk: list[Op]) -> None:
        """Write ``chunk`` (and due parked merges); drop only ops the store refuses for good."""
        ops = list(chunk)
        conflicts = 0
        while True:
            try:
                parked, counts = self._write_once(ops)
            except _InsertConflict:
                # Another writer (a scale-out worker) inserted one of these
                # articles after our read: read again and replace instead.
                conflicts += 1
                if conflicts > 3:
                    raise
                continue
            except _BadOp as bad:
                logger.error("store refused %s %s, dropped: %s", bad.op.kind, bad.op.key, bad.reason)
                self._inc("write_errors")
                ops = [op for op in ops if op is not bad.op]
                continue
            self._parked = parked
            self._count(counts)
            return

    def _write_once(self, ops: list[Op]) -> tuple[dict[str, list[Op]], _Counts]:
        if self._nx27017 is None:  # outside the batch's transaction: MongoDB refuses it inside
            self._nx27017 = is_nx27017(self.db)
        if not self.batch_transactions:
            return self._write_batch(ops)
        with batch_transaction(self.db.client) as session:
            self._session = session
            try:
                written = self._write_batch(ops)
            finally:
                self._session = None
        return written

    def _write_batch(self, ops: list[Op]) -> tuple[dict[str, list[Op]], _Counts]:
        counts = _Counts()
        parked = {key: list(value) for key, value in self._parked.items()}
        article_ids = {op.doc["url"] for op in ops if op.kind == ARTICLE}
        wanted = article_ids | {op.doc["target"] for op in ops if op.kind == MERGE}
        state: dict[str, dict[str, Any]] = {}
        if wanted:
            for doc in self.db.articles.find({"_id": {"$in": sorted(wanted)}}, _STATE_PROJECTION,
                                            session=self._session):
                state[doc["_id"]] = doc
        reject_state = self._stored_rejects(ops)

        revisions: list[tuple[Op, ReplaceOne]] = []
        articles: list[tuple[Op, InsertOne | ReplaceOne | UpdateOne]] = []
        aliases: list[tuple[Op, ReplaceOne]] = []
        keys: list[tuple[Op, str, str]] = []
        rejects: list[tuple[Op, ReplaceOne]] = []
        runs: list[tuple[Op, ReplaceOne]] = []
        written_at = utcnow()  # updated_at of what this batch changes
        nx = bool(self._nx27017)
        # url -> (what its listing rows are made of before this batch, after its last op, that op)
        listing: dict[str, tuple[tuple[Any, ...], tuple[Any, ...], Op]] = {}
        for op in ops:
            if op.kind == ARTICLE:
                url = op.doc["url"]
                before = listing[url][0] if url in listing else row_source(state.get(url))
                articles.append(
                    (op, self._plan_article(op, state, revisions, keys, counts, written_at)))
                listing[url] = (before, row_source(state[url]), op)
                for merge in parked.pop(op.doc["url"], ()):
                    articles.append((merge, _merge_update(merge, state, written_at, nx)))
                    aliases.extend(_alias_upserts(merge))
                    counts.merged += 1
            elif op.kind == MERGE:
                if op.doc["target"] in state:
                    articles.append((op, _merge_update(op, state, written_at, nx)))
                    aliases.extend(_alias_upserts(op))
                    counts.merged += 1
                else:
                    parked.setdefault(op.doc["target"], []).append(op)
            elif op.kind == REJECT:
                doc = dict(op.doc)
                doc["item"] = json_safe(doc.get("item") or {})  # the schema: JSON types only
                doc.setdefault("at", op.at)
                doc["_id"] = f"{doc.get('portal')}:{doc.get('url')}"
                doc.update(reject_keys(doc))
                if _repeat_reject(doc, reject_state.get(doc["_id"])):
                    counts.rejects_repeated += 1
                reject_state[doc["_id"]] = doc
                rejects.append((op, ReplaceOne({"_id": doc["_id"]}, doc, upsert=True)))
                counts.rejects += 1
            elif op.kind == RUN:
                doc = {**op.doc, **run_keys(op.doc)}
                runs.append((op, ReplaceOne({"_id": doc["_id"]}, doc, upsert=True)))
                counts.runs += 1
            else:
                raise _BadOp(op, f"unknown op kind {op.kind!r}")

        # Archive before overwriting: if the article write is then interrupted,
        # the retry recomputes the same archive (same _id) and loses nothing.
        # The listing rows likewise, from the article as stored before.
        self._bulk("article_revisions", revisions)
        self._write_listing(listing)
        for collection, planned in (("articles", articles), ("url_aliases", aliases)):
            self._bulk(collection, planned)
        self._write_dedup_keys(keys)
        for collection, planned in (("rejects", rejects), ("runs", runs)):
            self._bulk(collection, planned)
        self._inc("flushes")
        return parked, counts

    def _stored_rejects(self, ops: list[Op]) -> dict[str, dict[str, Any]]:
        """The stored ``rejects`` documents the batch's rejects replace (one ``_id`` query)."""
        ids = sorted({f"{op.doc.get('portal')}:{op.doc.get('url')}" for op in ops if op.kind == REJECT})
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), KEY_COMMAND_CHUNK):
            for doc in self.db.rejects.find({"_id": {"$in": ids[start:start + KEY_COMMAND_CHUNK]}},
                                            _REJECT_PROJECTION, session=self._session):
                found[doc["_id"]] = doc
        return found

    def _plan_article(
        self,
        op: Op,
        state: dict[str, dict[str, Any]],
        revisions: list[tuple[Op, ReplaceOne]],
        keys: list[tuple[Op, str, str]],
        counts: _Counts,
        written_at: datetime,
    ) -> ReplaceOne | InsertOne:
        doc = op.doc
        url = doc["url"]
        new = {k: v for k, v in doc.items() if k not in BOOKKEEPING}
        new.update(_id=url, last_crawled_at=op.at, schema_version=1)
        previous = state.get(url)
        if previous is None:
            new.update(first_seen_at=op.at, updated_at=written_at, alternate_urls=[], revision=1)
            counts.inserted += 1
            keys.extend((op, key, ref) for key, ref in dedup_key_refs(url, new.get("simhash")))
            state[url] = dict(new, alternate_urls=[])
            # New by the batch's read: an insert is cheaper than a replace-upsert on nx-27017.
            return InsertOne(new)
        else:
            revision = int(previous.get("revision") or 1)
            new.update(
                first_seen_at=previous.get("first_seen_at") or op.at,
                updated_at=previous.get("updated_at") or written_at,
                alternate_urls=list(previous.get("alternate_urls") or []),
                revision=revision,
            )
            if previous.get("content_hash") != doc.get("content_hash"):
                archive = {name: previous.get(name) for name in REVISION_FIELDS}
                archive.update(_id=f"{url}#r{revision}", url=url, revision=revision, archived_at=op.at)
                revisions.append((op, ReplaceOne({"_id": archive["_id"]}, archive, upsert=True)))
                new.update(revision=revision + 1, updated_at=written_at)
                counts.revised += 1
                keys.extend((op, key, ref) for key, ref in dedup_key_refs(url, new.get("simhash")))
            elif changed_fields(previous, new):
                new.update(updated_at=written_at)
                counts.changed += 1
            else:
                counts.unchanged += 1
        # Later ops on the same URL in this batch build on this version.
        state[url] = dict(new, alternate_urls=list(new["alternate_urls"]))
        return ReplaceOne({"_id": url}, new, upsert=True)

    def _bulk(self, collection: str, planned: list[tuple[Op, Any]]) -> None:
        if not planned:
            return
        try:
            self.db[collection].bulk_write([request for _, request in planned], ordered=True,
                                           session=self._session)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or []
            if not errors:
                raise
            first = errors[0]
            if first.get("code") == 11000 and isinstance(planned[first["index"]][1], InsertOne):
                raise _InsertConflict(str(first.get("errmsg"))) from exc
            raise _BadOp(planned[first["index"]][0], str(first.get("errmsg"))) from exc
        except InvalidDocument as exc:
            for op, _request in planned:
                try:
                    bson.encode(op.doc)
                except InvalidDocument as bad:
                    raise _BadOp(op, str(bad)) from exc
            raise

    def _write_listing(self, listing: dict[str, tuple[tuple[Any, ...], tuple[Any, ...], Op]]) -> None:
        """``article_keys`` rows: a raw unordered ``insert`` for new articles' rows
        (about 25 each; a row already there from an interrupted attempt is the
        same row), upserts and deletes for the rare article whose title, date or
        portal changed."""
        inserts: list[tuple[Op, dict[str, Any]]] = []
        upserts: list[tuple[Op, ReplaceOne]] = []
        deletes: list[str] = []
        for source_before, source_after, op in listing.values():
            if source_before == source_after:
                continue  # a re-crawl that changed none of what the rows are made of
            new, changed, gone = row_changes(rows_of(source_before), rows_of(source_after))
            inserts += [(op, row) for row in new]
            upserts += [(op, ReplaceOne({"_id": row["_id"]}, row, upsert=True)) for row in changed]
            deletes += gone
        for start in range(0, len(inserts), KEY_COMMAND_CHUNK):
            chunk = inserts[start:start + KEY_COMMAND_CHUNK]
            errors = insert_rows(self.db, [row for _, row in chunk], session=self._session)
            if errors:
                raise _BadOp(chunk[int(errors[0].get("index", 0))][0], str(errors[0].get("errmsg")))
        self._bulk(ARTICLE_KEYS, upserts)
        for start in range(0, len(deletes), KEY_COMMAND_CHUNK):
            self.db[ARTICLE_KEYS].delete_many(
                {"_id": {"$in": deletes[start:start + KEY_COMMAND_CHUNK]}}, session=self._session)

    def _write_dedup_keys(self, planned: list[tuple[Op, str, str]]) -> None:
        """Band keys: an insert where the key is new, a ``$push`` upsert where it exists.

        Four per new body.  One ``_id`` query tells which exist (none when
        ``dedup_keys`` was empty as this writer began: E11000 tells); on nx-27017 an
        insert costs half an upsert (which reads first), and on a young store
        most keys are new.  A key another writer creates between the query and
        the insert fails that insert alone (unordered, E11000); its references
        are then pushed like any existing key's.  Raw ``insert``/``update``
        commands, not ``bulk_write``: building an op object per key and pymongo's
        bulk bookkeeping cost more client CPU than the round trips.
        """
        if not planned:
            return
        if self._keys_fresh is None:
            self._keys_fresh = self.db[DEDUP_KEYS].find_one({}, {"_id": 1}, session=self._session) is None
        existing: set[str] = set()
        unknown = [] if self._keys_fresh else sorted({key for _, key, _ in planned})
        for start in range(0, len(unknown), KEY_COMMAND_CHUNK):
            chunk = unknown[start:start + KEY_COMMAND_CHUNK]
            existing.update(d["_id"] for d in self.db[DEDUP_KEYS].find(
                {"_id": {"$in": chunk}}, {"_id": 1}, session=self._session))
        self._store_dedup_keys(planned, existing)

    def _store_dedup_keys(self, planned: list[tuple[Op, str, str]], existing: set[str]) -> None:
        """Insert the keys not in ``existing``, push to the others (and to any inserted meanwhile)."""
        new: dict[str, tuple[Op, list[str]]] = {}
        pushes: list[tuple[Op, str, list[str]]] = []
        for op, key, ref in planned:
            if key in existing:
                pushes.append((op, key, [ref]))
            elif key in new:
                new[key][1].append(ref)  # two bodies of this batch share a band value
            else:
                new[key] = (op, [ref])
        fresh = list(new.items())
        for start in range(0, len(fresh), KEY_COMMAND_CHUNK):
            chunk = fresh[start:start + KEY_COMMAND_CHUNK]
            reply = self.db.command("insert", DEDUP_KEYS, ordered=False,
                                    documents=[{"_id": key, "refs": refs} for key, (_, refs) in chunk],
                                    session=self._session)
            for error in reply.get("writeErrors") or []:
                key, (op, refs) = chunk[int(error.get("index", 0))]
                if error.get("code") != 11000:
                    raise _BadOp(op, str(error.get("errmsg")))
                pushes.append((op, key, refs))  # created meanwhile by another writer
        for start in range(0, len(pushes), KEY_COMMAND_CHUNK):
            chunk_pushes = pushes[start:start + KEY_COMMAND_CHUNK]
            reply = self.db.command("update", DEDUP_KEYS, ordered=True, updates=[
                {"q": {"_id": key}, "u": {"$push": {"refs": {"$each": refs}}}, "upsert": True}
                for _, key, refs in chunk_pushes
            ], session=self._session)
            errors = reply.get("writeErrors") or []
            if errors:
                first = errors[0]
                raise _BadOp(chunk_pushes[int(first.get("index", 0))][0], str(first.get("errmsg")))

    # -- stats ----------------------------------------------------------------

    def _count(self, counts: _Counts) -> None:
        for name in ("inserted", "unchanged", "changed", "revised", "merged", "rejects",
                     "rejects_repeated", "runs"):
            value = getattr(counts, name)
            if value:
                self._inc(name, value)
        updated = counts.unchanged + counts.changed + counts.revised
        if updated:
            self._inc("updated", updated)

    def _inc(self, name: str, count: int = 1) -> None:
        if self.stats is not None:
            on_reactor(self.stats.inc_value, STAT + name, count)

    def _set(self, name: str, value: Any) -> None:
        if self.stats is not None:
            on_reactor(self.stats.set_value, STAT + name, value)


def _merge_update(
    op: Op, state: dict[str, dict[str, Any]], written_at: datetime, nx27017: bool
) -> UpdateOne:
    # Keep the batch's view current: a later re-crawl of the target in this
    # batch replaces the document and must carry these URLs (and the change) along.
    target = state[op.doc["target"]]
    known = target.setdefault("alternate_urls", [])
    added = [u for u in op.doc["urls"] if u not in known]
    known.extend(added)
    update: dict[str, Any] = {"$addToSet": {"alternate_urls": {"$each": list(op.doc["urls"])}}}
    if added:
        target["updated_at"] = written_at
        update["$set"] = {"updated_at": date_operand(written_at, nx27017)}
    return UpdateOne({"_id": op.doc["target"]}, update)


def _repeat_reject(doc: dict[str, Any], previous: dict[str, Any] | None) -> bool:
    """Set ``repeated`` and ``first_at`` on a reject document; whether it repeats the stored one.

    A repeat is a reject of the same URL for the same ``reason`` as the one
    already recorded (a known-broken page fetched again): ``repeated`` counts
    them, ``first_at`` is when that reason was first recorded.  The batch's own
    write found by its retry (same ``at``) is the same reject, not a repeat of it.
    """
    repeated, first_at = 0, doc["at"]
    if previous is not None:
        reason = previous.get("reason") or reject_keys(previous)["reason"]
        if _as_stored(previous.get("at")) == _as_stored(doc["at"]):
            repeated = int(previous.get("repeated") or 0)
            first_at = previous.get("first_at") or doc["at"]
        elif reason == doc["reason"]:
            repeated = int(previous.get("repeated") or 0) + 1
            first_at = previous.get("first_at") or previous.get("at") or doc["at"]
    doc.update(repeated=repeated, first_at=first_at)
    return repeated > 0


def changed_fields(previous: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The fields (but :data:`UNWATCHED`) whose values differ between two versions of an article.

    Compared as stored: dates to the millisecond in UTC, tuples as lists, a
    missing field as ``None``.
    """
    names = (previous.keys() | new.keys()) - UNWATCHED
    return sorted(n for n in names if _as_stored(previous.get(n)) != _as_stored(new.get(n)))


def _as_stored(value: Any) -> Any:
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, dict):
        return {key: _as_stored(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_stored(item) for item in value]
    return value


def dedup_key_refs(url: str, simhash: Any) -> list[tuple[str, str]]:
    """``(dedup_keys _id, reference)`` of a stored body: one per SimHash band, ``"<simhash>|<url>"``.

    Near-duplicate lookups then read a whole batch of items' band keys with one
    ``_id`` query (see newsspider.pipelines.dedup); on nx-27017 a query on any
    other field, scalar ``$in`` included, scans the collection.  References are
    strings because nx-27017 stores a pushed sub-document as JSON text.
    """
    if simhash is None:
        return []
    from newsspider.store.store import dedup_keys

    ref = f"{int(simhash)}|{url}"
    return [(key, ref) for key in dedup_keys(int(simhash))]


def dedup_key_pushes(url: str, simhash: Any) -> list[dict[str, Any]]:
    """:func:`dedup_key_refs` as ``$push`` upsert statements of a raw ``update`` command."""
    return [
        {"q": {"_id": key}, "u": {"$push": {"refs": ref}}, "upsert": True}
        for key, ref in dedup_key_refs(url, simhash)
    ]


def _alias_upserts(op: Op) -> list[tuple[Op, ReplaceOne]]:
    """``url_aliases`` documents: a duplicate's URL → the article it was merged into.

    Keyed by ``_id`` so incremental crawls can skip a known duplicate with the
    same cheap ``_id`` lookup as a stored article (an ``alternate_urls`` array
    query would scan the collection on nx-27017).
    """
    return [
        (op, ReplaceOne({"_id": url}, {"_id": url, "article": op.doc["target"], "at": op.at},
                        upsert=True))
        for url in op.doc["urls"]
    ]


def on_reactor(func: Callable[..., Any], *args: Any) -> None:
    """Call ``func`` on the reactor thread when a reactor runs, else right here.

    Stats are a plain dict the reactor thread iterates (log lines, the runs
    document); adding a key from the writer thread meanwhile could break that.
    """
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is not None and getattr(reactor, "running", False) and not _in_reactor_thread():
        reactor.callFromThread(func, *args)
    else:
        func(*args)


def _in_reactor_thread() -> bool:
    from twisted.python import threadable

    return bool(threadable.isInIOThread())


def _wake_on_reactor(waiters: Iterable[Deferred[None]]) -> None:
    """Fire producers' Deferreds on the reactor thread (called from the writer thread)."""
    from twisted.internet import reactor

    for waiter in waiters:
        reactor.callFromThread(_fire, waiter)  # type: ignore[attr-defined]


def _fire(waiter: Deferred[None]) -> None:
    if not waiter.called:
        waiter.callback(None)
