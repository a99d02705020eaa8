"""Drop exact and near duplicates; their URLs go to the first article's ``alternate_urls``.

An article is a duplicate when another URL already has the same
``content_hash`` (exact) or a SimHash within ``NEWSSPIDER_NEAR_DUP_DISTANCE``
bits (near).  The duplicate's ``url`` (and ``fetched_url`` when different) is
merged into the first article through the store writer's ordered queue, and
the item is dropped — it is not a reject.  The same URL crawled again is not
a duplicate: the writer checks it for a new revision.

Two lookups, both without blocking the reactor:

* an in-process index of recent articles (bounded LRU,
  ``NEWSSPIDER_DEDUP_INDEX_SIZE`` entries) — an item is registered there
  *before* the store is asked, so two identical items in flight at once can't
  both pass, and articles enqueued but not yet flushed are still seen;
* the store, off the reactor thread: ``content_hash`` equality, then one
  equality per SimHash band field (four 16-bit bands ``simhash_band_0..3``;
  any hash within 3 bits shares one) with the Hamming distance checked in
  Python — indexed lookups, never a scan.
  While the store is unreachable this lookup is skipped (stat
  ``newsspider/dedup/lookup_skipped``) rather than stalling the crawl.

Settings read: ``NEWSSPIDER_NEAR_DUP_DISTANCE`` (default 3; at most 3 for the
band lookup to be exhaustive), ``NEWSSPIDER_DEDUP_INDEX_SIZE`` (default 50000).
Stats written: ``newsspider/dedup/exact``, ``newsspider/dedup/near``,
``newsspider/dedup/lookup_skipped``, ``newsspider/dedup/lookup_errors``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from pymongo.errors import PyMongoError
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from newsspider.normalize.text import hamming, simhash_bands
from newsspider.store.store import Store

logger = logging.getLogger(__name__)

STAT = "newsspider/dedup/"
BANDS = 4


class DuplicateItem(DropItem):
    """Dropped as a duplicate of ``target``; its URLs were merged into that article."""

    def __init__(self, url: str, target: str, kind: str) -> None:
        self.target = target
        self.kind = kind
        super().__init__(f"{kind} duplicate of {target}: {url}", log_level="INFO")


class _Entry:
    __slots__ = ("digest", "simhash", "target", "url", "waiters")

    def __init__(self, url: str, digest: bytes, simhash: int) -> None:
        self.url = url
        self.digest = digest
        self.simhash = simhash
        # The _id this content is stored under: the URL itself, or the stored
        # article it duplicates.  Settled once ``waiters`` is None.
        self.target = url
        self.waiters: list[Deferred[None]] | None = []

    def settle(self, target: str) -> None:
        self.target = target
        waiters, self.waiters = self.waiters or [], None
        for waiter in waiters:
            waiter.callback(None)


def _band_keys(simhash: int) -> list[int]:
    # Bands as small ints (band number in the top bits) keep the index compact.
    unsigned = simhash & 0xFFFFFFFFFFFFFFFF
    return [(i << 16) | ((unsigned >> (16 * i)) & 0xFFFF) for i in range(BANDS)]


class RecentIndex:
    """Recently seen articles by content digest and SimHash band; LRU-bounded."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = max(1, maxsize)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._by_digest: dict[bytes, str] = {}
        self._by_band: dict[int, set[str]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, url: str, digest: bytes, simhash: int, distance: int) -> tuple[_Entry, str] | None:
        first = self._by_digest.get(digest)
        if first is not None and first != url:
            entry = self._entries[first]
            self._entries.move_to_end(first)
            return entry, "exact"
        best: tuple[int, str] | None = None
        for key in _band_keys(simhash):
            for other in self._by_band.get(key, ()):
                if other == url:
                    continue
                d = hamming(self._entries[other].simhash, simhash)
                if d <= distance and (best is None or (d, other) < best):
                    best = (d, other)
        if best is None:
            return None
        self._entries.move_to_end(best[1])
        return self._entries[best[1]], "near"

    def add(self, entry: _Entry) -> None:
        if entry.url in self._entries:
            self._unlink(self._entries.pop(entry.url))
        self._entries[entry.url] = entry
        self._by_digest.setdefault(entry.digest, entry.url)
        for key in _band_keys(entry.simhash):
            self._by_band.setdefault(key, set()).add(entry.url)
        while len(self._entries) > self.maxsize:
            _, old = self._entries.popitem(last=False)
            self._unlink(old)

    def _unlink(self, entry: _Entry) -> None:
        if self._by_digest.get(entry.digest) == entry.url:
            del self._by_digest[entry.digest]
        for key in _band_keys(entry.simhash):
            urls = self._by_band.get(key)
            if urls is not None:
                urls.discard(entry.url)
                if not urls:
                    del self._by_band[key]


