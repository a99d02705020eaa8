"""Read side of every export: the article cursor and the few date helpers all formats share.

Exports stream: one ``find`` on ``articles`` sorted by ``published_at`` descending (the
field the store indexes), read in ``batch_size`` batches, so memory stays flat however
large the collection is.  Filters are the CLI's ``--portal`` and ``--since``.

Settings read: none (the caller hands over a connected pymongo ``Database``).
Stats written: none (exports run outside Scrapy; they return a count and log it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from email.utils import format_datetime
from typing import Any

ARTICLES = "articles"
#: Documents per getMore: big enough to amortise round trips, small enough to stay flat.
DEFAULT_BATCH_SIZE = 200

Document = Mapping[str, Any]


def parse_since(value: str | dt.date | dt.datetime | None) -> dt.datetime | None:
    """``YYYY-MM-DD`` (or a date) to that day's UTC midnight; ``ValueError`` with a reason."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return as_utc(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"--since must be a date as YYYY-MM-DD, got {value!r}") from exc
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


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
    projection: Mapping[str, Any] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limit: int = 0,
) -> Iterator[Document]:
    """Articles newest first, one batch in memory at a time; the cursor is closed on exit.

    Not a generator itself: a bad ``since`` raises here, before any output is opened.
    """
    cursor = db[ARTICLES].find(
        build_query(portal, since),
        projection=dict(projection) if projection is not None else None,
        sort=[("published_at", -1)],
        batch_size=batch_size,
        limit=limit,
    )
    return _drain(cursor)


def _drain(cursor: Any) -> Iterator[Document]:
    with cursor:
        yield from cursor


def as_utc(value: dt.datetime) -> dt.datetime:
    """Aware UTC; naive values are UTC already (pymongo without ``tz_aware=True``)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def article_date(doc: Document) -> dt.datetime | None:
    """``published_at``, else ``first_seen_at`` (an undated article still gets a stable date)."""
    for field in ("published_at", "first_seen_at"):
        value = doc.get(field)
        if isinstance(value, dt.datetime):
            return as_utc(value)
        if isinstance(value, str):
            # nx-27017 0.8 turns a datetime written by ``$set`` into "YYYY-MM-DD HH:MM:SS".
            try:
                return as_utc(dt.datetime.fromisoformat(value))
            except ValueError:
                continue
    return None


def rfc1123(value: dt.datetime) -> str:
    """``Wed, 31 Aug 2022 07:58:00 GMT`` — the seed's ``date:`` and RSS ``pubDate`` (RFC 822)."""
    return format_datetime(as_utc(value), usegmt=True)
