"""Feeds and sitemaps → entries. Pure: document bytes + URL in, plain data out.

* RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 are read by feedparser (given the bytes,
  never a URL, so it fetches nothing).  feedparser's HTML sanitizer is off:
  the body is kept as published and sanitized once, by the normalize
  pipeline; relative links are resolved against the feed's base.
* Sitemaps (``<urlset>``, including Google news sitemaps) and sitemap indexes
  (``<sitemapindex>``) are read with lxml, entities and network access off.
  A sitemap's ``<lastmod>`` is when the *page* last changed, so it is kept as
  ``modified_at`` (an upper bound of the publication time), not as the date.

An entry carries the full article when its ``content:encoded`` / Atom
``content`` (or, failing that, its description) has at least
``full_content_chars`` characters of text and does not end like a teaser
("…", "[…]", "阅读全文", "Read more").

Reads no settings, writes no stats.
"""

from __future__ import annotations

import calendar
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

import feedparser
from lxml import etree
from lxml import html as lxml_html

from newsspider.extract.auto import parse_iso

__all__ = ["Feed", "FeedEntry", "FeedError", "full_content", "parse_feed", "text_length"]

DEFAULT_FULL_CONTENT_CHARS = 300

_SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
_NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
_WS = re.compile(r"\s+")
_TEASER_END = re.compile(
    r"(?:\.\.\.|…|\[…\]|\[\.\.\.\]|阅读全文|查看全文|阅读更多|全文>*|read more|continue reading"
    r"|more\s*»)\W*$",
    re.IGNORECASE,
)
_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, recover=True, huge_tree=True, remove_comments=True
)


class FeedError(ValueError):
    """The document is neither a feed nor a sitemap; the message says what it looked like."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One article announced by a feed or a sitemap."""

    url: str
    title: str | None = None
    published_raw: str | None = None
    published_at: datetime | None = None  # UTC
    # Sitemap <lastmod>: the page changed then (so it was published no later).
    modified_at: datetime | None = None
    author: str | None = None
    summary: str | None = None  # the description as text, when it is a teaser
    content_html: str | None = None  # the full body, when the entry carries it
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Feed:
    """A parsed document: ``kind`` is rss, atom, sitemap or sitemapindex."""

    kind: str
    title: str | None = None
    language: str | None = None
    entries: tuple[FeedEntry, ...] = ()
    # Sitemap index: (child sitemap URL, its lastmod) in document order.
    sitemaps: tuple[tuple[str, datetime | None], ...] = ()
    # RFC 5005 paging (``<link rel="next">``) of an RSS/Atom feed.
    next_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def text_length(html: str) -> int:
    """Characters of text (whitespace excluded) in an HTML fragment."""
    if not html.strip():
        return 0
    try:
        root = lxml_html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return len(_WS.sub("", html))
    return len(_WS.sub("", root.text_content()))


def _text(html: str) -> str:
    if not html.strip():
        return ""
    try:
        root = lxml_html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return _WS.sub(" ", html).strip()
    return _WS.sub(" ", root.text_content()).strip()


def full_content(html: str | None, min_chars: int) -> bool:
    """Whether a feed's HTML is the whole article rather than a teaser."""
    if not html:
        return False
    return text_length(html) >= min_chars and not _TEASER_END.search(_text(html)[-40:])


def _looks_like_sitemap(body: bytes) -> str | None:
    head = body[:2048].lstrip()
    for tag in (b"urlset", b"sitemapindex"):
        if re.search(rb"<(?:\w+:)?" + tag + rb"[\s>]", head):
            return tag.decode()
    return None


def parse_feed(
    body: bytes,
    url: str,
    *,
    full_content_chars: int = DEFAULT_FULL_CONTENT_CHARS,
    default_tz: tzinfo = UTC,
) -> Feed:
    """Parse an RSS/Atom feed or a sitemap; raises :class:`FeedError` for anything else."""
    if _looks_like_sitemap(body):
        return _parse_sitemap(body, url, default_tz)
    return _parse_syndication(body, url, full_content_chars)


