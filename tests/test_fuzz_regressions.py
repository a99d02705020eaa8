"""Bugs tests/test_fuzz.py found, pinned as plain examples (they run in every ``make test``)."""

from __future__ import annotations

import asyncio

import bson
import pytest

from newsspider.extract import parse_article, parse_listing
from newsspider.pipelines.validate import RejectedItem
from newsspider.portals import all_portals
from tests.test_fuzz import PIPELINES, _chain, _valid_item

BROKEN_HREF = "http://[::1"  # urljoin raises ValueError("Invalid IPv6 URL") on it


@pytest.mark.parametrize("name", sorted(all_portals()))
def test_a_malformed_link_costs_the_link_not_the_page(name: str) -> None:
    portal = all_portals()[name]
    html = f'<html><body><a href="{BROKEN_HREF}">下一页</a><div><a href="{BROKEN_HREF}">x</a></div>'
    listing = parse_listing(html, "https://example.com/list.html", portal)
    assert all(item.url != BROKEN_HREF for item in listing.items)
    article = parse_article(html, "https://example.com/a.html", portal)
    assert article.next_url is None


def test_listing_keeps_the_good_links_beside_a_malformed_one() -> None:
    portal = all_portals()["cnbeta"]
    item = '<div class="item"><dl><dt><a href="{}">t</a></dt></dl></div>'
    html = item.format(BROKEN_HREF) + item.format("/articles/tech/1.htm")
    page = parse_listing(html, "https://www.cnbeta.com.tw/", portal)
    assert [i.url for i in page.items] == ["https://www.cnbeta.com.tw/articles/tech/1.htm"]


def _run(item, portal="ofweek"):
    body, validate, sink = PIPELINES[portal]
    return asyncio.run(_chain(body, validate, item)), sink


def test_non_string_fetched_url_is_a_reject_not_a_type_error() -> None:
    item = _valid_item('<p><a href="/x.html">正文</a><img src="a.png"></p>')
    item["fetched_url"] = True
    with pytest.raises(RejectedItem) as excinfo:
        _run(item)
    assert [e["field"] for e in excinfo.value.errors] == ["fetched_url"]


def test_a_string_url_is_used_when_fetched_url_is_broken() -> None:
    item = _valid_item('<p><a href="/x.html">正文</a></p>')
    item["fetched_url"] = None
    body, _, _ = PIPELINES["ofweek"]
    out = body.process_item(item)
    assert 'href="https://www.ofweek.com/x.html"' in out["body_html"]


def test_reject_of_an_item_with_nul_keys_and_huge_ints_is_storable() -> None:
    item = _valid_item("<p>正文</p>")
    item["url"] = {"\x00": 2**70, "$where": [{"a.b": 1}]}
    item["pages"] = 2**64
    with pytest.raises(RejectedItem):
        _run(item)
    _, _, sink = PIPELINES["ofweek"]
    stored = sink.docs[-1]
    bson.encode(stored)
    assert stored["item"]["pages"] == str(2**64)
