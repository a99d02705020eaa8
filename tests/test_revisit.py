"""The revisit rule (newsspider.revisit) as a table, and the back-off it gives a scheduled crawl."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsspider.revisit import is_due, window_of
from newsspider.store.nx27017 import stored_date as as_utc

NOW = datetime(2024, 5, 3, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
S = timedelta(seconds=1)
WINDOW = window_of(48)


@pytest.mark.parametrize(
    ("first_seen", "last_crawled", "due"),
    [
        # Just stored (last crawl = first seen): due on the next run, however soon.
        (NOW - timedelta(minutes=1), NOW - timedelta(minutes=1), True),
        (NOW - 10 * H, NOW - 10 * H, True),
        # Known 4 h when last crawled: due once 2 h have passed since.
        (NOW - 5 * H, NOW - H, False),
        (NOW - 6 * H, NOW - 2 * H, True),
        # …to the second: 2 s older when last crawled waits 1 s longer; 1 s short is not due.
        (NOW - 6 * H - 2 * S, NOW - 2 * H, False),
        (NOW - 6 * H - 2 * S, NOW - 2 * H - S, True),
        (NOW - 6 * H + S, NOW - 2 * H + S, False),
        # Just short of the window: still revisited; at or past it: never again.
        (NOW - 47 * H, NOW - 30 * H, True),
        (NOW - 48 * H, NOW - 48 * H, False),
        (NOW - 100 * H, NOW - 100 * H, False),
        # No last crawl recorded: counts as crawled when first seen.
        (NOW - 3 * H, None, True),
        # Unknown age: not due.
        (None, NOW - H, False),
        ("not a date", NOW - H, False),
        # Naive datetimes are UTC; ISO strings (a date nx-27017 stored from $set) are read.
        ((NOW - 6 * H).replace(tzinfo=None), (NOW - 2 * H).replace(tzinfo=None), True),
        ("2024-05-03 06:00:00", "2024-05-03 10:00:00", True),
        ("2024-05-03T07:00:00+00:00", "2024-05-03T11:00:00+00:00", False),
    ],
)
def test_due_table(first_seen, last_crawled, due: bool) -> None:
    assert is_due(first_seen, last_crawled, NOW, WINDOW) is due


def test_zero_hours_never_revisits() -> None:
    assert window_of(0) is None and window_of(-1) is None
    assert not is_due(NOW - H, NOW - H, NOW, window_of(0))
    assert window_of(0.5) == timedelta(minutes=30)


def test_as_utc_converts_zones() -> None:
    from datetime import timezone

    beijing = datetime(2024, 5, 3, 20, 0, tzinfo=timezone(timedelta(hours=8)))
    assert as_utc(beijing) == datetime(2024, 5, 3, 12, 0, tzinfo=UTC)
    assert as_utc(beijing).tzinfo is UTC
    assert as_utc(12) is None


@pytest.mark.parametrize(("every_minutes", "hours", "expected"), [
    (30, 48, [0.5, 1, 1.5, 2.5, 4, 6, 9, 13.5, 20.5, 31, 46.5]),  # the figure in the docstring
    (60, 48, [1, 2, 3, 5, 8, 12, 18, 27, 41]),
    (30, 0, []),
])
def test_a_scheduled_crawl_revisits_at_growing_intervals(every_minutes, hours, expected) -> None:
    """Ages (hours) at which an article stored by one run is fetched again by the later runs."""
    start = NOW
    last = start
    ages = []
    for run in range(1, 24 * 60 // every_minutes * 5):
        now = start + timedelta(minutes=every_minutes * run)
        if is_due(start, last, now, window_of(hours)):
            ages.append((now - start) / H)
            last = now
    assert ages == expected
