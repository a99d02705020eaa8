"""The body stage (ITEM_PIPELINES 100): the one place an article's stored body is made.

``raw_body_html`` (as the spider found it, kept beside the result) becomes, in
one lxml parse of the body (:func:`process_body`):

1. **images and links resolved** — drop/unwrap rules (generic and the
   portal's ``spider.portal.body_rules``) applied, each ``<img>`` resolved to
   its original absolute URL (lazy attributes, image proxies, placeholders:
   :mod:`newsspider.normalize.images`), links made absolute against
   ``fetched_url`` (else ``url``);
2. **normalized** — rebuilt into the contract §5 body and sanitized
   (:mod:`newsspider.normalize.html`), its text derived;
3. **fingerprinted** — ``content_hash`` and ``simhash`` (signed int64) of
   that text (:mod:`newsspider.normalize.text`), for the dedup stage.

:class:`BodyPipeline` writes ``body_html``, ``body_text``, ``images``
(``[{"url", "src", "alt"}]``), ``lead_image``, ``content_hash``, ``simhash``
and, when the listing gave none, ``summary`` (the first paragraph).
:func:`newsspider.extract.page.extract_page` (CONTRACT §8) calls the same
:func:`process_body`, so ``newsspider extract`` prints what a crawl stores.
One later, optional step touches ``body_html`` again: with ``IMAGES_STORE`` and
``NEWSSPIDER_IMAGES_BASE_URL`` set, the image download pipeline (250,
:mod:`newsspider.pipelines.download`) points each downloaded image's ``src``
at its copy; nothing else rewrites the body.

An item whose body cannot be made gets ``item["_errors"] = [{"field":
"body_html", "message": …}]`` and goes on to the validator, which records it
in ``rejects``; items that already carry ``_errors`` pass through untouched.
An empty body gives empty text, which the validator rejects as "article body
is empty".

Bodies are processed in the crawl process: the worker processes they had
(``NEWSSPIDER_BODY_WORKERS``, removed) cost a second interpreter (5.4 % more
instructions over all processes on a 200-article crawl) and ~35 MB more RSS,
for no measurable wall-clock gain
(docs/benchmarks.md, "Optimizations kept and what they buy").

Settings: ``NEWSSPIDER_IMAGE_PROXIES`` (extra proxy patterns),
``NEWSSPIDER_IMAGE_PLACEHOLDERS`` (extra placeholder file-name regexes),
``NEWSSPIDER_SUMMARY_MAX_CHARS``.

Stats (``newsspider/body/``): ``items`` (bodies made), ``images`` (images
listed), ``images_rewritten`` (url differs from the page's src: lazy attribute
or proxy), ``images_removed`` (no usable URL), ``dropped_elements``,
``unwrapped``, ``emails_decoded``, ``flattened`` (elements unwrapped below 100
levels of nesting), ``sanitizer_changed``, ``parse_failed``, ``empty`` (no text
and no image), ``summary_filled``, ``failed/<reason>`` (items rejected here:
``no_body``, ``too_deep`` — nested deeper than libxml2 parses, see
newsspider.htmldepth —, ``parse_failed``, ``error``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lxml import etree

from newsspider.htmldepth import TOO_DEEP
from newsspider.normalize.html import normalize_resolved, resolve_body
from newsspider.normalize.images import DEFAULT_IMAGE_CONFIG, ImageConfig, ImageRecord
from newsspider.normalize.rules import BodyRules
from newsspider.normalize.text import content_hash, simhash64

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = [
    "Body",
    "BodyPipeline",
    "BodyRejected",
    "image_config_from_settings",
    "item_base_url",
    "process_body",
]

_STAT = "newsspider/body/"
# Body events counted as stats, under these names.
_EVENT_STATS = (
    ("images_rewritten", "images_rewritten"),
    ("images_removed", "images_removed"),
    ("dropped", "dropped_elements"),
    ("unwrapped", "unwrapped"),
    ("emails_decoded", "emails_decoded"),
    ("flattened", "flattened"),
    ("sanitizer_changed", "sanitizer_changed"),
    ("parse_failed", "parse_failed"),
)


class BodyRejected(ValueError):
    """The body cannot be stored; ``reason`` names the stat, the message the reject's."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Body:
    """The stored body fields of one article, and what making them did (``events``)."""

    html: str  # body_html, contract §5
    text: str  # body_text
    images: list[ImageRecord]
    content_hash: str
    simhash: int
    events: Counter[str]

    @property
    def lead_image(self) -> str | None:
        return self.images[0]["url"] if self.images else None


