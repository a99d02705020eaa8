"""What every newsspider command and ``scrapy crawl`` exit with, and the rule from a crawl's outcome.

  0  done, every check passed
  1  the crawl ran but failed a check (a health check, a finish reason that is
     not a normal end, items left journaled because the store was unreachable)
  2  usage error: bad arguments, an unknown portal, a setting's bad value
  3  the store could not be started or reached

:func:`crawl_exit_code` is the one rule ``scrapy crawl`` and ``newsspider
crawl`` share (``newsspider/commands/crawl.py``).  A new check that must fail
the crawl writes a non-zero stat and adds its key to :data:`FAILED_CHECK_STATS`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, NoReturn

EXIT_OK, EXIT_CHECKS, EXIT_USAGE, EXIT_STORE = 0, 1, 2, 3

# Stats whose non-zero value means the crawl ran but failed a check.
FAILED_CHECK_STATS = (
    "newsspider/monitor/failed",  # health checks (extensions/monitor.py)
    "newsspider/store/journaled",  # writes left for the next run (store/writer.py)
    # Writes at risk (store/writer.py, store/journal.py; docs/safety.md): lost or
    # refused, the writer thread dead, a journal record that could not be replayed.
    "newsspider/store/lost",
    "newsspider/store/write_errors",  # writes the store refused for good
    "newsspider/store/writer_died",
    "newsspider/store/journal_quarantined",
)
# The stat that means the store could not be started or reached (store/store.py).
STORE_UNAVAILABLE_STAT = "newsspider/store/unavailable"
# Finish reasons of a crawl that ran to its end, when the health checks did not run
# (with them, NEWSSPIDER_MONITOR_FINISH_REASONS decides and counts in newsspider/monitor/failed).
NORMAL_FINISH_REASONS = ("finished", "closespider_itemcount")


def crawl_exit_code(stats: Mapping[str, Any], *, started: bool = True) -> int:
    """A crawl's exit code from its final stats; ``started=False``: Scrapy could not start it."""
    if stats.get(STORE_UNAVAILABLE_STAT):
        return EXIT_STORE
    if not started or any(stats.get(key) for key in FAILED_CHECK_STATS):
        return EXIT_CHECKS
    monitored = "newsspider/monitor/checks" in stats
    if not monitored and stats.get("finish_reason") not in NORMAL_FINISH_REASONS:
        return EXIT_CHECKS
    return EXIT_OK


class UsageExit(SystemExit):
    """A usage error whose one line is already on stderr: exit 2, from any command."""

    def __init__(self, message: str) -> None:
        super().__init__(EXIT_USAGE)
        self.message = message


def usage_exit(message: str) -> NoReturn:
    """Print ``message`` as the one line of a usage error and exit 2 (from ``scrapy`` commands too)."""
    print(f"newsspider: {message}", file=sys.stderr, flush=True)
    raise UsageExit(message)
