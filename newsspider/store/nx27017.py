"""nx-27017, the embedded store: where it answers differently from MongoDB (seen on 0.8.1).

Each difference has a test on a real nx-27017 in ``tests/test_store_nx27017.py``.

* **Date comparisons are at whole seconds.**  ``$gt``/``$gte``/``$lt``/``$lte``
  on a date compare SQLite ``datetime()`` values, which drop the
  milliseconds: ``{"updated_at": {"$gt": t}}`` misses a document stamped
  later within t's second, ``$gte`` returns earlier ones of that second.
  :func:`date_lower_bound` is a ``$gte`` bound right on both servers (the
  start of t's second); the caller drops what sorts at or before t itself.
* **A date range never uses an index.**  The statement nx-27017 executes
  compares ``datetime(COALESCE(json_extract(data, '$.f."$date"'),
  json_extract(data, '$.f')))``, which no index matches, so every document
  is read — while ``explain`` reports ``SEARCH … USING INDEX`` (it plans
  another statement).  A sort on an indexed date, without a date filter, does
  use the index.  Nothing is adapted: the query stays right, and costs a
  scan on nx-27017 (docs/exports.md gives the figure).
* **A string that begins like a date is compared as one.**  A range on a
  string field whose bound starts ``2024-05-01…`` goes the way of a date
  range (``datetime()``, no index, every matching row read and sorted in
  Python); a range on any other string is an index range with ``ORDER BY …
  LIMIT``, on nx-27017 as on MongoDB.  The dashboard's listing keys
  (``newsspider.store.listing``) are strings that sort like a date and
  begin with a letter or a sign, so its pages are index ranges on both.
* **No ``_id`` in a compound index**: ``createIndexes`` fails with "JSON path
  error near '_id'" on a collection holding documents, and on one that does
  not exist yet it succeeds, after which every insert fails that way.
  :func:`keyset_index` is ``(field, _id)`` on MongoDB, ``field`` alone on
  nx-27017.
* **``$set`` of a datetime on an existing document stores a string**
  (``"YYYY-MM-DD HH:MM:SS.ffffff"``).  The writer replaces whole documents;
  where it must update one field (a merge's ``updated_at``) it sets
  :func:`date_operand`: on nx-27017 the ``{"$date": …}`` object its storage
  holds for a date written by an insert, which reads back as that date.
* **``$currentDate`` stores a date with a ``Z``; an inserted one has no zone**,
  and a sorted query with a date filter then fails for the whole collection
  ("can't compare offset-naive and offset-aware datetimes": nx-27017 sorts
  date-filtered rows in Python).  Never used here.

Reads no settings, writes no stats.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel

#: ``buildInfo.process`` of an nx-27017 server (MongoDB's buildInfo has no such field).
NX_PROCESS = "nx_27017"


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


def keyset_index(field: str, nx27017: bool) -> IndexModel:
    """The index behind keyset pagination by ``(field, _id)`` (on nx-27017 when ``nx27017``)."""
    if nx27017:
        return IndexModel([(field, ASCENDING)])
    return IndexModel([(field, ASCENDING), ("_id", ASCENDING)])


__all__ = ["NX_PROCESS", "date_lower_bound", "date_operand", "is_nx27017", "keyset_index"]
