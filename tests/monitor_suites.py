"""A user's own spidermon suite, loaded by a crawl through NEWSSPIDER_MONITOR_SUITES."""

from __future__ import annotations

from typing import ClassVar

from spidermon import Monitor, MonitorSuite, monitors


@monitors.name("mine")
class ItemsFromEveryPage(Monitor):
    @monitors.name("one item per page")
    def test_one_item_per_page(self) -> None:
        stats = self.data.stats
        pages = stats.get("downloader/response_count", 0)
        items = stats.get("item_scraped_count", 0)
        self.assertGreaterEqual(items, pages, msg=f"{items} items from {pages} pages")


class UserSuite(MonitorSuite):
    monitors: ClassVar[list[type[Monitor]]] = [ItemsFromEveryPage]
