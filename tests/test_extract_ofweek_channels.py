"""OFweek channel sites (ee, robot, medical) on saved real-layout pages (GBK declared gb2312)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsspider.extract import decode_html, parse_article, parse_listing
from newsspider.extract.listing import page_url
from newsspider.portals import get_portal

PAGES = Path(__file__).parent / "fixtures" / "pages"

CASES = {
    "ofweek_ee": {
        "list": "https://ee.ofweek.com/CATList-2800-8100-ee.html",
        "article": "https://ee.ofweek.com/2021-03/ART-2800-2400-30601372.html",
        "title": "阿里云为何再度进入个人云市场_",
        "author": "OFweek电子工程网",
        "raw": "2021-03-22 15:59",
        "at": datetime(2021, 3, 22, 7, 59, tzinfo=UTC),
        "body_start": '<div id="articleC" class="article_con">',
        "second": "https://ee.ofweek.com/2021-03/ART-2800-2400-30609116.html",
    },
    "ofweek_robot": {
        "list": "https://robot.ofweek.com/CATList-8321200-8100-robot.html",
        "article": "https://robot.ofweek.com/2021-03/ART-8321200-2400-30619236.html",
        "title": "iQOO Neo5评测：手机外挂_独显_是一种什么样的体验？",
        "author": "OFweek机器人网",
        "raw": "2021-03-22 15:59",
        "at": datetime(2021, 3, 22, 7, 59, tzinfo=UTC),
        "body_start": '<div class="TRS_Editor">',
        "second": "https://robot.ofweek.com/2021-03/ART-8321200-2400-30669706.html",
    },
    "ofweek_medical": {
        "list": "https://medical.ofweek.com/CATList-11000-8100-medical.html",
        "article": "https://medical.ofweek.com/2021-03/ART-11000-2400-30649142.html",
        "title": "地产转型突围如何与智能家居浪潮无缝融合？",
        "author": "OFweek医疗网",
        "raw": "2021-03-22 16:06",
        "at": datetime(2021, 3, 22, 8, 6, tzinfo=UTC),
        "body_start": '<div id="articleC" class="article_con">',
        "second": "https://medical.ofweek.com/2021-03/ART-11000-2400-30651310.html",
    },
}


def page(name: str, which: str) -> str:
    portal = get_portal(name)
    return decode_html((PAGES / name / which).read_bytes(), "text/html", portal.encoding)[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_listing_items_next_page_and_pattern(name: str) -> None:
    case, portal = CASES[name], get_portal(name)
    listing = parse_listing(page(name, "listing.html"), case["list"], portal)
    assert [item.url for item in listing.items][:2] == [case["article"], case["second"]]
    assert len(listing.items) == 3
    first = listing.items[0]
    assert first.title == case["title"]
    assert first.summary
    assert first.date_raw == case["raw"] and first.published_at == case["at"]
    second_page = case["list"].removesuffix(".html") + "-2.html"
    assert listing.next_url == second_page
    assert page_url(portal, case["list"], 2) == second_page


@pytest.mark.parametrize("name", sorted(CASES))
def test_article_fields(name: str) -> None:
    case = CASES[name]
    article = parse_article(page(name, "article.html"), case["article"], get_portal(name))
    assert article.title == case["title"]
    assert article.author == case["author"]
    assert article.published_raw == case["raw"]
    assert article.published_at == case["at"]
    assert article.body_html.startswith(case["body_start"])
    assert 'class="TRS_Editor"' in article.body_html
    assert "热门排行" not in article.body_html
    assert article.next_url is None


def test_gbk_channel_page_decodes_from_its_gb2312_declaration() -> None:
    text, encoding = decode_html(
        (PAGES / "ofweek_ee" / "listing.html").read_bytes(), "text/html", None
    )
    assert encoding == "gb18030"
    assert "OFweek电子工程网" in text
