"""Store validated articles: enqueue them on the crawler's bulk writer.

The item arriving here is the article document of CONTRACT §4 (set by the
validate pipeline; bookkeeping fields are the writer's).  ``process_item``
only enqueues — it awaits (without blocking the reactor) while the writer's
bounded queue is full — and the writer thread upserts in batches (see
:mod:`newsspider.store.writer` for revisions, merges and outages).

Settings read: those of :class:`newsspider.store.store.Store`
(``MONGO_URI``, ``MONGO_DATABASE``, ``NEWSSPIDER_DATA_DIR``,
``NEWSSPIDER_STORE_*``).
Stats written (by the writer): ``newsspider/store/inserted``, ``…/updated``,
``…/unchanged``, ``…/revised``, ``…/flushes``, ``…/retries``,
``…/journaled`` and the others listed in :mod:`newsspider.store.writer`.
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler

from newsspider.store.store import Store


class MongoStorePipeline:
    def __init__(self, crawler: Crawler, store: Store) -> None:
        self.crawler = crawler
        self.store = store

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MongoStorePipeline:
        return cls(crawler, Store.for_crawler(crawler))

    async def open_spider(self) -> None:
        await self.store.aopen_for_crawl()

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        await self.store.put_article(item)
        return item

    async def close_spider(self) -> None:
        # Flush now so the health checks and the runs document (spider_closed) see
        # final counts; a store still away by then gets every write journaled (or
        # counted lost) now, not after the checks have passed.
        if not await self.store.aflush():
            await self.store.asettle()
        await self.store.aclose()
