"""``scrapy crawl``: Scrapy's own, with the outcome as the exit code and usage errors caught first.

Exit codes (``newsspider/exitcodes.py``, shared with ``newsspider crawl``):
0 healthy, 1 a failed check, 2 a usage error, 3 the store unavailable.

Scrapy creates the spider inside the running crawl, so an argument error or a
missing Chromium would surface as a traceback logged by the reactor.  This
command asks the spider class first (``NewsSpider.check_arguments``), checks
``-s`` values of declared settings (``newsspider/config.py``) and the portal
name, and turns a failure into a one-line usage error (exit code 2) before
Scrapy logs a line.

Reads the crawl's settings (``NEWSSPIDER_CHROMIUM``); writes no stats.
"""

from __future__ import annotations

import argparse

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.crawler import Crawler
from scrapy.exceptions import UsageError
from scrapy.spiders import Spider

from newsspider.config import check_settings
from newsspider.exitcodes import crawl_exit_code, usage_exit
from newsspider.runtime import RenderUnavailableError
from newsspider.spiders.base import SpiderArgumentError


class Command(ScrapyCrawl):
    crawler: Crawler | None = None

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        try:
            super().process_options(args, opts)
        except UsageError as exc:
            usage_exit(str(exc))
        check_settings(self.settings)
        if len(args) != 1:
            usage_exit("crawl takes one portal name, e.g. `scrapy crawl ofweek` "
                       "(`scrapy list` names them)")
        self.check_spider(args[0], opts.spargs)  # before the crawler process starts logging

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        self.crawler = super()._create_crawler(spidercls)
        return self.crawler

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        super().run(args, opts)
        stats = self.crawler.stats if self.crawler is not None else None
        self.exitcode = crawl_exit_code(stats.get_stats() if stats is not None else {},
                                        started=self.exitcode == 0)

    def check_spider(self, name: str, spider_args: dict[str, str]) -> None:
        """A usage error for an unknown spider, a bad ``-a`` argument or a missing browser."""
        from scrapy.spiderloader import get_spider_loader

        assert self.settings is not None
        loader = get_spider_loader(self.settings)
        try:
            spidercls = loader.load(name)
        except KeyError:
            usage_exit(f"unknown portal {name!r}; known: {', '.join(sorted(loader.list()))}")
        check = getattr(spidercls, "check_arguments", None)
        if check is not None:  # every newsspider spider has it (NewsSpider)
            try:
                check(self.settings, **spider_args)
            except (SpiderArgumentError, RenderUnavailableError) as exc:
                usage_exit(str(exc))

