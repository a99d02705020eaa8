"""Automatic extraction for pages nobody wrote selectors for: main content + metadata.

Pure: HTML text + URL in, plain data out (no I/O, no Scrapy).

The body is found in two steps.  trafilatura locates the main text
(``favor_recall``: on noisy news pages it kept the most body text with no
extra noise, see ``tests/test_feed_extract.py``).  Then the page's own element
holding that text is looked up (descending from ``<body>`` while one child
still holds ≥ 90 % of the extracted text); when that element is not much
bigger than the extracted text, *its* HTML is the body — exactly as on the
page, so text trafilatura drops (bare text between ``<div>`` s, link-only
paragraphs) and lazy-load image attributes survive for the normalize and
image pipelines.  Otherwise trafilatura's own HTML output is the body.

When trafilatura's text reads like page furniture rather than an article (see
``_is_article_text``: little text, no long line, mostly short lines), the page has no body:
trafilatura then returns the page's boilerplate (title, byline, disclaimer),
e.g. on a page whose body a script inserts.

Metadata: title, author, site name and description from trafilatura's
``extract_metadata``; the publication time from the page's machine-readable
markers first (``article:published_time`` and friends, JSON-LD
``datePublished``, ``<time datetime>``), then htmldate (shipped with
trafilatura), whose answer is local time without a zone.

Reads no settings, writes no stats.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import trafilatura
from htmldate import find_date
from lxml import etree
from lxml import html as lxml_html

__all__ = ["AutoArticle", "extract_article", "extract_main", "page_date"]

logger = logging.getLogger(__name__)

# A child must hold this share of the extracted text for the search to descend into it.
CONTAINER_COVERAGE = 0.9
# The page's container is used only when its text is at most this much bigger than
# trafilatura's (ratio, plus slack for short bodies): more means it also holds noise.
CONTAINER_MAX_RATIO = 1.5
CONTAINER_SLACK = 200

# Container-like blocks of at least PRUNE_MIN_CHARS characters that share no
# PRUNE_PROBE-character run with trafilatura's text are dropped from the container.
_WRAPPERS = frozenset(
    {"div", "section", "article", "main", "table", "tbody", "tr", "td", "center", "font"}
)
_PRUNABLE = ("div", "section", "aside", "nav", "footer", "header", "form", "ul", "ol", "table")
PRUNE_MIN_CHARS = 40
PRUNE_PROBE = 20

# Less main text than this (headings excluded) is no article: a teaser page, a paywall,
# or a page whose body a script inserts (render=js).  Such pages get no body.
MIN_BODY_CHARS = 80
# ...or no line this long (bylines, tag lists, disclaimers are short), or under half
# of the text in lines of LONG_LINE_CHARS.
MIN_PARAGRAPH_CHARS = 40
LONG_LINE_CHARS = 30

TRAFILATURA_OPTIONS: dict[str, Any] = {
    "output_format": "html",
    "include_images": True,
    "include_links": True,
    "include_tables": True,
    "include_formatting": True,
    "include_comments": False,
    "favor_recall": True,
    "deduplicate": False,
}

_WS = re.compile(r"\s+")
_NOT_CONTENT = etree.XPath("//script|//style|//noscript|//template|//comment()")
_BODY = etree.XPath("//body")
_META_DATE = etree.XPath(
    "//meta[@property='article:published_time' or @property='og:published_time'"
    " or @name='article:published_time' or @itemprop='datePublished'"
    " or @name='pubdate' or @name='publishdate' or @name='PubDate' or @name='publish_date'"
    " or @name='date' or @name='DC.date.issued' or @name='dcterms.created']/@content"
)
_LD_JSON = etree.XPath("//script[@type='application/ld+json']/text()")
_TIME = etree.XPath("//time[@datetime][1]/@datetime")
_BLOCK_TAGS = ("p", "li", "div", "blockquote", "pre", "td", "dd", "tr", "br")
_HTML_LANG = etree.XPath("/html/@lang")
_TITLES = etree.XPath("//h1|//title|//meta[@property='og:title']/@content")


@dataclass(frozen=True, slots=True)
class AutoArticle:
    """What automatic extraction found; every field may be missing."""

    body_html: str | None
    # "container" (the page's own element), "trafilatura" (its HTML output),
    # "too_short" (boilerplate only, see MIN_BODY_CHARS) or "none".
    method: str
    title: str | None
    author: str | None
    site_name: str | None
    description: str | None
    language: str | None
    published_raw: str | None
    published_at: datetime | None


def _squash(text: str) -> str:
    return _WS.sub("", text)


def _parse(html: str) -> lxml_html.HtmlElement | None:
    try:
        root = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None
    return root


def _clean(root: lxml_html.HtmlElement) -> None:
    """Drop what is never body text (keeps tails: text after a comment is content)."""
    for node in _NOT_CONTENT(root):
        if node.getparent() is not None:
            node.drop_tree()


def _paragraphs(extracted_html: str) -> list[str]:
    root = lxml_html.fragment_fromstring(extracted_html, create_parent="div")
    lines = "\n".join(root.itertext()).split("\n")
    return [p for p in (_squash(line) for line in lines) if len(p) >= 2]


def _coverage(text: str, paragraphs: list[str], total: int) -> float:
    return sum(len(p) for p in paragraphs if p in text) / total


def _container(root: lxml_html.HtmlElement, extracted_html: str) -> lxml_html.HtmlElement | None:
    """The page's smallest element that holds (almost) all of trafilatura's text."""
    paragraphs = _paragraphs(extracted_html)
    total = sum(len(p) for p in paragraphs)
    bodies = _BODY(root)
    if not total or not bodies:
        return None
    node = bodies[0]
    while True:
        best, best_cov = None, 0.0
        for child in node:
            # Only wrappers are candidates: a lone <p> or <ul> holding everything is body content.
            if not isinstance(child.tag, str) or child.tag not in _WRAPPERS:
                continue
            cov = _coverage(_squash(child.text_content()), paragraphs, total)
            if cov > best_cov:
                best, best_cov = child, cov
        if best is None or best_cov < CONTAINER_COVERAGE:
            break
        node = best
    if node is bodies[0]:
        return None
    _prune(node, paragraphs, _squash("".join(paragraphs)))
    size = len(_squash(node.text_content()))
    if size > total * CONTAINER_MAX_RATIO + CONTAINER_SLACK:
        return None
    return node


def _prune(node: lxml_html.HtmlElement, paragraphs: list[str], extracted: str) -> None:
    """Drop blocks inside the container that share no text with trafilatura's output.

    Comment boxes, "related" lists and share bars nested in the article
    element go; a paragraph trafilatura skipped (a link-only line) stays, as
    only container-like elements are dropped.
    """
    for child in list(node.iterdescendants(*_PRUNABLE)):
        if child.getparent() is None:
            continue  # inside a block dropped already
        text = _squash(child.text_content())
        if len(text) < PRUNE_MIN_CHARS:
            continue
        shared = text[:PRUNE_PROBE] in extracted or any(
            p in text for p in paragraphs if len(p) >= PRUNE_PROBE
        )
        if not shared:
            child.drop_tree()


def _inner_html(node: lxml_html.HtmlElement) -> str:
    parts = [node.text or ""]
    parts += [lxml_html.tostring(child, encoding="unicode") for child in node]
    return "".join(parts).strip()


def _trafilatura_body(extracted_html: str) -> str | None:
    """trafilatura's HTML output without its ``<html><body>`` wrapper."""
    root = lxml_html.fromstring(extracted_html)
    bodies = _BODY(root)
    node = bodies[0] if bodies else root
    inner = _inner_html(node)
    return inner or None


