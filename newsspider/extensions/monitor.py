"""Health checks at the end of a crawl, spidermon style: thresholds in settings, results in stats.

At ``spider_closed`` every check is evaluated against the crawl's stats; a
failing one is logged at ERROR with the measured value and its threshold.
:class:`~newsspider.extensions.runs.RunsRecorder` runs after this extension
(EXTENSIONS order 400 < 500) and copies :func:`checks_document` into the
``runs`` document as ``checks: {passed, failed: [...]}``; ``newsspider crawl``
exits 1 when ``newsspider/monitor/failed`` is non-zero.

Checks:
  ``min_items``      articles seen (scraped + dropped + already stored) >= ``NEWSSPIDER_MONITOR_MIN_ITEMS``
  ``error_ratio``    ERROR log lines / responses <= ``NEWSSPIDER_MONITOR_MAX_ERROR_RATIO``
  ``reject_ratio``   rejected / yielded items <= ``NEWSSPIDER_MONITOR_MAX_REJECT_RATIO``
  ``finish_reason``  the close reason is one of ``NEWSSPIDER_MONITOR_FINISH_REASONS``
  ``store_writes``   no write lost (neither stored nor journaled) or refused by the
                     store, the store writer alive to the end, no journal record
                     quarantined (always on)

Settings read: ``NEWSSPIDER_MONITOR_ENABLED`` and the four above.
Stats written: ``newsspider/monitor/checks`` (checks run), ``newsspider/monitor/passed``,
``newsspider/monitor/failed`` (count), ``newsspider/monitor/failed/<check>`` (1 each).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

logger = logging.getLogger(__name__)

PREFIX = "newsspider/monitor"
FAILED_PREFIX = f"{PREFIX}/failed/"


@dataclass(frozen=True, slots=True)
class Thresholds:
    min_items: int = 1
    max_error_ratio: float = 0.1
    max_reject_ratio: float = 0.25
    finish_reasons: tuple[str, ...] = ("finished", "closespider_itemcount")


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    passed: bool
    message: str


def _count(stats: Mapping[str, Any], key: str) -> int:
    return int(stats.get(key) or 0)


def _min_items(stats: Mapping[str, Any], reason: str, t: Thresholds) -> CheckResult:
    # Articles already stored (incremental runs) and dropped duplicates count as seen:
    # the check is about finding articles at all; rejects have their own check.
    seen = (
        _count(stats, "item_scraped_count")
        + _count(stats, "item_dropped_count")
        + _count(stats, "newsspider/spider/articles_known")
    )
    return CheckResult(
        "min_items", t.min_items <= 0 or seen >= t.min_items,
        f"{seen} articles seen (scraped, dropped or already stored), "
        f"expected at least {t.min_items}",
    )


def _error_ratio(stats: Mapping[str, Any], reason: str, t: Thresholds) -> CheckResult:
    errors = _count(stats, "log_count/ERROR")
    responses = _count(stats, "downloader/response_count")
    ratio = errors / responses if responses else (float("inf") if errors else 0.0)
    return CheckResult(
        "error_ratio", ratio <= t.max_error_ratio,
        f"{errors} errors for {responses} responses (ratio {ratio:.3f}, max {t.max_error_ratio})",
    )


def _reject_ratio(stats: Mapping[str, Any], reason: str, t: Thresholds) -> CheckResult:
    rejected = _count(stats, "newsspider/validate/rejected")
    # Rejected items are dropped, so yielded = scraped + dropped.
    yielded = _count(stats, "item_scraped_count") + _count(stats, "item_dropped_count")
    ratio = rejected / yielded if yielded else 0.0
    return CheckResult(
        "reject_ratio", ratio <= t.max_reject_ratio,
        f"{rejected} of {yielded} items rejected (ratio {ratio:.3f}, max {t.max_reject_ratio})",
    )


def _finish_reason(stats: Mapping[str, Any], reason: str, t: Thresholds) -> CheckResult:
    return CheckResult(
        "finish_reason", reason in t.finish_reasons,
        f"finished with {reason!r}, expected one of {list(t.finish_reasons)}",
    )


def _store_writes(stats: Mapping[str, Any], reason: str, t: Thresholds) -> CheckResult:
    # Read after the store pipeline's final flush (and settle): the outcome, not a forecast.
    problems = []
    if lost := _count(stats, "newsspider/store/lost"):
        problems.append(f"{lost} writes lost: neither acknowledged by the store nor journaled")
    if _count(stats, "newsspider/store/writer_died"):
        problems.append("the store writer thread died")
    if refused := _count(stats, "newsspider/store/write_errors"):
        problems.append(f"{refused} writes refused by the store (ERROR lines name them)")
    if quarantined := _count(stats, "newsspider/store/journal_quarantined"):
        problems.append(f"{quarantined} journal records unreadable, moved to journal/quarantine/")
    return CheckResult(
        "store_writes", not problems,
        "; ".join(problems) or "every write stored or journaled",
    )


CHECKS: tuple[Callable[[Mapping[str, Any], str, Thresholds], CheckResult], ...] = (
    _min_items, _error_ratio, _reject_ratio, _finish_reason, _store_writes,
)


def evaluate(stats: Mapping[str, Any], reason: str, thresholds: Thresholds) -> list[CheckResult]:
    """Every check against one crawl's stats; pure, so thresholds are testable in a table."""
    return [check(stats, reason, thresholds) for check in CHECKS]


