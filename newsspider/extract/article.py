"""An article page → title, author, date, body HTML, and the next page of a long article."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from parsel import Selector

from newsspider.extract.common import (
    absolute_url,
    clean_text,
    first_text,
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


@lru_cache(maxsize=64)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def body_html(doc: Selector, selectors: list[str]) -> str | None:
    """Outer HTML of the first body element found (``None`` when no selector matches)."""
    for selector in selectors:
        found = select(doc, selector)
        if found:
            return found[0].get()
    return None


def parse_article(html: str, url: str, portal: Portal) -> ArticlePage:
    doc, cut = page_selector(html, url)
    rules = portal.article
    published_text = first_text(doc, rules.published)
    date = parse_date(published_text, rules.published_regex, rules.date_formats, portal.tz)
    author = first_text(doc, rules.author)
    if author and rules.author_strip:
        author = clean_text(_regex(rules.author_strip).sub("", author)) or None
    next_url = None
    href = first_value(doc, rules.next_page)
    if href and not href.startswith(("javascript:", "#")):
        candidate = absolute_url(url, href)
        if candidate and candidate != url and (
            rules.page_url_regex is None or _regex(rules.page_url_regex).search(candidate)
        ):
            next_url = candidate
    return ArticlePage(
        title=first_text(doc, rules.title),
        author=author,
        published_raw=date.raw,
        published_at=date.at,
        body_html=body_html(doc, rules.body),
        next_url=next_url,
        cut_short=cut,
        date_out_of_range=date.out_of_range,
    )