# -- sitemaps ------------------------------------------------------------------


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child_text(node: etree._Element, name: str, ns: str = _SITEMAP_NS) -> str | None:
    found = node.find(f"{{{ns}}}{name}")
    if found is None:
        # Sitemaps in the wild omit or misspell the namespace.
        found = next((c for c in node if _local(c.tag) == name), None)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _parse_sitemap(body: bytes, url: str, default_tz: tzinfo) -> Feed:
    try:
        root = etree.fromstring(body, parser=_XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise FeedError(f"{url}: broken sitemap XML: {exc}") from exc
    if root is None:
        raise FeedError(f"{url}: empty sitemap")
    kind = _local(root.tag)
    if kind == "sitemapindex":
        children = []
        for node in root:
            if _local(node.tag) != "sitemap":
                continue
            loc = _child_text(node, "loc")
            if loc:
                lastmod = _child_text(node, "lastmod")
                children.append((loc, parse_iso(lastmod, default_tz) if lastmod else None))
        return Feed(kind="sitemapindex", sitemaps=tuple(children))
    entries = []
    publication: str | None = None
    language: str | None = None
    for node in root:
        if _local(node.tag) != "url":
            continue
        loc = _child_text(node, "loc")
        if not loc:
            continue
        lastmod = _child_text(node, "lastmod")
        news = node.find(f"{{{_NEWS_NS}}}news")
        title = published_raw = None
        keywords: tuple[str, ...] = ()
        if news is not None:
            title = _child_text(news, "title", _NEWS_NS)
            published_raw = _child_text(news, "publication_date", _NEWS_NS)
            pub = news.find(f"{{{_NEWS_NS}}}publication")
            if pub is not None:
                publication = publication or _child_text(pub, "name", _NEWS_NS)
                language = language or _child_text(pub, "language", _NEWS_NS)
            words = _child_text(news, "keywords", _NEWS_NS)
            if words:
                keywords = tuple(w.strip() for w in words.split(",") if w.strip())
        entries.append(
            FeedEntry(
                url=loc,
                title=title,
                published_raw=published_raw,
                published_at=parse_iso(published_raw, default_tz) if published_raw else None,
                modified_at=parse_iso(lastmod, default_tz) if lastmod else None,
                categories=keywords,
            )
        )
    return Feed(kind="sitemap", title=publication, language=language, entries=tuple(entries))


# -- RSS and Atom --------------------------------------------------------------


def _struct_utc(value: Any) -> datetime | None:
    if not value:
        return None
    # feedparser's *_parsed values are UTC struct_times.
    return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)


def _parse_syndication(body: bytes, url: str, full_content_chars: int) -> Feed:
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-location": url},
        sanitize_html=False,
        resolve_relative_uris=True,
    )
    version = parsed.get("version") or ""
    if not version:
        start = body[:80].decode("utf-8", "replace").strip()
        raise FeedError(f"{url}: not an RSS/Atom feed or a sitemap; it starts with {start!r}")
    meta = parsed.feed
    entries = []
    for entry in parsed.entries:
        link = entry.get("link") or _alternate(entry)
        if not link:
            continue
        published_raw = entry.get("published") or entry.get("updated")
        published_at = _struct_utc(entry.get("published_parsed") or entry.get("updated_parsed"))
        description = entry.get("summary") or ""
        contents = [c.get("value", "") for c in entry.get("content") or []]
        content = max(contents, key=len) if contents else ""
        body_html = None
        if full_content(content, full_content_chars):
            body_html = content
        elif full_content(description, full_content_chars):
            body_html = description
        summary = _text(description) if description and description is not body_html else None
        entries.append(
            FeedEntry(
                url=link,
                title=(entry.get("title") or "").strip() or None,
                published_raw=published_raw,
                published_at=published_at,
                author=(entry.get("author") or "").strip() or None,
                summary=summary or None,
                content_html=body_html,
                categories=tuple(
                    t.get("term", "").strip() for t in entry.get("tags") or [] if t.get("term")
                ),
            )
        )
    next_url = next(
        (link.get("href") for link in meta.get("links") or [] if link.get("rel") == "next"), None
    )
    return Feed(
        kind="atom" if version.startswith("atom") else "rss",
        title=(meta.get("title") or "").strip() or None,
        language=meta.get("language") or None,
        entries=tuple(entries),
        next_url=next_url,
        extra={"version": version},
    )


def _alternate(entry: Any) -> str | None:
    for link in entry.get("links") or []:
        if link.get("rel") in (None, "alternate") and link.get("href"):
            return str(link["href"])
    return None
