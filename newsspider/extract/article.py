"""An article page → title, author, date, body HTML, and the next page of a long article.

Only the portal's declared selectors are used here; :mod:`newsspider.extract.heal`
fills what they did not find with automatic extraction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from lxml import etree
from parsel import Selector

from newsspider.extract.common import (
    absolute_url,
    clean_text,
    first_text_at,
    first_value,
    parse_date,
    select,
)
from newsspider.htmldepth import page_selector
from newsspider.portals.base import Portal


@dataclass(slots=True)
class ArticlePage:
    title: str | None
    author: str | None
    published_raw: str | None
    published_at: datetime | None
    body_html: str | None
    next_url: str | None
    #: libxml2 stopped at its depth limit: the page (and its body) is incomplete.
    cut_short: bool = False
    #: ``published_raw`` parsed to a date outside 1970 … now + 2 days: ignored (newsspider.dates).
    date_out_of_range: bool = False
    #: Field ("title", "published_at", "author", "body_html") -> index of the declared
    #: selector that found it; a field the selectors did not find is absent.
    matched: dict[str, int] = field(default_factory=dict)
    #: Field -> "selectors" | "auto": how it was found (CONTRACT §4 ``extraction``);
    #: set by newsspider.extract.heal, empty from parse_article alone.
    extraction: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=64)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def body_html(doc: Selector, selectors: list[str]) -> str | None:
    """Outer HTML of the first body element found (``None`` when no selector matches)."""
    return body_html_at(doc, selectors)[0]


def body_html_at(doc: Selector, selectors: list[str]) -> tuple[str | None, int | None]:
    """``(outer HTML, selector index)`` of the first body element with content.

    An element with neither text nor an image is no body: a template that keeps
    the old container empty and moves the text elsewhere must count as "not
    found", so that automatic extraction takes over.
    """
    for index, selector in enumerate(selectors):
        for found in select(doc, selector):
            if _has_content(found.root):
                return found.get(), index
    return None, None


def _has_content(node: object) -> bool:
    """Some text or an image inside; stops at the first (a body's whole string costs ~20 µs)."""
    if isinstance(node, str):
        return bool(node.strip())
    if not isinstance(node, etree._Element):
        return False
    if any(text.strip() for text in node.itertext()):
        return True
    return node.tag == "img" or node.find(".//img") is not None


def parse_article(html: str, url: str, portal: Portal) -> ArticlePage:
    doc, cut = page_selector(html, url)
    return parse_article_doc(doc, url, portal, cut_short=cut)


def parse_article_doc(
    doc: Selector, url: str, portal: Portal, *, cut_short: bool = False
) -> ArticlePage:
    """:func:`parse_article` on a page already parsed (``cut_short``: by ``page_selector``)."""
    rules = portal.article
    matched: dict[str, int] = {}
    published_text, index = first_text_at(doc, rules.published)
    date = parse_date(published_text, rules.published_regex, rules.date_formats, portal.tz)
    if date.at is not None and index is not None:
        matched["published_at"] = index
    author, index = first_text_at(doc, rules.author)
    if author and rules.author_strip:
        author = clean_text(_regex(rules.author_strip).sub("", author)) or None
    if author and index is not None:
        matched["author"] = index
    title, index = first_text_at(doc, rules.title)
    if index is not None:
        matched["title"] = index
    body, index = body_html_at(doc, rules.body)
    if index is not None:
        matched["body_html"] = index
    next_url = None
    href = first_value(doc, rules.next_page)
    if href and not href.startswith(("javascript:", "#")):
        candidate = absolute_url(url, href)
        if candidate and candidate != url and (
            rules.page_url_regex is None or _regex(rules.page_url_regex).search(candidate)
        ):
            next_url = candidate
    return ArticlePage(
        title=title,
        author=author,
        published_raw=date.raw,
        published_at=date.at,
        body_html=body,
        next_url=next_url,
        cut_short=cut_short,
        date_out_of_range=date.out_of_range,
        matched=matched,
    )
