"""Names of one shared crawl's Redis keys, and of the worker (process) taking part.

Every key is ``newsspider:<crawl id>:<name>`` (crawl id: ``NEWSSPIDER_CRAWL_ID``,
default the spider name); per-host keys add ``:<slot>`` (the request's host
name, or its ``download_slot`` meta), per-worker keys ``:<worker>``.  What
each one holds is listed in :mod:`newsspider.scaleout`.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from scrapy.settings import BaseSettings

KEY_PREFIX = "newsspider"
BUSY, IDLE = "busy", "idle"

# Keys with one instance per crawl (the Lua scripts spell the same names); per
# host slot there are ``queue:<slot>``, ``out:<slot>`` and ``xfer:<slot>``, per
# worker ``leased:<worker>``.
CRAWL_KEYS = (
    "queue", "dupefilter", "repeats", "seed", "seeded", "workers", "activity", "seq", "want",
    "budget", "delay", "next", "pending", "slots",
)


@dataclass(frozen=True, slots=True)
class CrawlKeys:
    """The Redis keys of one shared crawl: ``newsspider:<crawl id>:<name>``."""

    crawl_id: str

    @property
    def prefix(self) -> str:
        return f"{KEY_PREFIX}:{self.crawl_id}"

    def key(self, name: str, part: str | None = None) -> str:
        """``<prefix>:<name>``, or ``<prefix>:<name>:<part>`` for a slot's or a worker's key."""
        return f"{self.prefix}:{name}" if part is None else f"{self.prefix}:{name}:{part}"

    @property
    def workers(self) -> str:
        return self.key("workers")

    @property
    def budget(self) -> str:
        return self.key("budget")

    @property
    def seeded(self) -> str:
        return self.key("seeded")

    def all(self) -> list[str]:
        """The per-crawl keys (per-slot and per-worker ones are found from ``slots``/``workers``)."""
        return [self.key(name) for name in CRAWL_KEYS]

    def pattern(self) -> str:
        """A SCAN pattern matching every key of this crawl, and only those."""
        escaped = "".join(f"\\{c}" if c in "*?[]\\" else c for c in self.prefix)
        return f"{escaped}:*"


def crawl_keys(settings: BaseSettings, spider_name: str) -> CrawlKeys:
    return CrawlKeys(settings.get("NEWSSPIDER_CRAWL_ID") or spider_name)


def worker_id() -> str:
    """Unique per process, readable in Redis: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"
