"""A one-line progress report on a terminal: pages, items, items/s, rejects, duplicates.

Enabled by ``newsspider crawl`` when stderr is a terminal, in place of
Scrapy's periodic log line (``LOGSTATS_INTERVAL``); off a terminal, and in
``scrapy crawl``, Scrapy's log says as much.  The line is rewritten in place
(``\r``) and ended at the close.  Settings: ``NEWSSPIDER_PROGRESS_INTERVAL``
(seconds).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task


class ProgressLine:
    def __init__(self, crawler: Crawler, interval: float, stream: TextIO) -> None:
        self.crawler = crawler
        self.interval = interval
        self.stream = stream
        self.started = time.monotonic()
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressLine:
        interval = crawler.settings.getfloat("NEWSSPIDER_PROGRESS_INTERVAL", 2.0)
        if interval <= 0:
            raise NotConfigured("NEWSSPIDER_PROGRESS_INTERVAL is 0")
        if not sys.stderr.isatty():
            raise NotConfigured("stderr is not a terminal: Scrapy's log reports progress")
        ext = cls(crawler, interval, sys.stderr)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def line(self) -> str:
        assert self.crawler.stats is not None
        get = self.crawler.stats.get_value
        items = int(get("item_scraped_count", 0) or 0)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return (
            f"pages {int(get('response_received_count', 0) or 0)}  items {items}  "
            f"({items / elapsed:.1f}/s)  rejects {int(get('newsspider/validate/rejected', 0) or 0)}"
            f"  duplicates {int(get('newsspider/dedup/exact', 0) or 0) + int(get('newsspider/dedup/near', 0) or 0)}"
        )

    def report(self) -> None:
        self.stream.write(self.line() + "\r")
        self.stream.flush()

    def spider_opened(self) -> None:
        self.started = time.monotonic()
        self.loop = task.LoopingCall(self.report)
        self.loop.start(self.interval, now=False)

    def spider_closed(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        self.stream.write(self.line() + "\n")
        self.stream.flush()
