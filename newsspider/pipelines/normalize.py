"""Sanitize the body and derive its text and fingerprints (ITEM_PIPELINES 200).

Reads ``body_html`` (from :class:`~newsspider.pipelines.images.ImageResolvePipeline`;
falls back to ``raw_body_html`` when that pipeline is off) and ``fetched_url``;
when ImageResolvePipeline already normalized the body in the same parse
(:func:`~newsspider.normalize.body.process_body`, possibly in a worker
process) its result is applied here instead of normalizing again;
writes ``body_html`` (contract §5), ``body_text``, ``content_hash``,
``simhash`` (signed int64), ``summary`` from the first paragraph when it is
None, and ``images``/``lead_image`` when the image pipeline did not run.
Per-portal rules: ``spider.portal.body_rules``.

An item whose body cannot be normalized gets ``item["_errors"] = [{"field":
"body_html", "message": …}]`` and goes on to the validator, which records it in
``rejects``.  An empty body is normalized to empty text; the validator rejects
it as "article body is empty".  Items that already carry ``_errors`` pass through.

Settings: ``NEWSSPIDER_SUMMARY_MAX_CHARS``, plus the image settings read by
:func:`~newsspider.pipelines.images.image_config_from_settings`.

Stats: ``newsspider/normalize/items``, ``newsspider/normalize/dropped_elements``,
``newsspider/normalize/unwrapped``, ``newsspider/normalize/emails_decoded``,
``newsspider/normalize/sanitizer_changed``, ``newsspider/normalize/summary_filled``,
``newsspider/normalize/flattened`` (elements unwrapped below 100 levels of nesting),
``newsspider/normalize/failed/<reason>`` (``too_deep``: nested deeper than libxml2
parses, see newsspider.htmldepth).
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler

from newsspider.htmldepth import TOO_DEEP
from newsspider.normalize.body import NormalizationFailed, fingerprinted
from newsspider.normalize.html import NormalizedBody, normalize_body
from newsspider.normalize.images import ImageConfig
from newsspider.pipelines.images import (
    PROCESSED_KEY,
    image_config_from_settings,
    item_base_url,
    portal_body_rules,
)

__all__ = ["NormalizePipeline"]

_STAT = "newsspider/normalize/"


class NormalizePipeline:
    def __init__(self, crawler: Crawler, config: ImageConfig, summary_max_chars: int) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.config = config
        self.summary_max_chars = summary_max_chars

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalizePipeline:
        settings = crawler.settings
        return cls(
            crawler,
            image_config_from_settings(settings),
            settings.getint("NEWSSPIDER_SUMMARY_MAX_CHARS", 200),
        )

    def _reject(self, item: Any, reason: str, message: str) -> Any:
        self.stats.inc_value(f"{_STAT}failed/{reason}")
        item.setdefault("_errors", []).append({"field": "body_html", "message": message})
        return item

    def process_item(self, item: Any) -> Any:
        processed = item.pop(PROCESSED_KEY, None)
        if item.get("_errors"):
            return item
        html = item.get("body_html")
        if html is None:
            html = item.get("raw_body_html")
        if not isinstance(html, str):
            return self._reject(item, "no_body", "the article has no body HTML")
        if processed is not None and processed.resolved_html == html:
            # Normalized with the image stage, in one parse: apply that result.
            if processed.normalized is None:
                reason = "too_deep" if processed.resolve_events.get("too_deep") else "error"
                return self._reject(item, reason, processed.error)
            result: NormalizedBody = processed.normalized
            digest, fingerprint = processed.content_hash, processed.simhash
        else:
            rules = portal_body_rules(self.crawler)
            try:
                result, digest, fingerprint = fingerprinted(
                    lambda: normalize_body(html, item_base_url(item), rules, self.config)
                )
            except NormalizationFailed as exc:
                return self._reject(item, "error", str(exc))
        text = result.text
        if result.events["too_deep"]:
            return self._reject(item, "too_deep", f"the body is {TOO_DEEP}")
        if result.events["parse_failed"] and html.strip():
            return self._reject(item, "parse_failed", "the body HTML could not be parsed")
        if not text and not result.images:
            self.stats.inc_value(_STAT + "empty")
        item["body_html"] = result.html
        item["body_text"] = text
        item["content_hash"] = digest
        item["simhash"] = fingerprint
        if "images" not in item:
            item["images"] = result.images
            item["lead_image"] = result.lead_image
        if item.get("summary") is None and text:
            item["summary"] = self._summary(text)
            self.stats.inc_value(_STAT + "summary_filled")
        self.stats.inc_value(_STAT + "items")
        for event, stat in (
            ("dropped", "dropped_elements"),
            ("unwrapped", "unwrapped"),
            ("emails_decoded", "emails_decoded"),
            ("sanitizer_changed", "sanitizer_changed"),
            ("flattened", "flattened"),
        ):
            if result.events[event]:
                self.stats.inc_value(_STAT + stat, result.events[event])
        return item

    def _summary(self, text: str) -> str:
        first = text.split("\n", 1)[0]
        if len(first) <= self.summary_max_chars:
            return first
        return first[: self.summary_max_chars - 1].rstrip() + "…"
