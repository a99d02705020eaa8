"""A one-line progress report on stderr: pages, items, items/s, rejects.

Enabled by ``newsspider crawl`` (not by ``scrapy crawl``, whose log already
says as much).  Settings: ``NEWSSPIDER_PROGRESS_INTERVAL`` (seconds).
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
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressLine:
        interval = crawler.settings.getfloat("NEWSSPIDER_PROGRESS_INTERVAL", 2.0)
        if interval <= 0:
            raise NotConfigured("NEWSSPIDER_PROGRESS_INTERVAL is 0")
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
        end = "\r" if self.tty else "\n"
        self.stream.write(self.line() + end)
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
