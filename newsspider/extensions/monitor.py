"""Health checks at the end of a crawl: field coverage, drift against the portal's past, alerts.

* While the crawl runs, every stored article (``item_scraped``) is counted
  into the run's field coverage (:mod:`newsspider.monitor.coverage`).
* At ``spider_opened`` the portal's recent ``runs`` are read from the store:
  the baseline (median coverage of the last ``NEWSSPIDER_MONITOR_BASELINE_RUNS``
  healthy runs) and whether the previous run failed.
* At ``spider_closed`` the checks run as a spidermon suite
  (:mod:`newsspider.monitor.suite`, plus any ``NEWSSPIDER_MONITOR_SUITES``);
  each failure is logged at ERROR.  The outcome goes to the stats (which
  both ``scrapy crawl`` and ``newsspider crawl`` read for exit code 1, see
  :func:`newsspider.exitcodes.crawl_exit_code`) and, through the
  :data:`health_checked` signal, to :class:`~newsspider.extensions.runs.RunsRecorder`
  (``runs.checks`` and ``runs.coverage``).  This part is synchronous on
  purpose: it completes before RunsRecorder's handler reads the outcome
  (EXTENSIONS order 400 < 500).
* Then, off the reactor, a failed run — and the first healthy run after a
  failed one (recovery) — is posted to ``NEWSSPIDER_ALERT_WEBHOOKS``
  (:mod:`newsspider.monitor.alerts`) within ``NEWSSPIDER_ALERT_TIMEOUT``
  seconds.

Settings read: ``NEWSSPIDER_MONITOR_ENABLED``, ``NEWSSPIDER_MONITOR_MIN_ITEMS``,
``…_MAX_ERROR_RATIO``, ``…_MAX_REJECT_RATIO``, ``…_FINISH_REASONS``,
``…_MAX_COVERAGE_DROP``, ``…_BASELINE_RUNS``, ``…_MIN_COVERAGE_ARTICLES``,
``…_SELECTOR_FLOOR``, ``…_SUITES``, ``NEWSSPIDER_ALERT_WEBHOOKS``,
``NEWSSPIDER_ALERT_TIMEOUT``, ``NEWSSPIDER_ALERT_RETRIES``.

Stats written: ``newsspider/monitor/checks`` (checks judged),
``newsspider/monitor/passed``, ``newsspider/monitor/failed`` (count),
``newsspider/monitor/failed/<check>`` (1 each), ``newsspider/monitor/baseline_runs``,
``newsspider/coverage/articles`` (stored articles counted),
``newsspider/coverage/<field>`` (share), ``newsspider/alerts/sent``,
``newsspider/alerts/failed``.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from typing import Any

from pymongo import DESCENDING
from pymongo.errors import PyMongoError
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import run_in_thread
from scrapy.utils.misc import load_object

from newsspider.monitor import alerts
from newsspider.monitor.checks import Baseline, DriftRules, Thresholds, baseline_of, is_healthy
from newsspider.monitor.coverage import SELECTOR_FIELDS, CoverageCounter
from newsspider.monitor.suite import HealthSuite, run_suite

logger = logging.getLogger(__name__)

PREFIX = "newsspider/monitor"
FAILED_PREFIX = f"{PREFIX}/failed/"
COVERAGE_PREFIX = "newsspider/coverage/"
# Sent at spider_closed with ``checks={passed, failed}`` and ``coverage={field: share}``.
health_checked = object()
# Recent runs read to find the baseline's healthy ones (failed and tiny runs are skipped).
RECENT_RUNS = 50
# Where each extraction field is declared in a portal module.
_DECLARED = {"title": "title", "published_at": "published", "author": "author", "body_html": "body"}


def coverage_document(stats: Mapping[str, Any]) -> dict[str, float] | None:
    """``{field: share}`` from a run's stats; ``None`` when coverage was not measured."""
    if f"{COVERAGE_PREFIX}articles" not in stats:
        return None
    return {
        key[len(COVERAGE_PREFIX):]: float(value)
        for key, value in stats.items()
        if key.startswith(COVERAGE_PREFIX) and key != f"{COVERAGE_PREFIX}articles"
    }


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class CrawlMonitor:
    """Coverage while crawling; checks, outcome and alerts at the end (see the module docstring)."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.thresholds = Thresholds(
            min_items=settings.getint("NEWSSPIDER_MONITOR_MIN_ITEMS", 1),
            max_error_ratio=settings.getfloat("NEWSSPIDER_MONITOR_MAX_ERROR_RATIO", 0.1),
            max_reject_ratio=settings.getfloat("NEWSSPIDER_MONITOR_MAX_REJECT_RATIO", 0.25),
            finish_reasons=tuple(
                r.strip() for r in settings.getlist(
                    "NEWSSPIDER_MONITOR_FINISH_REASONS", ["finished", "closespider_itemcount"]
                ) if r.strip()
            ),
        )
        self.max_drop = settings.getfloat("NEWSSPIDER_MONITOR_MAX_COVERAGE_DROP", 0.3)
        self.baseline_runs = settings.getint("NEWSSPIDER_MONITOR_BASELINE_RUNS", 5)
        self.min_articles = settings.getint("NEWSSPIDER_MONITOR_MIN_COVERAGE_ARTICLES", 3)
        self.selector_floor = settings.getfloat("NEWSSPIDER_MONITOR_SELECTOR_FLOOR", 0.5)
        self.extra_suites = [
            load_object(path.strip())
            for path in settings.getlist("NEWSSPIDER_MONITOR_SUITES", []) if path.strip()
        ]
        self.webhooks = [
            url.strip() for url in settings.getlist("NEWSSPIDER_ALERT_WEBHOOKS", []) if url.strip()
        ]
        for url in self.webhooks:
            try:
                alerts.webhook_kind(url)
            except ValueError as exc:
                raise NotConfigured(f"NEWSSPIDER_ALERT_WEBHOOKS {alerts.redact(url)}: {exc}") from exc
        self.alert_timeout = settings.getfloat("NEWSSPIDER_ALERT_TIMEOUT", 5.0)
        self.alert_retries = settings.getint("NEWSSPIDER_ALERT_RETRIES", 2)
        self.counter = CoverageCounter()
        self.baseline = Baseline()
        self.previous: Mapping[str, Any] | None = None
        self._store: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlMonitor:
        if not crawler.settings.getbool("NEWSSPIDER_MONITOR_ENABLED", True):
            raise NotConfigured("NEWSSPIDER_MONITOR_ENABLED is off")
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    # -- while crawling --------------------------------------------------------

    async def spider_opened(self, spider: Spider) -> None:
        portal = getattr(spider, "portal", None)
        if portal is not None and not portal.article.author:
            self.counter.selector_fields = tuple(f for f in SELECTOR_FIELDS if f != "author")
        from newsspider.store.store import Store, StoreUnavailable

        store = Store.for_crawler(self.crawler)
        try:
            await store.aopen()
        except StoreUnavailable:
            return  # logged by the store; there is no history to judge by
        self._store = store
        try:
            recent = await run_in_thread(self._recent_runs, store, spider.name)
        except PyMongoError as exc:
            logger.warning("past runs of %s unreadable (%s): judging by floors only",
                           spider.name, exc)
            return
        self.baseline = baseline_of(recent, self.baseline_runs, self.min_articles)
        self.previous = next((run for run in recent if run.get("checks")), None)

    @staticmethod
    def _recent_runs(store: Any, portal: str) -> list[dict[str, Any]]:
        cursor = store.db.runs.find(
            {"portal": portal}, {"checks": 1, "coverage": 1, "stats": 1, "started_at": 1}
        ).sort("started_at", DESCENDING).limit(RECENT_RUNS)
        return list(cursor)

    def item_scraped(self, item: Any) -> None:
        if isinstance(item, Mapping):
            self.counter.add(item)

    # -- at the end ------------------------------------------------------------

    def _drift_rules(self, spider: Spider) -> DriftRules:
        portal = getattr(spider, "portal", None)
        if portal is None:
            return DriftRules(max_drop=self.max_drop, min_articles=self.min_articles)
        floors: dict[str, float] = {}
        origins: dict[str, str] = {}
        if self.selector_floor > 0:
            for name in ("title", "published_at", "body_html"):
                floors[f"selectors/{name}"] = self.selector_floor
                origins[f"selectors/{name}"] = "NEWSSPIDER_MONITOR_SELECTOR_FLOOR"
        for key, floor in portal.expect.items():
            floors[key] = floor
            origins[key] = f"expect= in {portal.module or portal.name}"
        selectors = {
            name: (f"article.{attr}", list(getattr(portal.article, attr)))
            for name, attr in _DECLARED.items() if getattr(portal.article, attr)
        }
        module = getattr(portal, "module", "") or f"the {portal.name} portal module"
        return DriftRules(self.max_drop, self.min_articles, floors, origins, selectors, module)

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        stats = self.crawler.stats
        assert stats is not None
        # Synchronous up to the alerts: RunsRecorder reads the outcome right after.
        coverage = self.counter.shares()
        stats.set_value(f"{COVERAGE_PREFIX}articles", self.counter.articles)
        for key, share in coverage.items():
            stats.set_value(f"{COVERAGE_PREFIX}{key}", share)
        stats.set_value(f"{PREFIX}/baseline_runs", self.baseline.runs)
        data = {
            "stats": stats.get_stats(),
            "reason": reason,
            "thresholds": self.thresholds,
            "coverage": coverage,
            "articles": self.counter.articles,
            "baseline": self.baseline,
            "drift": self._drift_rules(spider),
            "crawler": self.crawler,
            "spider": spider,
        }
        suites = [HealthSuite(crawler=self.crawler)] + [
            suite(crawler=self.crawler) for suite in self.extra_suites
        ]
        passed, failed = run_suite(suites, data)
        stats.set_value(f"{PREFIX}/checks", len(passed) + len(failed))
        stats.set_value(f"{PREFIX}/passed", len(passed))
        stats.set_value(f"{PREFIX}/failed", len(failed))
        for check in failed:
            stats.set_value(f"{FAILED_PREFIX}{check['name']}", 1)
            logger.error("monitor check %s failed: %s", check["name"], check["message"])
        if not failed:
            logger.info("monitor: all %d checks passed", len(passed))
        checks = {"passed": passed, "failed": failed}
        self.crawler.signals.send_catch_log(
            signal=health_checked, checks=checks, coverage=coverage)
        try:
            alert = self._alert(spider, reason, failed, stats.get_stats())
            if alert is not None and self.webhooks:
                outcomes = await run_in_thread(
                    alerts.deliver, self.webhooks, alert,
                    timeout=self.alert_timeout, retries=self.alert_retries,
                )
                sent = sum(1 for outcome in outcomes if outcome.delivered)
                stats.set_value("newsspider/alerts/sent", sent)
                stats.set_value("newsspider/alerts/failed", len(outcomes) - sent)
        finally:
            if self._store is not None:
                store, self._store = self._store, None
                await store.aclose()

    def _alert(
        self, spider: Spider, reason: str, failed: list[dict[str, str]], stats: Mapping[str, Any]
    ) -> alerts.Alert | None:
        """The alert this run calls for: it failed, or it is the first healthy one after a failure."""
        previous_failed = self.previous is not None and not is_healthy(self.previous)
        if failed:
            event = "failed"
        elif previous_failed:
            event = "recovered"
        else:
            return None

        def count(key: str) -> int:
            return int(stats.get(key) or 0)

        counts = {
            "stored": self.counter.articles,
            "rejected": count("newsspider/validate/rejected"),
            "already stored": count("newsspider/spider/articles_known"),
            "errors": count("log_count/ERROR"),
            "pages": count("downloader/response_count"),
        }
        before = []
        if previous_failed and self.previous is not None:
            # Runs recorded before checks carried messages list bare names.
            before = [str(c.get("name") if isinstance(c, Mapping) else c)
                      for c in self.previous["checks"].get("failed", [])]
        return alerts.Alert(
            event=event,
            portal=spider.name,
            worker=_worker(),
            run_id=stats.get("newsspider/runs/id"),
            finish_reason=reason,
            failed=failed,
            counts=counts,
            previously_failed=before,
        )
