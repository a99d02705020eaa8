"""Replica scenarios for the aggregator family beyond OFweek news.

The posts in ``data/<portal>/`` (ZAKER, cnBeta, IT之家, 人人都是产品经理, Dockone)
become articles of one :class:`~newsspider.replica.model.Scenario` each, served
in that portal's own layout (``newsspider.replica.sites.<portal>``); the OFweek
channel sites (``ofweek_ee`` …) reuse the OFweek posts in ``data/ofweek/``.

What each article is (title, the time as the page prints it and the same instant
in UTC, the byline, the body served) is computed here, once, so tests compare a
crawl against it.  Bodies are the portal's HTML with what the aggregator added
taken away (the CORS image prefix, ``referrerpolicy``).

    >>> scenario = family_scenario("zaker")          # doctest: +SKIP
    >>> with ReplicaServer(scenario=scenario) as s:  # doctest: +SKIP
    ...     s.listing_url

Reads no settings, writes no stats.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from newsspider.replica.corpus import BEIJING, plain_body
from newsspider.replica.model import ArticleSpec, ListingEntry, Scenario

if TYPE_CHECKING:
    from newsspider.replica.sites.family import FamilySite

__all__ = ["FAMILY_PORTALS", "FamilyPost", "family_scenario", "family_site", "load_family_posts"]

_FRONT_MATTER = re.compile(r"\A\s*---\n(.*?)\n---\n", re.DOTALL)
_SCALAR = re.compile(r"^(\w+):\s*(.*)$")
_LIST_ITEM = re.compile(r"^\s+-\s+(.*)$")
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")

# portal name -> (module under replica.sites, class name)
FAMILY_PORTALS: dict[str, tuple[str, str]] = {
    "zaker": ("zaker", "Zaker"),
    "cnbeta": ("cnbeta", "CnBeta"),
    "ithome": ("ithome", "ITHome"),
    "woshipm": ("woshipm", "Woshipm"),
    "dockone": ("dockone", "Dockone"),
    "ofweek_ee": ("ofweek_channels", "EE"),
    "ofweek_robot": ("ofweek_channels", "Robot"),
    "ofweek_medical": ("ofweek_channels", "Medical"),
}


@dataclass(frozen=True, slots=True)
class FamilyPost:
    """One aggregator post of any portal: front matter plus the body as the portal served it."""

    portal: str
    post_id: str
    title: str
    date: datetime  # aware UTC
    author: str
    categories: tuple[str, ...]
    body: str  # plain: the aggregator's CORS prefix and referrer policy removed


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        quote = value[0]
        value = value[1:-1]
        if quote == "'":
            value = value.replace("''", "'")
    return value


def _date(text: str) -> datetime:
    """RFC 1123 GMT (most posts), or Dockone's naive ``YYYY-MM-DD HH:MM:SS`` in Beijing time."""
    try:
        return parsedate_to_datetime(text).astimezone(UTC)
    except (TypeError, ValueError):
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING).astimezone(UTC)


def parse_family_post(portal: str, post_id: str, text: str) -> FamilyPost:
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise ValueError(f"{portal}/{post_id}: no front matter")
    fields: dict[str, str] = {}
    categories: list[str] = []
    in_categories = False
    for line in match.group(1).splitlines():
        item = _LIST_ITEM.match(line)
        if in_categories and item:
            categories.append(_unquote(item.group(1)))
            continue
        scalar = _SCALAR.match(line)
        if scalar:
            in_categories = scalar.group(1) == "categories"
            fields[scalar.group(1)] = _unquote(scalar.group(2))
    rest = text[match.end():]
    start, end = rest.find("<div>"), rest.rfind("</div>")
    if start < 0 or end < start:
        raise ValueError(f"{portal}/{post_id}: no body <div>")
    return FamilyPost(
        portal=portal,
        post_id=post_id,
        title=fields["title"],
        date=_date(fields["date"]),
        author=fields.get("author", ""),
        categories=tuple(categories),
        body=plain_body(rest[start + len("<div>"):end].strip()),
    )


@cache
def load_family_posts(folder: str) -> tuple[FamilyPost, ...]:
    """Posts of ``data/<folder>/``, oldest first (stable across runs)."""
    root = resources.files("newsspider.replica").joinpath("data", folder)
    posts = [
        parse_family_post(folder, entry.name.removesuffix(".md"), entry.read_text(encoding="utf-8"))
        for entry in root.iterdir()
        if entry.name.endswith(".md")
    ]
    return tuple(sorted(posts, key=lambda post: (post.date, post.post_id)))


def text_of(fragment: str) -> str:
    """Text as an extractor reports it: tags out, entities decoded, all spaces folded."""
    text = html.unescape(_TAGS.sub(" ", fragment)).replace("\u3000", " ").replace("\xa0", " ")
    return _SPACES.sub(" ", text).strip()


def family_site(portal: str) -> FamilySite:
    import importlib

    try:
        module, cls = FAMILY_PORTALS[portal]
    except KeyError:
        known = ", ".join(sorted(FAMILY_PORTALS))
        raise KeyError(f"no replica layout for portal {portal!r}; known: {known}") from None
    site: FamilySite = getattr(importlib.import_module(f"newsspider.replica.sites.{module}"), cls)()
    return site


def family_scenario(portal: str, per_page: int | None = None) -> Scenario:
    """Every post of the portal's folder, newest first, in the portal's layout."""
    site = family_site(portal)
    posts = site.select(load_family_posts(site.corpus_folder))
    specs: list[ArticleSpec] = []
    for index, post in enumerate(posts):
        specs.append(site.spec(post, index))
    listed = sorted(specs, key=lambda spec: (spec.published_at, spec.id), reverse=True)
    content_type = f"text/html; charset={site.charset}"
    return Scenario(
        f"{portal}-corpus",
        site,
        listed,
        [ListingEntry(spec) for spec in listed],
        per_page=per_page or site.per_page,
        content_types={"listing": content_type, "article": content_type, "error": content_type},
    )
