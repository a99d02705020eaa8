"""newsspider.stats.StatsCollector: Scrapy's in-memory stats, without the per-access hook."""

from __future__ import annotations

import warnings

from scrapy import Spider
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

import newsspider.settings
from newsspider.stats import StatsCollector


def _apply(stats: MemoryStatsCollector) -> dict:
    stats.inc_value("a/count")
    stats.inc_value("a/count", 2)
    stats.inc_value("b/start", start=10)
    stats.max_value("peak", 3)
    stats.max_value("peak", 7)
    stats.max_value("peak", 5)
    stats.min_value("low", 4)
    stats.min_value("low", 2)
    stats.set_value("name", "x")
    stats.set_value("gone", 1)
    assert stats.get_value("gone") == 1
    assert stats.get_value("missing", "default") == "default"
    return dict(stats.get_stats())


def test_same_results_as_scrapys_collector() -> None:
    crawler = get_crawler(Spider)
    ours, scrapys = _apply(StatsCollector(crawler)), _apply(MemoryStatsCollector(crawler))
    assert ours == scrapys == {"a/count": 3, "b/start": 11, "peak": 7, "low": 2, "name": "x", "gone": 1}


def test_set_and_clear_stats() -> None:
    stats = StatsCollector(get_crawler(Spider))
    stats.set_stats({"k": 1})
    assert stats.get_stats() == {"k": 1}
    stats.clear_stats()
    assert stats.get_stats() == {}


def test_attribute_access_does_not_go_through_scrapys_hook() -> None:
    # Scrapy's hook wraps each method on first use and caches it on the
    # instance as `_cached_<name>`; plain attribute access leaves no such entry.
    ours, scrapys = StatsCollector(get_crawler(Spider)), MemoryStatsCollector(get_crawler(Spider))
    for stats in (ours, scrapys):
        stats.inc_value("k")
    assert not [name for name in vars(ours) if name.startswith("_cached_")]
    assert "_cached_inc_value" in vars(scrapys)


def test_spider_argument_still_accepted_without_a_warning() -> None:
    crawler = get_crawler(Spider)
    stats = StatsCollector(crawler)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats.inc_value("k", spider=Spider("s"))
        stats.set_value("v", 1, spider=Spider("s"))
    assert stats.get_value("k") == 1 and stats.get_value("v") == 1


def test_stats_kept_per_spider_after_close() -> None:
    crawler = get_crawler(Spider)
    crawler.spider = Spider("ofweek")
    stats = StatsCollector(crawler)
    stats.inc_value("items")
    stats.close_spider(reason="finished")
    assert stats.spider_stats == {"ofweek": {"items": 1}}


def test_the_project_settings_use_it() -> None:
    settings = Settings()
    settings.setmodule(newsspider.settings, priority="project")
    crawler = get_crawler(Spider, settings_dict={"STATS_CLASS": settings["STATS_CLASS"]})
    assert type(crawler.stats) is StatsCollector
