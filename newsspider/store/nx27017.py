"""nx-27017, the embedded store: every place it answers differently from MongoDB.

The one module that knows the embedded store differs.  Everything else in
``newsspider.store``, the exports and the dashboard is plain pymongo; where
a difference shapes a read or a write, the code calls a function of this
module, and the stored documents are the same on both servers (docs/schema.md)
— except the dashboard's ``article_keys`` rows, the one schema-visible
adaptation, described last.  Detected by :func:`is_nx27017` (``buildInfo``
answers ``process: "nx_27017"``, and ``version: "7.0.0"`` whatever its own
release is).  Each difference was seen on nx-27017 **0.8.1** and has a test on
a real nx-27017 in ``tests/test_store_nx27017.py`` that fails when it is gone.

* **Date comparisons are at whole seconds.**  ``$gt``/``$gte``/``$lt``/``$lte``
  on a date compare SQLite ``datetime()`` values, which drop the
  milliseconds: ``{"updated_at": {"$gt": t}}`` misses a document stamped
  later within t's second, ``$gte`` returns earlier ones of that second.
  Adapted: :func:`date_lower_bound` is a ``$gte`` bound right on both servers
  (the start of t's second); the caller drops what sorts at or before t itself.
* **A date range never uses an index.**  The statement nx-27017 executes
  compares ``datetime(COALESCE(json_extract(data, '$.f."$date"'),
  json_extract(data, '$.f')))``, which no index matches, so every document
  is read — while ``explain`` reports ``SEARCH … USING INDEX`` (it plans
  another statement).  A sort on an indexed date, without a date filter, does
  use the index.  Not adapted for exports: the query stays right, and costs a
  scan on nx-27017 (docs/exports.md gives the figure).  Adapted for the
  dashboard: see *listing keys* below.
* **Only an ``_id`` query is an index lookup.**  A scalar ``$in`` on an
  indexed field (and an array field, ``$or``) reads every row: 176 ms at
  20,000 articles.  Adapted: every lookup a crawl makes is an ``_id`` ``$in``
  (``dedup_keys``, ``url_aliases``, known articles: newsspider.store.store), the
  same query on MongoDB.
* **A string that begins like a date is compared as one.**  A range on a
  string field whose bound starts ``2024-05-01…`` goes the way of a date
  range (``datetime()``, no index, every matching row read and sorted in
  Python); a range on any other string is an index range with ``ORDER BY …
  LIMIT``, on nx-27017 as on MongoDB.  Adapted: no listing key begins with a
  digit (:mod:`newsspider.store.listing`).
* **No ``_id`` in a compound index**: ``createIndexes`` fails with "JSON path
  error near '_id'" on a collection holding documents, and on one that does
  not exist yet it succeeds, after which every insert fails that way.
  Adapted: :func:`keyset_index` is ``(field, _id)`` on MongoDB, ``field``
  alone on nx-27017.
* **``$set`` of a datetime on an existing document stores a string**
  (``"YYYY-MM-DD HH:MM:SS.ffffff"``).  Adapted: the writer replaces whole
  documents; where it must update one field (a merge's ``updated_at``) it
  sets :func:`date_operand`: on nx-27017 the ``{"$date": …}`` object its
  storage holds for a date written by an insert, which reads back as that
  date.  A string written so by an older release still reads as a date
  through :func:`stored_date`.
* **``$currentDate`` stores a date with a ``Z``; an inserted one has no zone**,
  and a sorted query with a date filter then fails for the whole collection
  ("can't compare offset-naive and offset-aware datetimes": nx-27017 sorts
  date-filtered rows in Python).  Adapted: never used here.
* **``$addToSet`` on a missing field does nothing** (MongoDB creates the
  array).  Adapted: the writer gives every new article ``alternate_urls: []``
  (a field the schema has on both servers anyway).
* **A pushed sub-document is stored as JSON text** (``{"a": 1}`` reads back
  as ``'{"a":1}'``).  Adapted: ``dedup_keys.refs`` are strings
  ``"<simhash>|<url>"`` on both servers (newsspider.store.writer).
* **Replacing a document that holds bytes fails** ("Object of type bytes is
  not JSON serializable"; inserting it works).  Nothing adapted here:
  ``rejects.item`` is JSON-safe by schema (newsspider.store.values).
* **A URI with credentials fails the handshake as a ``KeyError``** (nx-27017
  has no authentication; pymongo's SCRAM reads a ``payload`` the answer
  lacks), not as a ``PyMongoError``.  Adapted: :data:`CONNECT_ERRORS`.
* **One transaction for the whole server, never to be aborted.**  nx-27017
  otherwise commits every document on its own (SQLite autocommit); a
  transaction belongs to its one SQLite connection, so an abort undoes what
  *other* clients wrote meanwhile, and ``startTransaction`` followed by a
  ``find`` of a collection that does not exist yet leaves no transaction
  open: ``commitTransaction`` then answers "No session specified".
  Adapted: :func:`batch_transaction` (the writer's batches on the embedded
  store it started itself: one commit per batch took its CPU per stored
  article from ~1.6 to ~1.25 ms in a crawl) always commits, also after a
  failed write, and takes "No session specified" for a commit.
* **Listing keys** (the schema-visible adaptation).  The dashboard pages every
  list newest first by keyset.  On MongoDB that would be a range on
  ``(portal, published_at, _id)``; on nx-27017 such a page is a scan (the
  date range above; ``_id`` ranges go through Python too): 246 ms at 50,000
  articles against 0.7 ms for the same page as a string-key range.  So the
  writer keeps, for the dashboard alone, the ``article_keys`` collection
  (about 25 small rows per article: by date, by portal, by arrival, by title
  token) and ``list_key`` on ``runs`` and ``rejects``
  (:mod:`newsspider.store.listing`) — on both servers, so the dashboard has
  one code path and a database moved from one server to the other lists the
  same.  docs/schema.md names them the dashboard's private index, not part of
  the consumer schema.  Cost, measured: about 1 ms of CPU per article over
  the crawl and its store server, a fifth of a crawl's (3 alternated crawls of
  3,000 replica articles with the rows' writes patched out: medians 5.73
  against 4.76 ms/article; docs/schema.md); memory the same.  A MongoDB-only
  path without them is not written: this project's tests can run no MongoDB.

Reads no settings, writes no stats.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pymongo import ASCENDING, IndexModel
from pymongo.errors import OperationFailure, PyMongoError

if TYPE_CHECKING:
    from pymongo import MongoClient
    from pymongo.client_session import ClientSession

#: The nx-27017 release every difference below was seen on (tests/test_store_nx27017.py checks
#: the installed one is it: after an upgrade, re-run those tests and update the list).
SEEN_ON = "0.8.1"
#: ``buildInfo.process`` of an nx-27017 server (MongoDB's buildInfo has no such field).
NX_PROCESS = "nx_27017"
#: What a first ping can raise: pymongo's errors, and the KeyError of a SCRAM
#: handshake against nx-27017 given a URI with credentials.
CONNECT_ERRORS: tuple[type[Exception], ...] = (PyMongoError, KeyError)


def is_nx27017(db: Any) -> bool:
    """Whether ``db`` (a pymongo Database) is served by nx-27017."""
    info = db.client.admin.command("buildInfo")
    return info.get("process") == NX_PROCESS


def date_lower_bound(value: datetime) -> datetime:
    """The ``$gte`` bound that keeps every date at or after ``value`` on both servers."""
    return value.replace(microsecond=0)


def date_operand(value: datetime, nx27017: bool) -> Any:
    """``value`` as a ``$set`` operand that stores a date (on nx-27017 when ``nx27017``)."""
    if not nx27017:
        return value
    utc = value.astimezone(UTC) if value.tzinfo is not None else value
    return {"$date": utc.replace(tzinfo=None).isoformat()}


def stored_date(value: Any) -> datetime | None:
    """A stored date: a datetime, or the ``"YYYY-MM-DD HH:MM:SS[.ffffff]"`` string nx-27017 0.8
    made of a ``$set`` datetime (naive values are UTC); None for anything else."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@contextmanager
def batch_transaction(client: MongoClient[Any]) -> Iterator[ClientSession]:
    """A session in a transaction that is committed on leaving, also when the block raised.

    For the embedded store: never aborted (an abort would undo other clients'
    writes), and a transaction nx-27017 did not open counts as committed.
    """
    with client.start_session() as session:
        session.start_transaction()
        try:
            yield session
        except BaseException:
            with suppress(PyMongoError):
                _commit(session)
            raise
        _commit(session)


def _commit(session: ClientSession) -> None:
    try:
        session.commit_transaction()
    except OperationFailure as exc:
        if "No session specified" not in str(exc):
            raise


def keyset_index(field: str, nx27017: bool) -> IndexModel:
    """The index behind keyset pagination by ``(field, _id)`` (on nx-27017 when ``nx27017``)."""
    if nx27017:
        return IndexModel([(field, ASCENDING)])
    return IndexModel([(field, ASCENDING), ("_id", ASCENDING)])


__all__ = ["CONNECT_ERRORS", "NX_PROCESS", "SEEN_ON", "batch_transaction", "date_lower_bound", "date_operand",
           "is_nx27017", "keyset_index", "stored_date"]
