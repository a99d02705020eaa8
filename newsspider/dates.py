"""The one rule for publication dates read from pages and feeds: plausible, or missing.

A date printed on a page is data from the portal: year 0001 (a placeholder),
9999 (a "never expires" default), a typo.  Any date outside
:data:`EARLIEST` … now + :data:`FUTURE_SLACK` is treated as missing: the
extractors keep its raw text and report it (stat
``newsspider/spider/dates_out_of_range``), and exports never order by a
stored ``published_at`` beyond that horizon (:func:`horizon`).  Two days of
slack cover time zones and portals that date an article for the next morning.

Reads no settings, writes no stats.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

__all__ = ["EARLIEST", "FUTURE_SLACK", "horizon", "local_to_utc", "plausible"]

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=2)


def horizon(now: datetime | None = None) -> datetime:
    """The latest publication time believed: ``now`` (default: the clock) + two days."""
    return (now or datetime.now(UTC)) + FUTURE_SLACK


def plausible(value: datetime | None, now: datetime | None = None) -> bool:
    """Whether ``value`` (aware) lies in 1970-01-01 … :func:`horizon`; False for None."""
    if value is None:
        return False
    try:
        return EARLIEST <= value <= horizon(now)
    except TypeError:  # naive: compare as UTC
        return EARLIEST <= value.replace(tzinfo=UTC) <= horizon(now)


def local_to_utc(local: datetime, tz: tzinfo) -> datetime | None:
    """``local`` (naive, read in ``tz``) as UTC; None when that falls outside ``datetime``'s
    range (year 0001 east of Greenwich, 9999 west of it) instead of ``OverflowError``."""
    try:
        return local.replace(tzinfo=tz).astimezone(UTC)
    except (OverflowError, ValueError):
        return None
