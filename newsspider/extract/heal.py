"""Declared selectors first, automatic extraction for what they did not find: one article page.

A portal's template changes without notice; when its declared selectors find
no title, no publication date or no body on an article page, the automatic
extractor (:func:`newsspider.extract.auto.extract_article`, the one the
``feed`` spider uses) fills that field, so the article is still stored, and
the result says per field how it was found (``extraction``, CONTRACT §4):
``"selectors"`` or ``"auto"``; a field neither found is absent.

What fills a missing field, in order:

* date and author: the first text after the page's title that matches what
  the portal declares such text looks like — its ``published_regex`` and
  ``date_formats``, its ``author_strip`` label ("来源：…").  A redesign moves
  the byline to a new element far more often than it changes how the byline
  reads, and this keeps the time of day, which the automatic extractor's
  date (often the day alone) may not;
* the automatic extractor, told the page is an article (``known_article``):
  title, date, author and body.  It runs only when the title, the date or the
  body is still missing, so a healthy page costs nothing more.  The author is
  optional (an article without a byline is common): a missing author alone
  does not run it.  A portal that declares no author selectors gets no
  author from it either: the portal has said it prints none.

Both count as ``"auto"`` in ``extraction``: the declaration did not find them.

Pure: HTML text + URL + a portal declaration in, plain data out.  This is
the one place the merge is made; the portal spiders and
``newsspider.extract.extract_page(html, url, portal=NAME)`` both call
:func:`parse_with_fallback`.  Reads no settings, writes no stats.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lxml import etree
from parsel import Selector

from newsspider.dates import plausible
from newsspider.extract.article import ArticlePage, parse_article_doc
from newsspider.extract.auto import AutoArticle, extract_article
from newsspider.extract.common import clean_text, parse_date, select
from newsspider.htmldepth import page_selector
from newsspider.portals.base import Portal

__all__ = ["HEALED_FIELDS", "REQUIRED_FIELDS", "parse_with_fallback"]

# The fields whose provenance is recorded, in CONTRACT §4 ``extraction`` order.
HEALED_FIELDS = ("title", "published_at", "author", "body_html")
# Without one of these an article is rejected: their absence runs the automatic extractor.
REQUIRED_FIELDS = ("title", "published_at", "body_html")
# Text pieces after the title searched for the date and the byline (they sit just below it).
NEAR_TITLE_TEXTS = 40
_SKIPPED = frozenset({"script", "style", "noscript", "template"})
_SPACE = re.compile(r"\s+")


def parse_with_fallback(html: str, url: str, portal: Portal) -> ArticlePage:
    """The article page by the portal's selectors, with automatic extraction filling the gaps.

    ``page.extraction`` maps each found field to ``"selectors"`` or ``"auto"``;
    ``page.matched`` keeps, for fields the selectors found, which declared
    selector did (the crawl counts them to name the selectors that stop matching).
    """
    doc, cut = page_selector(html, url)
    page = parse_article_doc(doc, url, portal, cut_short=cut)
    extraction = {name: "selectors" for name in HEALED_FIELDS if name in page.matched}
    page.extraction = extraction
    wanted = {name for name in HEALED_FIELDS if name not in extraction}
    if page.date_out_of_range:
        # The page's own date, outside 1970 … now + 2 days: a wrong date, not a missing
        # one. It stays missing (newsspider.dates); nothing guesses another.
        wanted.discard("published_at")
    if not portal.article.author:
        wanted.discard("author")  # the portal prints no byline
    if "title" in extraction and wanted & {"published_at", "author"}:
        _near_title(page, doc, portal, wanted)
    if any(name in wanted and name not in extraction for name in REQUIRED_FIELDS):
        _fill(page, extract_article(html, url, portal.tz, known_article=True), wanted)
    page.extraction = {name: extraction[name] for name in HEALED_FIELDS if name in extraction}
    return page


@lru_cache(maxsize=64)
def _label(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _texts_after(node: etree._Element, limit: int) -> list[str]:
    """The first ``limit`` non-blank text pieces after ``node`` (and outside it), in page order."""
    texts: list[str] = []
    tail = clean_text(node.tail or "")
    if tail:
        texts.append(tail)
    started = False
    for element in node.getroottree().iter():
        if element is node:
            started = True
            continue
        if not started or _inside(element, node):
            continue
        if isinstance(element.tag, str) and element.tag not in _SKIPPED:
            text = clean_text(element.text or "")
            if text:
                texts.append(text)
        tail = clean_text(element.tail or "")
        if tail:
            texts.append(tail)
        if len(texts) >= limit:
            break
    return texts


def _inside(element: etree._Element, ancestor: etree._Element) -> bool:
    return any(parent is ancestor for parent in element.iterancestors())


def _near_title(page: ArticlePage, doc: Selector, portal: Portal, wanted: set[str]) -> None:
    """Date and byline from the text just after the title, read the way the portal declares."""
    rules = portal.article
    found = select(doc, rules.title[page.matched["title"]])
    node = found[0].root if found else None
    if not isinstance(node, etree._Element):
        return  # the title came from an attribute (og:title): no place on the page to start from
    texts = _texts_after(node, NEAR_TITLE_TEXTS)
    extraction = page.extraction
    if "published_at" in wanted:
        for text in texts:
            date = parse_date(text, rules.published_regex, rules.date_formats, portal.tz)
            if date.at is not None:
                page.published_raw, page.published_at = date.raw, date.at
                extraction["published_at"] = "auto"
                break
    if "author" in wanted and rules.author_strip:
        label = _label(rules.author_strip)
        for index, text in enumerate(texts):
            if label.match(text) is None:
                continue
            author = clean_text(label.sub("", text)) or (
                texts[index + 1] if index + 1 < len(texts) else ""
            )
            if author:
                page.author = author
                extraction["author"] = "auto"
            break


def _fill(page: ArticlePage, auto: AutoArticle, wanted: set[str]) -> None:
    """The automatic extractor's values for the fields still ``wanted`` and missing."""
    extraction = page.extraction
    wanted = {name for name in wanted if name not in extraction}
    if "title" in wanted and auto.title:
        page.title = auto.title
        extraction["title"] = "auto"
    if "published_at" in wanted and plausible(auto.published_at):
        # The selectors' unparsable text (if any) gives way to a date that parses.
        page.published_raw, page.published_at = auto.published_raw, auto.published_at
        extraction["published_at"] = "auto"
    if "author" in wanted and auto.author:
        page.author = auto.author
        extraction["author"] = "auto"
    if "body_html" in wanted and auto.body_html and _plausible(auto, page.title):
        page.body_html = auto.body_html
        extraction["body_html"] = "auto"


def _plausible(auto: AutoArticle, title: str | None) -> bool:
    """Whether a body of short lines is the article's, not the block around an empty body.

    An element holding the title too, in short lines, is the article's frame
    (title, date, byline, disclaimer) with nothing inside: no body.
    """
    if auto.method != "short_lines" or not title or not auto.body_html:
        return True
    return _squash(title) not in _squash(Selector(text=auto.body_html).xpath("string()").get() or "")


def _squash(text: str) -> str:
    return _SPACE.sub("", text)
