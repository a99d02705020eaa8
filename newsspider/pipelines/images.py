"""Resolve every body image to its original absolute URL (ITEM_PIPELINES 100).

Reads ``raw_body_html`` and ``fetched_url`` (falling back to ``url``); writes
``body_html`` (images resolved, links absolute, markup otherwise as on the
page — :class:`~newsspider.pipelines.normalize.NormalizePipeline` sanitizes
it next), ``images`` = ``[{"url", "src", "alt"}]`` and ``lead_image``.
Per-portal drop/unwrap rules come from ``spider.portal.body_rules`` so images
inside dropped blocks are not listed.

Settings: ``NEWSSPIDER_IMAGE_PROXIES`` (extra proxy patterns, see
:mod:`newsspider.normalize.images`), ``NEWSSPIDER_IMAGE_PLACEHOLDERS`` (extra
placeholder file-name regexes).

Stats: ``newsspider/images/items``, ``newsspider/images/found``,
``newsspider/images/rewritten`` (url differs from the page's src: lazy
attribute or proxy), ``newsspider/images/removed`` (no usable URL),
``newsspider/images/no_body``, ``newsspider/images/parse_failed``,
``newsspider/images/unwrapped``, ``newsspider/images/dropped_elements``,
``newsspider/images/emails_decoded`` (portal/generic rules applied here first).
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler

from newsspider.normalize.html import resolve_body

# Private item key: the ResolvedBody (parsed tree) handed to NormalizePipeline.
RESOLVED_KEY = "_resolved_body"
from newsspider.normalize.images import ImageConfig
from newsspider.normalize.rules import BodyRules

__all__ = [
    "ImageResolvePipeline",
    "image_config_from_settings",
    "item_base_url",
    "portal_body_rules",
]

_STAT = "newsspider/images/"


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
    def __init__(self, crawler: Crawler, config: ImageConfig) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.config = config

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ImageResolvePipeline:
        return cls(crawler, image_config_from_settings(crawler.settings))

    def process_item(self, item: Any) -> Any:
        if item.get("_errors"):
            return item  # already a reject (e.g. the page failed to load): the validator records it
        raw = item.get("raw_body_html")
        if not isinstance(raw, str):
            # Nothing to resolve; the validator rejects an item without a body.
            self.stats.inc_value(_STAT + "no_body")
            return item
        base_url = item_base_url(item)
        resolved = resolve_body(raw, base_url, portal_body_rules(self.crawler), self.config)
        item["body_html"] = resolved.html
        # The parsed tree goes on to NormalizePipeline (same process) so the
        # body is parsed once; it pops the key, nothing stores it.
        item[RESOLVED_KEY] = resolved
        item["images"] = resolved.images
        item["lead_image"] = resolved.images[0]["url"] if resolved.images else None
        self.stats.inc_value(_STAT + "items")
        self.stats.inc_value(_STAT + "found", len(resolved.images))
        for event, stat in (
            ("images_rewritten", "rewritten"),
            ("images_removed", "removed"),
            ("parse_failed", "parse_failed"),
            # The portal rules run here first (so dropped blocks list no
            # images); the normalizer's own counts then stay at zero.
            ("unwrapped", "unwrapped"),
            ("dropped", "dropped_elements"),
            ("emails_decoded", "emails_decoded"),
        ):
            if resolved.events[event]:
                self.stats.inc_value(_STAT + stat, resolved.events[event])
        return item
