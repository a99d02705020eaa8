"""``scrapy crawl``, with spider arguments and the browser checked before the crawl starts.

Scrapy creates the spider inside the running crawl, so an argument error or a
missing Chromium would surface as a traceback logged by the reactor.  This
command asks the spider class first (``NewsSpider.check_arguments``) and
turns a failure into a one-line usage error (exit code 2).  A store that
could not be started or reached exits 3, as ``newsspider crawl`` does.

When the crawl is over the process ends at once (:func:`exit_now`): by then
every component has closed (the store has flushed and stopped, the body
workers and the browser have exited, feeds are written), and the interpreter's
own teardown — freeing every object of a crawl process one by one — took
0.35–0.7 s of each run, measured on the replica (``make bench``).

Reads the crawl's settings (``NEWSSPIDER_CHROMIUM``); writes no stats.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.crawler import Crawler
from scrapy.exceptions import UsageError
from scrapy.spiders import Spider

from newsspider.cli import EXIT_STORE
from newsspider.runtime import RenderUnavailableError
from newsspider.spiders.base import SpiderArgumentError


class Command(ScrapyCrawl):
    crawler: Crawler | None = None

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        self.crawler = super()._create_crawler(spidercls)
        return self.crawler

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
        stats = self.crawler.stats if self.crawler is not None else None
        if stats is not None and stats.get_value("newsspider/store/unavailable"):
            self.exitcode = EXIT_STORE  # as `newsspider crawl` does
        if sys.argv and sys.argv[0].endswith(("scrapy", "scrapy/__main__.py", "cmdline.py")):
            exit_now(self.exitcode)


def exit_now(code: int) -> None:
    """Flush the logs and standard streams, then leave without the interpreter's teardown.

    Only for a process that ran nothing but this crawl (``scrapy crawl`` as
    the program), and never under a tracer or coverage, which save their data
    at exit.
    """
    if sys.gettrace() is not None or "coverage" in sys.modules:
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken pipe: nothing more can reach it anyway
    os._exit(code)
