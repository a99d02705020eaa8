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
* the store, off the reactor thread: the item's four 16-bit SimHash bands
  are ``_id``s of the ``dedup_keys`` collection, listing the stored bodies
  with that band (any hash within 3 bits shares one; an exact copy shares
  all four).  Items in flight together are looked up in ONE ``_id`` query
  (:class:`KeyBatcher`); only when a stored body is within the distance does
  a second ``_id`` query check its current version — never a scan.
  While the store is unreachable this lookup is skipped (stat
  ``newsspider/dedup/lookup_skipped``) rather than stalling the crawl.

Settings read: ``NEWSSPIDER_NEAR_DUP_DISTANCE`` (default 3; at most 3 for the
band lookup to be exhaustive), ``NEWSSPIDER_DEDUP_INDEX_SIZE`` (default 10000).
Stats written: ``newsspider/dedup/exact``, ``newsspider/dedup/near``,
``newsspider/dedup/lookup_skipped``,
``newsspider/dedup/lookup_errors``, ``newsspider/dedup/skipped_empty`` (an empty or
rejected body: never a duplicate of anything).
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

from newsspider.normalize.text import hamming
from newsspider.store.store import SIMHASH_BANDS, Store, dedup_keys

logger = logging.getLogger(__name__)

STAT = "newsspider/dedup/"
BANDS = SIMHASH_BANDS


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


def near_candidates(
    refs: dict[str, list[str]], url: str, simhash: int, distance: int
) -> list[tuple[int, str]]:
    """``(distance, url)`` of the stored bodies within ``distance`` bits, nearest first.

    ``refs`` holds the item's own band keys only (what :meth:`KeyBatcher.get` answers).
    """
    found: dict[str, int] = {}
    for key_refs in refs.values():
        for ref in key_refs:
            value, _, other = ref.partition("|")
            if not other or other == url or other in found:
                continue
            try:
                d = hamming(int(value), simhash)
            except ValueError:
                continue
            if d <= distance:
                found[other] = d
    return sorted((d, other) for other, d in found.items())


def choose_duplicate(
    states: dict[str, dict[str, Any]],
    url: str,
    content_hash: str,
    simhash: int,
    candidates: list[tuple[int, str]],
    distance: int,
) -> tuple[str, str] | None:
    """The stored article ``url`` duplicates, ``(its _id, "exact"|"near")``, from current states.

    ``url`` itself being stored means a re-crawl (a revision check), not a
    duplicate.  A candidate's key may be stale (its article was revised or is
    gone), so the distance is checked again against the stored SimHash.
    """
    if url in states:
        return None
    exact = sorted(c for _, c in candidates if states.get(c, {}).get("content_hash") == content_hash)
    if exact:
        return exact[0], "exact"
    best: tuple[int, str] | None = None
    for _, other in candidates:
        stored = states.get(other, {}).get("simhash")
        if stored is None:
            continue
        d = hamming(int(stored), simhash)
        if d <= distance and (best is None or (d, other) < best):
            best = (d, other)
    return (best[1], "near") if best else None


class KeyBatcher:
    """Band-key lookups for many items in one store query; at most one query in flight.

    Requests that arrive while a query runs wait for the next one, which asks
    for all of them at once: under load batches grow by themselves, and an
    idle crawl pays one round trip per item, as before.
    """

    def __init__(self, fetch: Any) -> None:
        self.fetch = fetch  # blocking: list[str] -> dict[str, list[str]]
        self.pending: list[tuple[list[str], Deferred[dict[str, list[str]]]]] = []
        self.running = False

    async def get(self, keys: list[str]) -> dict[str, list[str]]:
        waiter: Deferred[dict[str, list[str]]] = Deferred()
        self.pending.append((keys, waiter))
        if not self.running:
            self._next()
        return await maybe_deferred_to_future(waiter)

    def _next(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        self.running = True
        wanted = sorted({key for keys, _ in batch for key in keys})
        query = deferToThread(self.fetch, wanted)

        def answered(result: dict[str, list[str]]) -> None:
            self.running = False
            for keys, waiter in batch:
                waiter.callback({k: result[k] for k in keys if k in result})
            self._next()

        def failed(failure: Any) -> None:
            self.running = False
            for _, waiter in batch:
                waiter.errback(failure)
            self._next()

        query.addCallbacks(answered, failed)


class DedupPipeline:
    def __init__(self, crawler: Crawler, store: Store, distance: int, index_size: int) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.store = store
        self.distance = distance
        self.index = RecentIndex(index_size)
        self.keys = KeyBatcher(store.dedup_refs_blocking)

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
        size = crawler.settings.getint("NEWSSPIDER_DEDUP_INDEX_SIZE", 10_000)
        return cls(crawler, Store.for_crawler(crawler), distance, size)

    async def open_spider(self) -> None:
        await self.store.aopen_for_crawl()

    async def close_spider(self) -> None:
        await self.store.aclose()

    def _inc(self, name: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(STAT + name)

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        if not str(item.get("body_text") or "").strip() or item.get("_errors"):
            # An empty or incomplete body says nothing about whose copy it is: every
            # empty body has the same hash.  (The validator, before this stage,
            # rejects them; this keeps a reordered pipeline from merging them.)
            self._inc("skipped_empty")
            return item
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
            refs = await self.keys.get(dedup_keys(simhash))
            candidates = near_candidates(refs, url, simhash, self.distance)
            if not candidates:
                return None
            # Rare: something stored is close.  Check the current versions (and
            # whether this URL itself is stored) with one more _id query.
            states = await maybe_deferred_to_future(deferToThread(
                self.store.article_states_blocking, [url, *(c for _, c in candidates)]
            ))
        except PyMongoError as exc:
            self._inc("lookup_errors")
            logger.warning("duplicate lookup for %s failed (%s); keeping the item", url, exc)
            return None
        return choose_duplicate(states, url, content_hash, simhash, candidates, self.distance)

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
