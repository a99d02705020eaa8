"""When an incremental crawl fetches a stored article again: the revisit rule.

A stored article is *due* when it was first seen less than
``NEWSSPIDER_REVISIT_HOURS`` ago and the time since it was last crawled is at
least half the time it had been known when it was last crawled::

    now - first_seen_at < window  and  now - last_crawled_at >= (last_crawled_at - first_seen_at) / 2

A just-stored article (``last_crawled_at == first_seen_at``) is due on the next
run; each revisit then waits half as long again as the article's age at the
previous one, so with a run every 30 minutes an article is fetched again at
ages of 0.5, 1, 1.5, 2.5, 4, 6, 9, 13.5, 20.5, 31 and 46.5 hours (11
revisits in the 48-hour default window, computed from the rule), then never.
Articles are corrected mostly soon after publication, and a geometric back-off
spends the fetches there.

Pure: no Scrapy, no I/O (the spider reads the two timestamps with its
per-listing-page ``_id`` lookup, see :meth:`newsspider.store.store.Store.known_articles`).
Reads no settings itself (the spider passes ``NEWSSPIDER_REVISIT_HOURS`` as
:func:`window_of`), writes no stats.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from newsspider.store.nx27017 import stored_date


def window_of(hours: float) -> timedelta | None:
    """The revisit window of ``NEWSSPIDER_REVISIT_HOURS``; ``None`` (never revisit) for 0 or less."""
    if hours <= 0:
        return None
    return timedelta(hours=hours)


def is_due(first_seen_at: Any, last_crawled_at: Any, now: datetime, window: timedelta | None) -> bool:
    """Whether a stored article should be fetched again now (see the module docstring).

    An article without a readable ``first_seen_at`` is not due (its age is
    unknown); one without ``last_crawled_at`` counts as crawled when first seen.
    """
    if window is None:
        return False
    first = stored_date(first_seen_at)
    if first is None:
        return False
    last = stored_date(last_crawled_at) or first
    if now - first >= window:
        return False
    return now - last >= (last - first) / 2
