"""Read side of every export: the article cursors and the few date helpers all formats share.

Exports stream: one ``find`` on ``articles``, read in ``batch_size`` batches, so memory
stays flat however large the collection is.  Filters are the CLI's ``--portal`` and
``--since``.  Two orders:

* :func:`iter_articles` — newest first by ``published_at`` (the field the store indexes);
* :func:`iter_changes` (``iter_articles`` with a window) — the change order of
  ``--changed-since`` and ``--state``:
  ``(updated_at, _id)`` ascending from a :class:`Window`, a keyset position (no skip),
  on the store's ``(updated_at, _id)`` index (``updated_at`` alone on nx-27017, where the
  date range also reads every document: newsspider.store.nx27017, docs/exports.md).

A ``published_at`` beyond now + 2 days (``newsspider.dates.horizon``: a 9999
placeholder stored before the extractors refused such dates, or a clock
error) is not trusted for order: newest first, those articles come after
every other one, and :func:`article_date` gives them their ``first_seen_at`` —
so they never sit on top of a feed nor set its ``lastBuildDate``.

Settings read: none (the caller hands over a connected pymongo ``Database``).
Stats written: none (exports run outside Scrapy; they return a count and log it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from email.utils import format_datetime
from typing import Any

from newsspider.dates import horizon
from newsspider.store.nx27017 import date_lower_bound, stored_date

ARTICLES = "articles"
#: Documents per getMore: big enough to amortise round trips, small enough to stay flat.
DEFAULT_BATCH_SIZE = 200
#: The change order: keyset pagination by ``(updated_at, _id)``.
CHANGE_ORDER = [("updated_at", 1), ("_id", 1)]
#: Where an article without ``updated_at`` (written by hand, not by the store) sorts.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

Document = Mapping[str, Any]


def _instant(
    value: str | dt.date | dt.datetime | None, from_text: Callable[[str], dt.datetime]
) -> dt.datetime | None:
    """``None``, an aware UTC datetime, a date's UTC midnight, or ``from_text(value)``."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return as_utc(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return from_text(value.strip())


def _day_text(value: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"--since must be a date as YYYY-MM-DD, got {value!r}") from exc
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _instant_text(value: str) -> dt.datetime:
    try:
        return as_utc(dt.datetime.fromisoformat(value))
    except ValueError as exc:
        raise ValueError(
            "--changed-since must be an ISO 8601 date-time such as 2024-05-01T08:30:00Z "
            f"(UTC unless it has an offset), got {value!r}"
        ) from exc


def parse_since(value: str | dt.date | dt.datetime | None) -> dt.datetime | None:
    """``YYYY-MM-DD`` (or a date) to that day's UTC midnight; ``ValueError`` with a reason."""
    return _instant(value, _day_text)


def parse_changed_since(value: str | dt.date | dt.datetime | None) -> dt.datetime | None:
    """An ISO 8601 instant (UTC unless it has an offset; a date alone is its UTC midnight)."""
    return _instant(value, _instant_text)


@dataclass(frozen=True, order=True, slots=True)
class ChangeKey:
    """Where an article sorts in the change order: ``(updated_at, _id)``."""

    updated_at: dt.datetime
    id: str

    @classmethod
    def of(cls, doc: Document) -> ChangeKey:
        value = doc.get("updated_at")
        at = as_utc(value) if isinstance(value, dt.datetime) else EPOCH
        return cls(at, str(doc["_id"]))


@dataclass(frozen=True, slots=True)
class Window:
    """The changes an export takes: ``updated_at`` at or after ``lower``, except the
    versions in ``exported`` (``_id`` → the ``updated_at`` already exported)."""

    lower: dt.datetime | None = None
    exported: Mapping[str, dt.datetime] = dataclass_field(default_factory=dict)

    def admits(self, key: ChangeKey) -> bool:
        if self.lower is not None and key.updated_at < self.lower:
            return False
        return self.exported.get(key.id) != key.updated_at


def build_query(portal: str | None = None, since: Any = None) -> dict[str, Any]:
    """The ``find`` filter for ``--portal`` / ``--since`` (``published_at >= since`` midnight UTC)."""
    query: dict[str, Any] = {}
    if portal:
        query["portal"] = portal
    since_at = parse_since(since)
    if since_at is not None:
        query["published_at"] = {"$gte": since_at}
    return query


def iter_articles(
    db: Any,
    portal: str | None = None,
    since: Any = None,
    *,
    window: Window | None = None,
    projection: Mapping[str, Any] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limit: int = 0,
) -> Iterator[Document]:
    """Articles newest first — or, with a ``window`` (``--changed-since``, ``--state``), the
    changes it admits in change order — one batch in memory at a time; the cursor is
    closed on exit.

    The change query is ``updated_at >= lower`` (rounded down to its second: nx-27017
    compares dates at whole seconds) sorted by ``(updated_at, _id)``; what sorts before
    the window's exact bound, or was exported at the same ``updated_at``, is dropped here.
    Newest first, those dated beyond :func:`~newsspider.dates.horizon` come last: the sort
    puts them first, and they are held back (only they are kept in memory).
    Not a generator itself: a bad ``since`` raises here, before any output is opened.
    """
    query = build_query(portal, since)
    fields = dict(projection) if projection is not None else None
    if window is None:
        cursor = db[ARTICLES].find(query, projection=fields, sort=[("published_at", -1)],
                                   batch_size=batch_size, limit=limit)
        return _newest_first(cursor, horizon())
    if window.lower is not None:
        query["updated_at"] = {"$gte": date_lower_bound(window.lower)}
    if fields is not None:
        fields["updated_at"] = 1
    cursor = db[ARTICLES].find(query, projection=fields, sort=CHANGE_ORDER, batch_size=batch_size)
    return _admitted(cursor, window, limit)


def iter_changes(db: Any, window: Window, *args: Any, **kwargs: Any) -> Iterator[Document]:
    """:func:`iter_articles` (the same arguments) in change order from ``window``."""
    return iter_articles(db, *args, window=window, **kwargs)


def _newest_first(cursor: Any, later: dt.datetime) -> Iterator[Document]:
    held: list[Document] = []
    with cursor:
        for doc in cursor:
            value = doc.get("published_at")
            if isinstance(value, dt.datetime) and as_utc(value) > later:
                held.append(doc)
            else:
                yield doc
    yield from held


def _admitted(cursor: Any, window: Window, limit: int) -> Iterator[Document]:
    count = 0
    with cursor:
        for doc in cursor:
            if not window.admits(ChangeKey.of(doc)):
                continue
            yield doc
            count += 1
            if limit and count >= limit:
                return


def as_utc(value: dt.datetime) -> dt.datetime:
    """Aware UTC; naive values are UTC already (pymongo without ``tz_aware=True``)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def article_date(doc: Document) -> dt.datetime | None:
    """``published_at``, else ``first_seen_at`` (an undated article still gets a stable date).

    A ``published_at`` beyond :func:`~newsspider.dates.horizon` is not believed either.
    """
    later = horizon()
    for field in ("published_at", "first_seen_at"):
        found = stored_date(doc.get(field))
        if found is not None and (field != "published_at" or found <= later):
            return found
    return None


def rfc1123(value: dt.datetime) -> str:
    """``Wed, 31 Aug 2022 07:58:00 GMT`` — the seed's ``date:`` and RSS ``pubDate`` (RFC 822)."""
    return format_datetime(as_utc(value), usegmt=True)
