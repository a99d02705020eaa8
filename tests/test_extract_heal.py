"""Self-healing extraction on saved real-layout pages of every declared portal.

Each page is first extracted as it is (every field by the declared selectors),
then "redesigned" generically: every element a declared date, byline or body
selector matches loses its ``id`` and ``class`` (an attribute-only match such
as a ``<meta>`` goes), until none of those selectors matches anything.  What
the portal's selectors no longer find, :func:`parse_with_fallback` must still
deliver, saying so in ``extraction``.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest
from lxml import etree
from lxml import html as lxml_html
from parsel import Selector

from newsspider.extract import decode_html
from newsspider.extract.common import select
from newsspider.extract.heal import parse_with_fallback
from newsspider.portals import get_portal
from newsspider.portals.base import Portal

PAGES = Path(__file__).parent / "fixtures" / "pages"
ARTICLES = sorted(
    (folder.name, name)
    for folder in PAGES.iterdir() if folder.is_dir()
    for name in ("article.html", "article_source_name.html", "article_laiyuan.html")
    if (folder / name).exists()
)
_SPACE = re.compile(r"\s+")


def _page(portal: Portal, folder: str, name: str) -> str:
    text, _ = decode_html((PAGES / folder / name).read_bytes(), "text/html", portal.encoding)
    return text


def _text(fragment: str | None) -> str:
    if not fragment:
        return ""
    return _SPACE.sub("", lxml_html.fragment_fromstring(fragment, create_parent="div").text_content())


def redesign(html: str, selectors: list[str]) -> str:
    """The page with every element those selectors match renamed away (see the module docstring)."""
    root = lxml_html.document_fromstring(html)
    for _ in range(20):
        doc = Selector(root=root, type="html")
        hits = [found.root for sel in selectors for found in select(doc, sel)]
        if not hits:
            return lxml_html.tostring(root, encoding="unicode")
        for hit in hits:
            node = hit.getparent() if isinstance(hit, str) else hit  # ::attr / ::text results
            if not isinstance(node, etree._Element):
                continue
            if node.tag == "meta":
                node.getparent().remove(node)
                continue
            for attr in ("id", "class"):
                node.attrib.pop(attr, None)
            # A new element name too, for selectors that match by tag (time, span under a div).
            node.tag = "section" if node.tag == "div" else "font"
    raise AssertionError("the selectors still match after 20 rounds")


@pytest.mark.parametrize(("folder", "name"), ARTICLES)
def test_a_healthy_page_is_found_by_the_selectors_alone(folder: str, name: str) -> None:
    portal = get_portal(folder)
    page = parse_with_fallback(_page(portal, folder, name), "https://example.com/a.html", portal)
    assert page.extraction["body_html"] == "selectors"
    assert page.extraction["title"] == "selectors"
    assert page.extraction["published_at"] == "selectors"
    assert set(page.matched) == {k for k, v in page.extraction.items() if v == "selectors"}


@pytest.mark.parametrize(("folder", "name"), ARTICLES)
def test_a_redesigned_page_is_healed(folder: str, name: str) -> None:
    portal = get_portal(folder)
    url = "https://example.com/a.html"
    html = _page(portal, folder, name)
    before = parse_with_fallback(html, url, portal)
    rules = portal.article
    changed = redesign(html, [*rules.body, *rules.published, *rules.author])
    after = parse_with_fallback(changed, url, portal)

    assert after.extraction["body_html"] == "auto"
    assert "body_html" not in after.matched
    original, healed = _text(before.body_html), _text(after.body_html)
    ratio = difflib.SequenceMatcher(None, original, healed, autojunk=False).ratio()
    assert ratio >= 0.9, (ratio, healed[:300])

    assert after.extraction["published_at"] == "auto"
    assert after.published_at is not None and before.published_at is not None
    assert after.published_at.date() == before.published_at.date()
    assert after.title == before.title and after.extraction["title"] == "selectors"
    if "author" in after.extraction:
        assert after.extraction["author"] == "auto"


def test_the_date_keeps_its_time_when_the_page_prints_it_the_declared_way() -> None:
    portal = get_portal("ofweek")
    html = _page(portal, "ofweek", "article_source_name.html")
    changed = redesign(html, [*portal.article.published, *portal.article.author])
    page = parse_with_fallback(changed, "https://www.ofweek.com/a.html", portal)
    assert page.published_raw == "2022-08-31 15:58"  # read after the title, by published_regex
    assert page.extraction["published_at"] == "auto"
    assert page.extraction["body_html"] == "selectors"  # untouched: still the declaration's


def test_an_article_page_without_a_body_stays_without_one() -> None:
    portal = get_portal("ofweek")
    html = _page(portal, "ofweek", "article_source_name.html")
    emptied = re.sub(r'(<div id="articleC"[^>]*>).*?(<div class="statement")', r"\1</div>\2",
                     html, flags=re.DOTALL)
    page = parse_with_fallback(emptied, "https://www.ofweek.com/a.html", portal)
    # The rest of the page is furniture: no automatic body, and the article is rejected for it.
    assert "body_html" not in page.extraction and not _text(page.body_html).strip()


def test_a_date_out_of_range_stays_missing_rather_than_guessed() -> None:
    """The page prints year 0001: its own (wrong) date, not a missing one (newsspider.dates)."""
    portal = get_portal("ofweek")
    html = _page(portal, "ofweek", "article_source_name.html").replace(
        "2022-08-31 15:58", "0001-01-01 00:00")
    page = parse_with_fallback(html, "https://www.ofweek.com/a.html", portal)
    assert page.date_out_of_range and page.published_at is None
    assert page.published_raw == "0001-01-01 00:00"
    assert "published_at" not in page.extraction
    assert page.extraction["body_html"] == "selectors"