def extract_main(html: str, url: str | None = None) -> tuple[str | None, str]:
    """``(body HTML, method)`` of the page's main content; body ``None`` when there is none."""
    try:
        extracted = trafilatura.extract(html, url=url, **TRAFILATURA_OPTIONS)
    except (ValueError, etree.LxmlError) as exc:
        # trafilatura raises on some broken documents; the page then simply has no body.
        logger.debug("trafilatura failed on %s: %s", url, exc)
        extracted = None
    if not extracted:
        return None, "none"
    root = _parse(html)
    if not _is_article_text(extracted, _titles(root)):
        return None, "too_short"
    if root is not None:
        _clean(root)
        node = _container(root, extracted)
        if node is not None:
            return _inner_html(node), "container"
    return _trafilatura_body(extracted), "trafilatura"


def _is_article_text(extracted_html: str, titles: frozenset[str]) -> bool:
    """Whether trafilatura's output reads like an article rather than page furniture.

    Counted per line, without headings, link text (previous/next and related
    titles) and lines that repeat the page's title: at least ``MIN_BODY_CHARS``
    in all, one line of ``MIN_PARAGRAPH_CHARS``, and most text in lines of
    ``LONG_LINE_CHARS`` (a whole-page text dump is short lines: menus, bylines).
    """
    root = lxml_html.fragment_fromstring(extracted_html, create_parent="div")
    for node in root.xpath(".//h1|.//h2|.//h3|.//a"):
        # A line break in its place: text around a dropped link is not one long line.
        node.tail = "\n" + (node.tail or "")
        node.drop_tree()
    for block in root.iter(*_BLOCK_TAGS):
        block.tail = "\n" + (block.tail or "")
    lines = [_squash(line) for line in root.text_content().split("\n")]
    lines = [line for line in lines if line and line not in titles]
    total = sum(len(line) for line in lines)
    if total < MIN_BODY_CHARS or max(len(line) for line in lines) < MIN_PARAGRAPH_CHARS:
        return False
    return sum(len(line) for line in lines if len(line) >= LONG_LINE_CHARS) >= total * 0.5


def _titles(root: lxml_html.HtmlElement | None) -> frozenset[str]:
    if root is None:
        return frozenset()
    return frozenset(_squash(n if isinstance(n, str) else n.text_content()) for n in _TITLES(root))


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
    try:
        found = find_date(
            root, extensive_search=True, original_date=True,
            outputformat="%Y-%m-%d %H:%M:%S", url=url,
        )
    except ValueError:
        found = None
    if not found:
        return None, None
    # htmldate pads a date-only finding with 00:00:00; keep the raw as it found it.
    raw = found[:10] if found.endswith(" 00:00:00") else found
    return raw, parse_iso(found.replace(" ", "T"), default_tz)


def extract_article(html: str, url: str | None = None, default_tz: tzinfo = UTC) -> AutoArticle:
    """Body and metadata of an article page, found automatically."""
    body_html, method = extract_main(html, url)
    root = _parse(html)
    if root is None:
        return AutoArticle(body_html, method, None, None, None, None, None, None, None)
    lang = _HTML_LANG(root)
    published_raw, published_at = page_date(root, url, default_tz)
    meta = trafilatura.extract_metadata(root, default_url=url)
    return AutoArticle(
        body_html=body_html,
        method=method,
        title=meta.title or None,
        author=meta.author or None,
        site_name=meta.sitename or None,
        description=meta.description or None,
        language=(str(lang[0]).strip() or None) if lang else None,
        published_raw=published_raw,
        published_at=published_at,
    )
