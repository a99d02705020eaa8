"""Automatic extraction for pages nobody wrote selectors for: main content + metadata.

Pure: HTML text + URL in, plain data out (no I/O, no Scrapy).

The body is found in two steps.  trafilatura chooses the article's text:
its fast cascade in recall mode, comments off, for text only — with links and images on it
keeps captions and related links and loses F1 on the article-extraction
benchmark (docs/extraction.md).  Then that choice is projected onto the
page's own markup (:mod:`newsspider.extract.projection`): the page's
smallest element holding the chosen text, minus every run of text
trafilatura did not keep.  The body is thus the page's HTML — links, tables,
lazy-load image attributes for the normalize and image pipelines, bare text
between ``<div>`` s — with trafilatura's precision.  When no element of the
page holds the text, trafilatura's own (text-only) HTML is the body.

When the fast cascade finds nothing, nothing that reads like an article, or
a text that is mostly links (a navigation dump), trafilatura's full cascade
(its readability and jusText fallbacks) gets a second try.

When the chosen text reads like page furniture rather than an article
(:func:`~newsspider.extract.projection.reads_like_article`: little text, no
long line, mostly short lines), the page has no body: trafilatura then
returns the page's boilerplate (title, byline, disclaimer), e.g. on a page
whose body a script inserts.

Metadata, parsed once with the body: title, author and site name the way
trafilatura's ``extract_metadata`` finds them (meta tags, JSON-LD, then the
page's title and byline elements), without its costly extras (categories,
tags, licence); the publication time from the page's machine-readable
markers first (``article:published_time`` and friends, JSON-LD
``datePublished``, ``<time datetime>``), then htmldate (shipped with
trafilatura; its quick search, then its extensive one), whose answer is local
time without a zone.

Reads no settings, writes no stats.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import trafilatura
from htmldate import find_date
from lxml import etree
from lxml import html as lxml_html
from trafilatura.htmlprocessing import convert_to_html
from trafilatura.metadata import (
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
)
from trafilatura.settings import Document
from trafilatura.utils import repair_faulty_html

from newsspider.extract.projection import (
    Layout,
    Selection,
    layout,
    project,
    reads_like_article,
    squash,
)

__all__ = ["AutoArticle", "extract_article", "extract_main", "page_date", "parse_iso"]

logger = logging.getLogger(__name__)

# Less main text than this (headings, link text and the title excluded) is no article: a
# teaser page, a paywall, or a page whose body a script inserts (render=js): no body then.
MIN_BODY_CHARS = 80
# ...nor is text without a line this long (bylines, tag lists, disclaimers are short), or
# with under half of it in lines of LONG_LINE_CHARS.
MIN_PARAGRAPH_CHARS = 40
LONG_LINE_CHARS = 30
# A chosen text with this share of link text is a navigation dump: try the full cascade.
MAX_LINK_SHARE = 0.5

# How trafilatura chooses the text (passed to ``bare_extraction``).
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "output_format": "xml",  # no text rendering: the body is taken from the page
    "include_comments": False,
    "include_tables": True,
    "include_formatting": True,
    "include_images": False,
    "include_links": False,
    "deduplicate": False,
}
# The first try: no external fallbacks, and recall focus, which skips the "balanced" mode's
# second extraction of short pages (a third of the time on the benchmark, same F1 on its
# development half, see docs/extraction.md).
FAST_CASCADE: dict[str, Any] = {"fast": True, "favor_recall": True}
# The second try, when the first looks wrong: trafilatura's defaults.
FULL_CASCADE: dict[str, Any] = {"fast": False}

_META_DATE = etree.XPath(
    "//meta[@property='article:published_time' or @property='og:published_time'"
    " or @name='article:published_time' or @itemprop='datePublished'"
    " or @name='pubdate' or @name='publishdate' or @name='PubDate' or @name='publish_date'"
    " or @name='date' or @name='DC.date.issued' or @name='dcterms.created']/@content"
)
_LD_JSON = etree.XPath("//script[@type='application/ld+json']/text()")
_TIME = etree.XPath("//time[@datetime][1]/@datetime")
_HTML_LANG = etree.XPath("/html/@lang")
# trafilatura's XML elements that are lines of text.
_XML_LINES = ("p", "item", "cell", "quote", "code")


@dataclass(frozen=True, slots=True)
class AutoArticle:
    """What automatic extraction found; every field may be missing."""

    body_html: str | None
    # "container" (the page's own element), "trafilatura" (its HTML output),
    # "short_lines" (known_article only: the page's element, text in short lines),
    # "too_short" (boilerplate only, see MIN_BODY_CHARS) or "none".
    method: str
    title: str | None
    author: str | None
    site_name: str | None
    description: str | None
    language: str | None
    published_raw: str | None
    published_at: datetime | None


# trafilatura's parser settings (trafilatura.utils.HTML_PARSER), with lxml's C-level class
# lookup: lxml.html's default calls back into Python for every element object it creates,
# which costs about a millisecond per page here and inside trafilatura, which gets this tree.
_PARSER = lxml_html.HTMLParser(
    collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True,
    remove_pis=True,
)
_PARSER.set_element_class_lookup(etree.ElementDefaultClassLookup(element=lxml_html.HtmlElement))


def _parse(html: str) -> lxml_html.HtmlElement | None:
    """The page as ``trafilatura.load_html`` parses it (same repairs and checks), or ``None``."""
    beginning = html[:50].lower()
    html = repair_faulty_html(html, beginning)
    try:
        try:
            tree = lxml_html.fromstring(html, parser=_PARSER)
        except ValueError:
            # "Unicode strings with encoding declaration are not supported."
            tree = lxml_html.fromstring(html.encode("utf-8", "surrogatepass"), parser=_PARSER)
    except (etree.ParserError, ValueError, TypeError):
        return None
    if tree is None or ("html" not in beginning and len(tree) < 2):
        return None  # trafilatura's test for "not HTML at all"
    return tree


@dataclass(slots=True)
class _Choice:
    """One trafilatura run laid out on the page."""

    body: etree._Element  # trafilatura's XML body
    found: Layout | None
    article: bool

    @property
    def suspicious(self) -> bool:
        return not self.article or (
            self.found is not None and self.found.link_share >= MAX_LINK_SHARE
        )


def _choose(tree: lxml_html.HtmlElement, url: str | None, full: bool) -> _Choice | None:
    cascade = FULL_CASCADE if full else FAST_CASCADE
    try:
        # bare_extraction copies the tree: ``tree`` stays the page as served.
        doc = trafilatura.bare_extraction(tree, url=url, **cascade, **TRAFILATURA_OPTIONS)
    except (ValueError, TypeError, RecursionError, etree.LxmlError) as exc:
        # trafilatura raises on some broken documents; the page then simply has no body.
        logger.debug("trafilatura failed on %s: %s", url, exc)
        return None
    if not isinstance(doc, Document) or doc.body is None:
        return None
    selection = Selection.of(doc.body)
    found = layout(tree, selection, url)
    if found is not None:
        sizes = found.line_sizes()
    else:  # no element of the page holds the text: judge trafilatura's own lines
        sizes = [len(squash("".join(e.itertext()))) for e in doc.body.iter(*_XML_LINES)]
    article = reads_like_article(sizes, MIN_BODY_CHARS, MIN_PARAGRAPH_CHARS, LONG_LINE_CHARS)
    return _Choice(doc.body, found, article)


def _best_choice(tree: lxml_html.HtmlElement, url: str | None) -> _Choice | None:
    """The fast cascade's choice, or the full cascade's when that one looks wrong."""
    choice = _choose(tree, url, full=False)
    if choice is None or choice.suspicious:
        # The full cascade: trafilatura's own fallbacks (readability, jusText).
        second = _choose(tree, url, full=True)
        if second is not None and (
            choice is None or (second.article and not second.suspicious) or not choice.article
        ):
            choice = second
    return choice


def _body(choice: _Choice | None, known_article: bool = False) -> tuple[str | None, str]:
    """``(body HTML, method)`` of a choice (projecting it changes the page).

    ``known_article``: the page is an article for sure (a portal's listing
    linked it, newsspider.extract.heal): text that does not read like an
    article (short lines) is still taken when one element of the page below
    ``<body>`` holds it — method ``"short_lines"`` — but never the page as a
    whole, nor trafilatura's text alone.
    """
    if choice is None:
        return None, "none"
    if not choice.article:
        found = choice.found
        # One element of the page below <body> holding it, not mostly links: a body;
        # the whole page's furniture (a page whose body is empty) is not.
        if (
            known_article and found is not None and found.container.tag != "body"
            and found.link_share < MAX_LINK_SHARE
        ):
            body = project(found)
            if body:
                return body, "short_lines"
        return None, "too_short"
    if choice.found is not None:
        body = project(choice.found)
        if body:
            return body, "container"
    return _trafilatura_body(choice.body), "trafilatura"


def _trafilatura_body(body: etree._Element) -> str | None:
    """trafilatura's own choice as HTML, without its ``<html><body>`` wrapper."""
    html = convert_to_html(body)
    inner = "".join(lxml_html.tostring(child, encoding="unicode") for child in html[0]).strip()
    return inner or None


