"""Log dropped items by their reason only: a rejected or duplicate item's body is not log material."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Spider
from scrapy.http import Response
from scrapy.logformatter import LogFormatter, LogFormatterResult
from twisted.python.failure import Failure


class NewsspiderLogFormatter(LogFormatter):
    def dropped(
        self,
        item: Any,
        exception: BaseException,
        response: Response | Failure | None,
        spider: Spider,
    ) -> LogFormatterResult:
        level = getattr(exception, "log_level", None) or logging.DEBUG
        if isinstance(level, str):
            level = getattr(logging, level)
        return {"level": level, "msg": "Dropped: %(exception)s", "args": {"exception": exception}}

    def item_error(
        self, item: Any, exception: BaseException, response: Response | Failure | None,
        spider: Spider,
    ) -> LogFormatterResult:
        url = item.get("url") if isinstance(item, dict) else None
        return {
            "level": logging.ERROR,
            "msg": "Error processing item %(url)s",
            "args": {"url": url},
        }
