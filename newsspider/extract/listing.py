"""A listing page → its article links (with title, abstract, date) and the next page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from newsspider.extract.common import absolute_url, first_text, first_value, parse_date, select
from newsspider.htmldepth import page_selector
from newsspider.portals.base import Portal

_HTML_SUFFIX = re.compile(r"(?:-\d+)?\.s?html?$")


@dataclass(slots=True)
class ListingItem:
    url: str
    title: str | None = None
    summary: str | None = None
    date_raw: str | None = None
    published_at: datetime | None = None
    #: ``date_raw`` parsed to a date outside 1970 … now + 2 days: ignored (newsspider.dates).
    date_out_of_range: bool = False


@dataclass(slots=True)
class ListingPage:
    items: list[ListingItem] = field(default_factory=list)
    next_url: str | None = None
    # The page has a pagination block (so no next link means the last page).
    has_pagination: bool = False
    # libxml2 stopped at its depth limit: items after that point are missing.
    cut_short: bool = False


def page_url(portal: Portal, first_page_url: str, n: int) -> str | None:
    """Listing page ``n`` (2, 3, …) from the first page's URL and the portal's pattern."""
    template = portal.listing.page_url
    if template is None:
        return None
    stem = _HTML_SUFFIX.sub("", first_page_url.split("?", 1)[0])
    return template.format(stem=stem, n=n, url=first_page_url)


def parse_listing(html: str, url: str, portal: Portal) -> ListingPage:
    """Items of a listing page in page order; duplicates (same link) kept once."""
    doc, cut = page_selector(html, url)
    rules = portal.listing
    nodes = None
    for selector in rules.items:
        nodes = select(doc, selector)
        if nodes:
            break
    page = ListingPage(cut_short=cut)
    seen: set[str] = set()
    for node in nodes or []:
        href = first_value(node, rules.link)
        if not href or href.startswith(("javascript:", "#", "mailto:")):
            continue
        absolute = absolute_url(url, href)
        if absolute is None or absolute in seen:
            continue
        seen.add(absolute)
        date_text = first_text(node, rules.date)
        date = parse_date(
            date_text, portal.article.published_regex, portal.article.date_formats, portal.tz
        )
        page.items.append(
            ListingItem(
                url=absolute,
                title=first_text(node, rules.title),
                summary=first_text(node, rules.summary),
                date_raw=date.raw,
                published_at=date.at,
                date_out_of_range=date.out_of_range,
            )
        )
    page.has_pagination = any(select(doc, selector) for selector in rules.pagination)
    next_href = first_value(doc, rules.next_page)
    if next_href and not next_href.startswith(("javascript:", "#")):
        page.next_url = absolute_url(url, next_href)
    return page