def extract_main(
    html: str, url: str | None = None, *, known_article: bool = False
) -> tuple[str | None, str]:
    """``(body HTML, method)`` of the page's main content; body ``None`` when there is none
    (``known_article``: see :func:`_body`)."""
    tree = _parse(html)
    if tree is None:
        return None, "none"
    return _body(_best_choice(tree, url), known_article)


def parse_iso(value: str, default_tz: tzinfo = UTC) -> datetime | None:
    """A W3C/ISO 8601 date or datetime as UTC; a bare day or naive time is read in ``default_tz``."""
    value = value.strip()
    if not value:
        return None
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed.astimezone(UTC)


def _ld_dates(root: lxml_html.HtmlElement) -> list[str]:
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            date = value.get("datePublished")
            if isinstance(date, str):
                found.append(date)
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    for text in _LD_JSON(root):
        try:
            walk(json.loads(text))
        except ValueError:
            continue  # a broken JSON-LD block is common and says nothing about the date
    return found


def page_date(
    root: lxml_html.HtmlElement, url: str | None = None, default_tz: tzinfo = UTC
) -> tuple[str | None, datetime | None]:
    """``(raw, UTC datetime)`` of the page's publication time, or ``(None, None)``."""
    for raw in [*_META_DATE(root), *_ld_dates(root), *_TIME(root)]:
        parsed = parse_iso(str(raw), default_tz)
        if parsed is not None:
            return str(raw).strip(), parsed
    found = None
    # htmldate's quick search (markup, URL) first: the extensive one reads the whole
    # text and costs about 13 ms a page.
    for extensive in (False, True):
        try:
            found = find_date(
                root, extensive_search=extensive, original_date=True,
                outputformat="%Y-%m-%d %H:%M:%S", url=url,
            )
        except ValueError:
            found = None
        if found:
            break
    if not found:
        return None, None
    # htmldate pads a date-only finding with 00:00:00; keep the raw as it found it.
    raw = found[:10] if found.endswith(" 00:00:00") else found
    return raw, parse_iso(found.replace(" ", "T"), default_tz)