def checks_document(stats: Mapping[str, Any]) -> dict[str, Any] | None:
    """``{passed, failed: [names]}`` for the ``runs`` document; ``None`` when no check ran."""
    if f"{PREFIX}/checks" not in stats:
        return None
    failed = sorted(key[len(FAILED_PREFIX):] for key in stats if key.startswith(FAILED_PREFIX))
    return {"passed": not failed, "failed": failed}


class CrawlMonitor:
    """Evaluate :data:`CHECKS` at ``spider_closed`` and record the outcome in stats."""

    def __init__(self, crawler: Crawler, thresholds: Thresholds) -> None:
        self.crawler = crawler
        self.thresholds = thresholds

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlMonitor:
        settings = crawler.settings
        if not settings.getbool("NEWSSPIDER_MONITOR_ENABLED", True):
            raise NotConfigured("NEWSSPIDER_MONITOR_ENABLED is off")
        thresholds = Thresholds(
            min_items=settings.getint("NEWSSPIDER_MONITOR_MIN_ITEMS", 1),
            max_error_ratio=settings.getfloat("NEWSSPIDER_MONITOR_MAX_ERROR_RATIO", 0.1),
            max_reject_ratio=settings.getfloat("NEWSSPIDER_MONITOR_MAX_REJECT_RATIO", 0.25),
            finish_reasons=tuple(
                r.strip() for r in settings.getlist(
                    "NEWSSPIDER_MONITOR_FINISH_REASONS", ["finished", "closespider_itemcount"]
                ) if r.strip()
            ),
        )
        ext = cls(crawler, thresholds)
        # Synchronous on purpose: it completes before RunsRecorder's handler reads the stats.
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider: Spider, reason: str) -> None:
        stats = self.crawler.stats
        assert stats is not None
        results = evaluate(stats.get_stats(), reason, self.thresholds)
        failed = [r for r in results if not r.passed]
        stats.set_value(f"{PREFIX}/checks", len(results))
        stats.set_value(f"{PREFIX}/passed", len(results) - len(failed))
        stats.set_value(f"{PREFIX}/failed", len(failed))
        for result in failed:
            stats.set_value(f"{FAILED_PREFIX}{result.name}", 1)
            logger.error("monitor check %s failed: %s", result.name, result.message)
        if not failed:
            logger.info("monitor: all %d checks passed", len(results))
