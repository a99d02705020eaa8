"""人人都是产品经理 extraction on saved real-layout pages (UTF-8), one test per field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsspider.extract import decode_html, parse_article, parse_listing
from newsspider.extract.listing import page_url
from newsspider.portals import get_portal

PAGES = Path(__file__).parent / "fixtures" / "pages" / "woshipm"
WOSHIPM = get_portal("woshipm")
LIST_URL = "https://www.woshipm.com/category/pd"
ART_URL = "https://www.woshipm.com/pd/5329031.html"


def page(name: str) -> str:
    return decode_html((PAGES / name).read_bytes(), "text/html", WOSHIPM.encoding)[0]


@pytest.fixture(scope="module")
def listing():
    return parse_listing(page("listing.html"), LIST_URL, WOSHIPM)


@pytest.fixture(scope="module")
def article():
    return parse_article(page("article.html"), ART_URL, WOSHIPM)


def test_listing_items_in_order(listing) -> None:
    assert [item.url for item in listing.items] == [
        "https://www.woshipm.com/pd/5540593.html",
        ART_URL,
    ]


def test_listing_title_summary_date(listing) -> None:
    first = listing.items[0]
    assert first.title == "B端交互｜如何制定B端项目全局框架"
    assert first.summary.startswith("编辑导语：交互设计本质上就是设计产品的使用方式的过程")
    assert first.date_raw == "2022-07-26"
    assert first.published_at == datetime(2022, 7, 25, 16, 0, tzinfo=UTC)


def test_listing_next_page_link_and_pattern(listing) -> None:
    assert listing.next_url == "https://www.woshipm.com/category/pd/page/2"
    assert page_url(WOSHIPM, LIST_URL, 3) == "https://www.woshipm.com/category/pd/page/3"


def test_title(article) -> None:
    assert article.title == "B端决策类产品｜任务中断回溯设计"


def test_author(article) -> None:
    assert article.author == "自转一周的鹿"


def test_published_date_only_is_beijing_midnight(article) -> None:
    assert article.published_raw == "2022-02-24"
    assert article.published_at == datetime(2022, 2, 23, 16, 0, tzinfo=UTC)


def test_body_with_donation_footer_still_raw(article) -> None:
    body = article.body_html
    assert body.startswith('<div class="article--content grap">')
    assert "编辑导语：如何设计好任务回溯场景" in body
    assert "本文由 @自转一周的鹿 原创发布于人人都是产品经理" in body
    assert 'class="support-author"' in body and "<svg" in body
    assert "热门文章" not in body


def test_single_page(article) -> None:
    assert article.next_url is None