def process_body(
    raw_html: str,
    base_url: str | None,
    rules: BodyRules | None = None,
    config: ImageConfig = DEFAULT_IMAGE_CONFIG,
) -> Body:
    """Resolve, normalize and fingerprint one body, parsing it once.

    Raises :class:`BodyRejected` when the body cannot be stored: nested deeper
    than libxml2 parses, the rebuild failed, or a normalizer bug on this input.
    """
    resolved = resolve_body(raw_html, base_url, rules, config)
    if resolved.events["too_deep"]:
        raise BodyRejected("too_deep", f"the body is {TOO_DEEP}")
    try:
        normalized = normalize_resolved(resolved)
        digest, fingerprint = content_hash(normalized.text), simhash64(normalized.text)
    except (ValueError, TypeError, RecursionError, etree.LxmlError) as exc:
        raise BodyRejected(
            "error", f"normalization failed ({type(exc).__name__}: {exc})"
        ) from exc
    if normalized.events["parse_failed"]:
        raise BodyRejected("parse_failed", "the body HTML could not be parsed")
    return Body(normalized.html, normalized.text, resolved.images, digest, fingerprint,
                resolved.events + normalized.events)


def image_config_from_settings(settings: Any) -> ImageConfig:
    """The image resolution config for a crawler's settings."""
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


class BodyPipeline:
    """``raw_body_html`` → the stored body fields, in the crawl process (see the module docstring)."""

    def __init__(self, crawler: Crawler, config: ImageConfig, summary_max_chars: int) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.config = config
        self.summary_max_chars = summary_max_chars

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BodyPipeline:
        settings = crawler.settings
        return cls(
            crawler,
            image_config_from_settings(settings),  # a malformed pattern stops the crawl here
            settings.getint("NEWSSPIDER_SUMMARY_MAX_CHARS", 200),
        )

    @property
    def rules(self) -> BodyRules | None:
        """``spider.portal.body_rules`` when the running spider has a portal."""
        portal = getattr(self.crawler.spider, "portal", None)
        rules = getattr(portal, "body_rules", None)
        return rules if isinstance(rules, BodyRules) else None

    def process_item(self, item: Any) -> Any:
        if item.get("_errors"):
            return item  # already a reject (e.g. the page failed to load): the validator records it
        raw = item.get("raw_body_html")
        if not isinstance(raw, str):
            return self._reject(item, "no_body", "the article has no body HTML")
        try:
            body = process_body(raw, item_base_url(item), self.rules, self.config)
        except BodyRejected as exc:
            return self._reject(item, exc.reason, str(exc))
        item["body_html"] = body.html
        item["body_text"] = body.text
        item["images"] = body.images
        item["lead_image"] = body.lead_image
        item["content_hash"] = body.content_hash
        item["simhash"] = body.simhash
        if item.get("summary") is None and body.text:
            item["summary"] = self._summary(body.text)
            self.stats.inc_value(_STAT + "summary_filled")
        self._count(body)
        return item

    def _reject(self, item: Any, reason: str, message: str) -> Any:
        self.stats.inc_value(f"{_STAT}failed/{reason}")
        item.setdefault("_errors", []).append({"field": "body_html", "message": message})
        return item

    def _count(self, body: Body) -> None:
        inc = self.stats.inc_value
        inc(_STAT + "items")
        if body.images:
            inc(_STAT + "images", len(body.images))
        elif not body.text:
            inc(_STAT + "empty")
        events = body.events
        for event, stat in _EVENT_STATS:
            if events[event]:
                inc(_STAT + stat, events[event])

    def _summary(self, text: str) -> str:
        first = text.split("\n", 1)[0]
        if len(first) <= self.summary_max_chars:
            return first
        return first[: self.summary_max_chars - 1].rstrip() + "…"