@dataclass(frozen=True, slots=True)
class _Meta:
    title: str | None
    author: str | None
    site_name: str | None
    description: str | None


def _metadata(tree: lxml_html.HtmlElement) -> _Meta:
    """Title, author, site name and description, as ``trafilatura.extract_metadata`` finds them.

    Its steps, in its order (meta tags, JSON-LD, the page's title and byline
    elements), without the date (see :func:`page_date`), categories, tags and
    licence, and without copying the whole page to look for a byline (:func:`_byline`).
    """
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None  # a one-word "author" meta is a handle or a site, as trafilatura says
    try:
        meta = extract_meta_json(tree, meta)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        # trafilatura's JSON-LD reader trips on some real-world documents: no JSON-LD then.
        logger.debug("JSON-LD metadata unreadable: %s", exc)
    meta.title = meta.title or extract_title(tree)
    site_name = meta.sitename or extract_sitename(tree)
    if site_name:
        site_name = site_name.lstrip("@")
        if site_name and "." not in site_name and not site_name[0].isupper():
            site_name = site_name.title()
    meta.sitename = site_name
    meta.clean_and_trim()
    return _Meta(meta.title or None, meta.author or None, meta.sitename or None,
                 meta.description or None)


def _byline(tree: lxml_html.HtmlElement, choice: _Choice | None) -> str | None:
    """trafilatura's byline search (``extract_author``) around the body.

    Its XPaths test every element of the page against regular expressions
    (about 5 ms a page); bylines sit next to the body, so the search runs on
    a copy of the body element's grandparent (the whole page when no element
    holds the body).
    """
    region = tree
    if choice is not None and choice.found is not None:
        region = choice.found.container
        for _ in range(3):
            parent = region.getparent()
            if parent is None or region.tag == "body":
                break
            region = parent
    author = extract_author(copy.deepcopy(region) if region is not tree else tree)
    return author or None


def extract_article(
    html: str, url: str | None = None, default_tz: tzinfo = UTC, *, known_article: bool = False
) -> AutoArticle:
    """Body and metadata of an article page, found automatically (the page is parsed once;
    ``known_article``: see :func:`_body`)."""
    tree = _parse(html)
    if tree is None:
        return AutoArticle(None, "none", None, None, None, None, None, None, None)
    lang = _HTML_LANG(tree)
    published_raw, published_at = page_date(tree, url, default_tz)
    meta = _metadata(tree)
    # After the metadata: laying the body out drops the page's scripts (JSON-LD included).
    choice = _best_choice(tree, url)
    author = meta.author or _byline(tree, choice)
    # Last: projecting the body changes the page.
    body_html, method = _body(choice, known_article)
    return AutoArticle(
        body_html=body_html,
        method=method,
        title=meta.title,
        author=author,
        site_name=meta.site_name,
        description=meta.description,
        language=(str(lang[0]).strip() or None) if lang else None,
        published_raw=published_raw,
        published_at=published_at,
    )
