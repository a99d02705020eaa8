"""Resolve every body image to its original absolute URL (ITEM_PIPELINES 100).

Reads ``raw_body_html`` and ``fetched_url`` (falling back to ``url``); writes
``body_html`` (images resolved, links absolute, markup otherwise as on the
page — :class:`~newsspider.pipelines.normalize.NormalizePipeline` sanitizes
it next), ``images`` = ``[{"url", "src", "alt"}]`` and ``lead_image``.
Per-portal drop/unwrap rules come from ``spider.portal.body_rules`` so images
inside dropped blocks are not listed.

The body is parsed once for both stages: this pipeline runs
:func:`~newsspider.normalize.body.process_body`, which also normalizes and
fingerprints it, and hands the result on under a private item key for
NormalizePipeline to apply.  With ``NEWSSPIDER_BODY_WORKERS`` > 0 that work
runs in worker processes (:class:`~newsspider.normalize.pool.BodyPool`,
started in ``open_spider``), so the crawl process's own core stays on
fetching and parsing pages; an article whose body kills a worker twice is
rejected with that reason.

Settings: ``NEWSSPIDER_IMAGE_PROXIES`` (extra proxy patterns, see
:mod:`newsspider.normalize.images`), ``NEWSSPIDER_IMAGE_PLACEHOLDERS`` (extra
placeholder file-name regexes), ``NEWSSPIDER_BODY_WORKERS`` (``auto``: one
per CPU beyond the crawl's own, at most 4; 0: in the crawl process).

Stats: ``newsspider/images/items``, ``newsspider/images/found``,
``newsspider/images/rewritten`` (url differs from the page's src: lazy
attribute or proxy), ``newsspider/images/removed`` (no usable URL),
``newsspider/images/no_body``, ``newsspider/images/parse_failed``,
``newsspider/images/unwrapped``, ``newsspider/images/dropped_elements``,
``newsspider/images/emails_decoded``, ``newsspider/images/flattened`` (portal/generic
rules and deep-nesting flattening applied here first),
``newsspider/images/workers``, ``newsspider/images/worker_restarts``,
``newsspider/images/worker_crashed`` (articles rejected for killing a worker),
``newsspider/images/workers_failed`` (1 when workers could not start and
bodies were processed in the crawl process).
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.utils.defer import maybe_deferred_to_future

from newsspider.normalize.body import BodySpec, ProcessedBody, process_body
from newsspider.normalize.images import ImageConfig
from newsspider.normalize.pool import BodyPool, WorkerCrashed, worker_count
from newsspider.normalize.rules import BodyRules

__all__ = [
    "PROCESSED_KEY",
    "ImageResolvePipeline",
    "image_config_from_settings",
    "item_base_url",
    "portal_body_rules",
]

_STAT = "newsspider/images/"
# Private item key: the ProcessedBody handed to NormalizePipeline (popped there, never stored).
PROCESSED_KEY = "_processed_body"


def image_config_from_settings(settings: Any) -> ImageConfig:
    """The image resolution config for a crawler's settings (shared by pipelines)."""
    try:
        return ImageConfig.build(
            extra_proxies=settings.getlist("NEWSSPIDER_IMAGE_PROXIES"),
            extra_placeholders=settings.getlist("NEWSSPIDER_IMAGE_PLACEHOLDERS"),
        )
    except ValueError as exc:
        # A typo in a pattern must stop the crawl at start, not skew every item.
        raise ValueError(f"NEWSSPIDER_IMAGE_PROXIES/PLACEHOLDERS: {exc}") from exc


def item_base_url(item: Any) -> str | None:
    """The URL the body's relative links resolve against: ``fetched_url``, else ``url``.

    Only a string counts: a non-string value (a broken item) must not crash
    URL joining (found by tests/test_fuzz.py); the validator rejects the item.
    """
    for name in ("fetched_url", "url"):
        value = item.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def portal_body_rules(crawler: Crawler) -> BodyRules | None:
    """``spider.portal.body_rules`` when the running spider has a portal."""
    portal = getattr(crawler.spider, "portal", None)
    rules = getattr(portal, "body_rules", None)
    return rules if isinstance(rules, BodyRules) else None


class ImageResolvePipeline:
    def __init__(self, crawler: Crawler, workers: int, nice: int) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        # The image config travels as these strings (BodySpec); every process builds it from them.
        self.extra_proxies = tuple(crawler.settings.getlist("NEWSSPIDER_IMAGE_PROXIES"))
        self.extra_placeholders = tuple(crawler.settings.getlist("NEWSSPIDER_IMAGE_PLACEHOLDERS"))
        self.workers = workers
        self.nice = nice
        self.pool: BodyPool | None = None
        self._spec: BodySpec | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ImageResolvePipeline:
        settings = crawler.settings
        image_config_from_settings(settings)  # a malformed pattern stops the crawl here, not per item
        return cls(
            crawler,
            worker_count(settings.get("NEWSSPIDER_BODY_WORKERS", "auto")),
            settings.getint("NEWSSPIDER_HELPER_NICE", 5),
        )

    def open_spider(self) -> None:
        # Without open_spider (a pipeline driven by hand) bodies are processed in-process.
        if self.workers > 0:
            self.pool = BodyPool(self.workers, nice=self.nice)
            self.pool.start()
            self.stats.set_value(_STAT + "workers", self.workers)

    async def close_spider(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            await maybe_deferred_to_future(pool.close())
            if pool.restarts:
                self.stats.set_value(_STAT + "worker_restarts", pool.restarts)
            if pool.in_process:
                self.stats.set_value(_STAT + "workers_failed", 1)

    def spec(self) -> BodySpec:
        if self._spec is None:
            self._spec = BodySpec.of(
                portal_body_rules(self.crawler), self.extra_proxies, self.extra_placeholders
            )
        return self._spec

    async def _process(self, raw: str, base_url: str | None) -> ProcessedBody:
        if self.pool is None:
            return process_body(raw, base_url, self.spec())
        return await maybe_deferred_to_future(self.pool.process(raw, base_url, self.spec()))

    async def process_item(self, item: Any) -> Any:
        if item.get("_errors"):
            return item  # already a reject (e.g. the page failed to load): the validator records it
        raw = item.get("raw_body_html")
        if not isinstance(raw, str):
            # Nothing to resolve; the validator rejects an item without a body.
            self.stats.inc_value(_STAT + "no_body")
            return item
        try:
            processed = await self._process(raw, item_base_url(item))
        except WorkerCrashed as exc:
            self.stats.inc_value(_STAT + "worker_crashed")
            item.setdefault("_errors", []).append({"field": "body_html", "message": str(exc)})
            return item
        item["body_html"] = processed.resolved_html
        item[PROCESSED_KEY] = processed
        item["images"] = processed.images
        item["lead_image"] = processed.images[0]["url"] if processed.images else None
        self.stats.inc_value(_STAT + "items")
        self.stats.inc_value(_STAT + "found", len(processed.images))
        events = processed.resolve_events
        for event, stat in (
            ("images_rewritten", "rewritten"),
            ("images_removed", "removed"),
            ("parse_failed", "parse_failed"),
            # The portal rules run here first (so dropped blocks list no
            # images); the normalizer's own counts then stay at zero.
            ("unwrapped", "unwrapped"),
            ("dropped", "dropped_elements"),
            ("emails_decoded", "emails_decoded"),
            ("flattened", "flattened"),
        ):
            if events[event]:
                self.stats.inc_value(_STAT + stat, events[event])
        return item
