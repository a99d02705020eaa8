"""Record one ``runs`` document per crawl: when, how it ended, its checks, coverage and stats.

``{_id, portal, started_at, finished_at, finish_reason, worker, stats}``, plus
``checks: {passed: [names], failed: [{name, message}]}`` and ``coverage:
{field: share}`` when the monitor ran (its ``health_checked`` signal) —
``_id`` a uuid4 hex, ``worker`` ``hostname:pid``, ``stats`` the crawl's Scrapy
stats with BSON-safe keys (``.`` → ``_``, ``$`` → ``＄``) and values
(datetimes as dates, timedeltas as seconds).  Written through the crawler's
:class:`~newsspider.store.store.Store` at ``spider_closed`` (after the item
pipelines have flushed), which it then releases.

Settings read: ``NEWSSPIDER_RUNS_ENABLED`` (default true) and the store's.
Stats written: ``newsspider/runs/id`` (this run's ``_id``, for logs and alerts;
``newsspider/store/runs`` by the writer).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from newsspider.extensions.monitor import health_checked
from newsspider.store.store import Store, StoreUnavailable
from newsspider.store.values import bson_value

logger = logging.getLogger(__name__)


def run_document(
    run_id: str,
    portal: str,
    started_at: datetime,
    finished_at: datetime,
    finish_reason: str,
    stats: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "_id": run_id,
        "portal": portal,
        "started_at": started_at,
        "finished_at": finished_at,
        "finish_reason": finish_reason,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "stats": bson_value(dict(stats)),
    }


class RunsRecorder:
    def __init__(self, crawler: Crawler, store: Store) -> None:
        self.crawler = crawler
        self.store = store
        self.run_id = uuid.uuid4().hex
        self.started_at: datetime | None = None
        self._opened = False
        self._health: dict[str, Any] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunsRecorder:
        if not crawler.settings.getbool("NEWSSPIDER_RUNS_ENABLED", True):
            raise NotConfigured("NEWSSPIDER_RUNS_ENABLED is off")
        ext = cls(crawler, Store.for_crawler(crawler))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.health_checked, signal=health_checked)
        return ext

    def health_checked(self, checks: dict[str, Any], coverage: dict[str, float]) -> None:
        self._health = {"checks": checks, "coverage": coverage}

    async def spider_opened(self, spider: Spider) -> None:
        self.started_at = datetime.now(UTC)
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("newsspider/runs/id", self.run_id)
        try:
            await self.store.aopen()
        except StoreUnavailable:
            return  # logged by the store; the pipelines close the spider
        self._opened = True

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        if not self._opened:
            return  # the store never opened (its failure is already logged)
        finished_at = datetime.now(UTC)
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        doc = run_document(
            self.run_id, spider.name, self.started_at or finished_at, finished_at, reason, stats,
        )
        # The health checks ran just before (CrawlMonitor's priority is lower).
        doc.update(self._health)
        try:
            await self.store.put_run(doc)
        finally:
            self._opened = False
            await self.store.aclose()
        logger.info("run %s recorded (%s)", self.run_id, reason)
