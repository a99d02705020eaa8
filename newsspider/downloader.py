"""Scrapy's downloader, held to each host's concurrency.

Scrapy 2.19's ``Downloader._process_queue`` starts each queued request as an
asyncio task and counts it against its slot (``slot.transferring``) only once
that task runs.  The engine hands the downloader a burst of requests at a time,
and with no download delay (AutoThrottle off; a delay lets one request through
per pass) every request of the burst passes the slot's free-slots check before
the first task has started: a portal got ``CONCURRENT_REQUESTS`` (16) requests at
once whatever ``CONCURRENT_REQUESTS_PER_DOMAIN`` said (measured on the replica:
16 in flight with a per-host limit of 2).  It also churned connections: the
pool keeps ``CONCURRENT_REQUESTS_PER_DOMAIN`` idle connections per host, so
every burst above it opened new ones that were closed again as they came back
(89 connections for 116 requests at a per-host limit of 2).

:class:`Downloader` counts a request against its slot when it is taken off the
queue, before its task is scheduled; Scrapy's own ``_download`` adds it again (a
set, so once) and removes it when the response is in.

Enabled by the ``DOWNLOADER`` setting.  Reads no setting of its own and writes
no stats.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader import Downloader as ScrapyDownloader

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.core.downloader import Slot
    from scrapy.http import Response
    from twisted.internet.defer import Deferred


class Downloader(ScrapyDownloader):
    def _wait_for_download(
        self, slot: Slot, request: Request, queue_dfd: Deferred[Response]
    ) -> Coroutine[Any, Any, None]:
        # Called by _process_queue's loop to build the task's coroutine, before
        # the loop checks the slot's free transfer slots again.
        slot.transferring.add(request)
        return super()._wait_for_download(slot, request, queue_dfd)
