"""The generic spider ``feed``: any RSS 2.0, Atom or sitemap URL, articles extracted automatically.

``scrapy crawl feed -a start_url=https://example.com/rss.xml``

Arguments (CONTRACT §2):

* ``start_url`` (required) — an RSS/Atom feed, a sitemap, a Google news
  sitemap or a sitemap index (gzipped sitemaps too); indexes are followed.
* ``site_name`` — default: the first document's title (RSS/Atom channel
  title, news-sitemap publication name), else the start URL's host.
* ``categories`` — comma-separated; default ``[site_name]``.  ``channel``
  (default empty) and ``language`` (default: the feed's, else the page's
  ``<html lang>``, else ``zh``) may be given too.
* ``max_pages`` — how many feed/sitemap *documents* to walk: the start
  document, the children of a sitemap index, RFC 5005 ``rel=next`` pages of a
  feed (default ``NEWSSPIDER_FEED_MAX_DOCUMENTS``).  Every entry of a walked
  document is taken; ``max_entries`` caps the entries if needed.
* ``since=YYYY-MM-DD`` — entries dated before it are skipped (the entry's
  date, else a sitemap ``<lastmod>``, which is never earlier than the
  publication; undated entries are fetched and judged by the page's date);
  sitemap-index children whose ``<lastmod>`` is older are not fetched, and a
  paged feed stops at its first old entry.  ``timezone`` (default UTC) is how
  ``since`` and zone-less dates are read.
* ``render=js`` — article pages through headless Chromium (feeds never: a
  browser shows XML as a document of its own).  ``full=1`` — fetch entries the
  store already has.

An entry whose feed carries the whole article (``content:encoded``/Atom
``content``, or a description, with at least
``NEWSSPIDER_FEED_FULL_CONTENT_CHARS`` characters of text and no teaser ending)
is stored from the feed without fetching the page.  Otherwise the page is
fetched and its main content found by :mod:`newsspider.extract.auto`.
Title, author and date come from the entry when it has them, else from the
page's metadata.  The item is the portal spiders' item, so the same pipelines
apply.

Settings read: ``NEWSSPIDER_FEED_MAX_DOCUMENTS``, ``NEWSSPIDER_FEED_FULL_CONTENT_CHARS``,
``NEWSSPIDER_FEED_MAX_SITEMAP_BYTES`` (and the browser's, see ``runtime``).

Stats (under ``newsspider/spider/``): ``feed_documents``, ``feed_documents/<kind>``,
``feed_documents_skipped/<reason>``, ``not_a_feed``, ``feed_entries``, ``bad_links``,
``older_than_since``, ``articles_known``, ``articles_requested``, ``max_entries_reached``,
``body_from_feed``, ``body_extracted/<container|trafilatura|too_short|none>``, ``article_pages``,
``fetch_failed``, ``fetch_failed/<reason>``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import scrapy
from scrapy.http import Response
from scrapy.utils.gz import gunzip
from twisted.python.failure import Failure

from newsspider.dates import plausible
from newsspider.extract import decode_html
from newsspider.extract.auto import AutoArticle, extract_article
from newsspider.extract.feed import FeedEntry, FeedError, parse_feed
from newsspider.htmldepth import DEFAULT_DEPTH, cut_at_default_depth
from newsspider.spiders.base import (
    NewsSpider,
    SpiderArgumentError,
    _parse_flag,
    _parse_max_pages,
    _parse_render,
    _parse_since,
    failed_request,
    parse_positive_int,
    parse_start_url,
    since_to_utc,
)
from newsspider.urls import canonicalize

logger = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "zh"
_GZIP_MAGIC = b"\x1f\x8b"


def _parse_categories(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise SpiderArgumentError(f"-a categories must name at least one category, got {value!r}")
    return names


def _parse_tz(value: str | None) -> tzinfo:
    if value in (None, "", "UTC", "utc"):
        return UTC
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SpiderArgumentError(
            f"-a timezone must be an IANA zone such as Asia/Shanghai, got {value!r}"
        ) from exc


def _parse_count(name: str, value: str | int | None) -> int | None:
    # 0 means "no limit" here.
    if value in (0, "0"):
        return None
    return parse_positive_int(name, value)


class FeedSpider(NewsSpider):
    """Articles announced by an RSS/Atom feed or a sitemap, extracted automatically."""

    name = "feed"
    full_content_chars: int = 300
    max_sitemap_bytes: int = 50 * 1024 * 1024

    def __init__(
        self,
        start_url: str | None = None,
        site_name: str | None = None,
        categories: str | None = None,
        channel: str | None = None,
        language: str | None = None,
        max_pages: str | int | None = None,
        max_entries: str | int | None = None,
        since: str | None = None,
        timezone: str | None = None,
        render: str | None = None,
        full: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not start_url:
            raise SpiderArgumentError(
                "the feed spider needs -a start_url=URL of an RSS, Atom or sitemap document"
            )
        _scheme, host = parse_start_url(start_url)
        self.start_urls = [start_url]
        self.host = host
        # Feeds routinely link another host (feeds.example.com → www.example.com, CDNs):
        # entries are explicit links, so no offsite filtering.
        self.site_name_arg = site_name.strip() if site_name and site_name.strip() else None
        self.site_name = self.site_name_arg
        self.categories_arg = _parse_categories(categories)
        self.channel = (channel or "").strip()
        self.language_arg = language.strip() if language and language.strip() else None
        self.feed_language: str | None = None
        # The default comes from the settings (from_crawler); a given value is checked now.
        self.max_pages_arg = None if max_pages in (None, "") else _parse_max_pages(max_pages, 1)
        self.max_pages = 0  # set in from_crawler, where the settings are known
        self.max_entries = _parse_count("max_entries", max_entries)
        self.tz = _parse_tz(timezone)
        self.since = _parse_since(since)
        self.since_utc = since_to_utc(self.since, self.tz)
        self.render_js = _parse_render(render)
        self.full = _parse_flag("full", full)
        self.documents_requested = 0
        self.entries_taken = 0

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> FeedSpider:
        spider: FeedSpider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.max_pages = spider.max_pages_arg or settings.getint(
            "NEWSSPIDER_FEED_MAX_DOCUMENTS", 20
        )
        spider.full_content_chars = settings.getint("NEWSSPIDER_FEED_FULL_CONTENT_CHARS", 300)
        spider.max_sitemap_bytes = settings.getint(
            "NEWSSPIDER_FEED_MAX_SITEMAP_BYTES", 50 * 1024 * 1024
        )
        return spider

    # -- documents -----------------------------------------------------------

    def _document_request(self, url: str, kind: str) -> scrapy.Request | None:
        if self.documents_requested >= self.max_pages:
            self._stat("feed_documents_skipped/max_pages")
            return None
        self.documents_requested += 1
        # Feeds are fetched over plain HTTP even with render=js (see the module docstring).
        return scrapy.Request(
            url, callback=self.parse_document, errback=self.document_failed,
            cb_kwargs={"expected": kind}, dont_filter=url in self.start_urls,
        )

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.start_urls:
            request = self._document_request(url, "any")
            if request is not None:
                yield request

    def _body(self, response: Response) -> bytes:
        body = response.body
        if body[:2] == _GZIP_MAGIC:
            # A .xml.gz sitemap served as a file (not Content-Encoding): unpack it here.
            body = gunzip(body, max_size=self.max_sitemap_bytes)
        return body

    async def parse_document(self, response: Response, expected: str) -> AsyncIterator[Any]:
        try:
            feed = parse_feed(
                self._body(response), response.url,
                full_content_chars=self.full_content_chars, default_tz=self.tz,
            )
        except (FeedError, OSError, ValueError) as exc:
            # OSError/ValueError: a corrupt or oversized gzip sitemap.
            self._stat("not_a_feed")
            logger.error("%s is not a usable feed or sitemap: %s", response.url, exc)
            return
        self._stat("feed_documents")
        self._stat(f"feed_documents/{feed.kind}")
        if self.site_name is None:
            self.site_name = feed.title or self.host
            logger.info("site_name %r (from %s)", self.site_name, feed.title and "the feed" or "host")
        if self.feed_language is None and feed.language:
            self.feed_language = feed.language

        if feed.kind == "sitemapindex":
            for loc, lastmod in feed.sitemaps:
                if self.since_utc and lastmod and lastmod < self.since_utc:
                    self._stat("feed_documents_skipped/since")
                    continue
                request = self._document_request(response.urljoin(loc), "sitemap")
                if request is None:
                    break
                yield request
            return

        older = 0
        fresh: list[tuple[str, str, FeedEntry]] = []
        seen: set[str] = set()
        self._stat("feed_entries", len(feed.entries))
        for entry in feed.entries:
            when = entry.published_at or entry.modified_at
            if self.since_utc and when is not None and when < self.since_utc:
                older += 1
                continue
            link = response.urljoin(entry.url)
            try:
                canonical = canonicalize(link)
            except ValueError:
                self._stat("bad_links")
                continue
            if canonical not in seen:
                seen.add(canonical)
                fresh.append((canonical, link, entry))
        if older:
            self._stat("older_than_since", older)

        known: set[str] = set()
        if fresh and not self.full:
            known = await self._store_for_lookup().known_ids(sorted(seen))
        if known:
            self._stat("articles_known", sum(1 for c, _, _ in fresh if c in known))
        for canonical, link, entry in fresh:
            if canonical in known:
                continue
            if self.max_entries is not None and self.entries_taken >= self.max_entries:
                self._stat("max_entries_reached")
                break
            self.entries_taken += 1
            if entry.content_html:
                self._stat("body_from_feed")
                item = self._item(canonical, link, entry, None)
                if item is not None:
                    yield item
                continue
            self._stat("articles_requested")
            yield self._request(
                link, self.parse_entry,
                cb_kwargs={"entry": entry, "canonical": canonical, "link": link},
                errback=self.entry_failed,
            )

        if feed.next_url and not older:
            request = self._document_request(response.urljoin(feed.next_url), feed.kind)
            if request is not None:
                yield request

    def document_failed(self, failure: Failure) -> None:
        key, message = self._failure_reason(failure)
        self._stat("fetch_failed")
        self._stat(f"fetch_failed/{key}")
        logger.error("feed document %s failed: %s", failed_request(failure).url, message)

    # -- articles ------------------------------------------------------------

    def parse_entry(
        self, response: Response, entry: FeedEntry, canonical: str, link: str
    ) -> Iterator[Any]:
        self._stat("article_pages")
        text, _ = decode_html(
            response.body, (response.headers.get("Content-Type") or b"").decode("latin-1")
        )
        if cut_at_default_depth(text):
            # Automatic extraction (lxml, trafilatura) parses without huge_tree: it would
            # silently keep only the first 256 levels of this page.
            self._stat("pages_cut_short")
            yield from self._rejected(
                canonical, link, entry,
                f"the page {response.url} is nested deeper than {DEFAULT_DEPTH} elements, the depth "
                "automatic extraction parses: it would be cut there, so it is rejected")
            return
        page = extract_article(text, response.url, self.tz)
        self._stat(f"body_extracted/{page.method}")
        if page.body_html is None:
            hint = "" if self.render_js else " (if a script inserts it, try -a render=js)"
            logger.warning("no article body found on %s%s", response.url, hint)
        item = self._item(canonical, link, entry, page)
        if item is not None:
            yield item

    def entry_failed(self, failure: Failure) -> Iterator[dict[str, Any]]:
        key, message = self._failure_reason(failure)
        self._stat("fetch_failed")
        self._stat(f"fetch_failed/{key}")
        request = failed_request(failure)
        kwargs = request.cb_kwargs
        logger.warning("article %s failed: %s", request.url, message)
        reason = f"{message} from {request.url}"
        item = self._item(
            kwargs["canonical"], kwargs["link"], kwargs["entry"], None,
            errors=[{"field": "fetch", "message": reason}],
        )
        if item is not None:
            yield item

    def _rejected(
        self, canonical: str, link: str, entry: FeedEntry, message: str,
    ) -> Iterator[dict[str, Any]]:
        item = self._item(canonical, link, entry, None,
                          errors=[{"field": "body_html", "message": message}])
        if item is not None:
            yield item

    def _item(
        self,
        canonical: str,
        fetched_url: str,
        entry: FeedEntry,
        page: AutoArticle | None,
        errors: list[dict[str, str]] | None = None,
    ) -> dict[str, Any] | None:
        """The article item (the portal spiders' shape); ``None`` when older than ``since``."""
        site_name = self.site_name or self.host
        # The entry's date, else the page's, else (a sitemap's <lastmod>, never before
        # publication) the modification time; one outside 1970 … now + 2 days counts
        # as missing (newsspider.dates), its raw text kept if nothing better is found.
        candidates = [(entry.published_raw, entry.published_at)]
        if page is not None:
            candidates.append((page.published_raw, page.published_at))
        if entry.modified_at is not None:
            candidates.append((entry.modified_at.isoformat(), entry.modified_at))
        published_raw: str | None = None
        published_at: datetime | None = None
        for raw, at in candidates:
            if raw is None:
                continue
            if at is not None and not plausible(at):
                self._stat("dates_out_of_range")
                at = None
            if published_raw is None or (published_at is None and at is not None):
                published_raw, published_at = raw, at
            if published_at is not None:
                break
        language = (
            self.language_arg or self.feed_language or (page.language if page else None)
            or DEFAULT_LANGUAGE
        )
        item: dict[str, Any] = {
            "url": canonical,
            "fetched_url": fetched_url,
            "portal": self.name,
            "site_name": site_name,
            "channel": self.channel,
            "categories": list(self.categories_arg or [site_name]),
            "language": language,
            "title": entry.title or (page.title if page else None) or "",
            "author": entry.author or (page.author if page else None),
            "published_raw": published_raw or "",
            "published_at": published_at,
            "raw_body_html": entry.content_html or (page.body_html if page else None) or "",
            "summary": entry.summary,
            "pages": 1,
        }
        if errors:
            item["_errors"] = errors
            return item
        if self.since_utc and published_at is not None and published_at < self.since_utc:
            self._stat("older_than_since")
            return None
        return item
