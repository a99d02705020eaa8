"""``scrapy crawl``, with spider arguments and the browser checked before the crawl starts.

Scrapy creates the spider inside the running crawl, so an argument error or a
missing Chromium would surface as a traceback logged by the reactor.  This
command asks the spider class first (``NewsSpider.check_arguments``) and
turns a failure into a one-line usage error (exit code 2).

Reads the crawl's settings (``NEWSSPIDER_CHROMIUM``); writes no stats.
"""

from __future__ import annotations

import argparse

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError

from newsspider.runtime import RenderUnavailableError
from newsspider.spiders.base import SpiderArgumentError


class Command(ScrapyCrawl):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) == 1 and self.crawler_process is not None:
            try:
                spidercls = self.crawler_process.spider_loader.load(args[0])
            except KeyError:
                spidercls = None  # Scrapy's own run() reports an unknown spider
            check = getattr(spidercls, "check_arguments", None)
            if check is not None:
                try:
                    check(self.settings, **opts.spargs)
                except (SpiderArgumentError, RenderUnavailableError) as exc:
                    raise UsageError(str(exc), print_help=False) from exc
        super().run(args, opts)