class DedupPipeline:
    def __init__(self, crawler: Crawler, store: Store, distance: int, index_size: int) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.store = store
        self.distance = distance
        self.index = RecentIndex(index_size)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupPipeline:
        distance = crawler.settings.getint("NEWSSPIDER_NEAR_DUP_DISTANCE", 3)
        if distance < 0:
            raise NotConfigured("NEWSSPIDER_NEAR_DUP_DISTANCE < 0 turns deduplication off")
        if distance >= BANDS:
            logger.warning(
                "NEWSSPIDER_NEAR_DUP_DISTANCE=%d: the %d-band lookup only guarantees finding "
                "near duplicates within %d bits", distance, BANDS, BANDS - 1,
            )
        size = crawler.settings.getint("NEWSSPIDER_DEDUP_INDEX_SIZE", 50_000)
        return cls(crawler, Store.for_crawler(crawler), distance, size)

    async def open_spider(self) -> None:
        await self.store.aopen()

    async def close_spider(self) -> None:
        await self.store.aclose()

    def _inc(self, name: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(STAT + name)

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        url = item["url"]
        content_hash = item["content_hash"]
        simhash = int(item["simhash"])
        digest = bytes.fromhex(content_hash)

        # Synchronous up to the first await: find-or-register is atomic on the reactor.
        hit = self.index.find(url, digest, simhash, self.distance)
        if hit is not None:
            first, kind = hit
            if first.waiters is not None:
                waiter: Deferred[None] = Deferred()
                first.waiters.append(waiter)
                await maybe_deferred_to_future(waiter)
            if first.target != url:  # else: this URL itself, crawled again — a revision check
                await self._merge(item, first.target, kind)

        entry = _Entry(url, digest, simhash)
        self.index.add(entry)
        found = None
        try:
            found = await self._lookup(url, content_hash, simhash)
        finally:
            entry.settle(found[0] if found else url)
        if found is not None:
            await self._merge(item, found[0], found[1])
        return item

    async def _lookup(self, url: str, content_hash: str, simhash: int) -> tuple[str, str] | None:
        if not self.store.available:
            # The writer is riding out an outage: a lookup would wait for the
            # server-selection timeout on every item.  In-run dedup still works.
            self._inc("lookup_skipped")
            return None
        try:
            return await maybe_deferred_to_future(deferToThread(
                self.store.find_duplicate, url, content_hash, simhash,
                simhash_bands(simhash, BANDS), self.distance,
            ))
        except PyMongoError as exc:
            self._inc("lookup_errors")
            logger.warning("duplicate lookup for %s failed (%s); keeping the item", url, exc)
            return None

    async def _merge(self, item: dict[str, Any], target: str, kind: str) -> None:
        urls = [item["url"]]
        fetched = item.get("fetched_url")
        if fetched and fetched not in urls:
            urls.append(fetched)
        urls = [u for u in urls if u != target]
        if urls:
            await self.store.put_merge(target, urls)
        self._inc(kind)
        raise DuplicateItem(item["url"], target, kind)
