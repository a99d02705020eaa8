"""ZAKER extraction on saved real-layout pages (UTF-8), one test per field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsspider.extract import decode_html, parse_article, parse_listing
from newsspider.portals import get_portal

PAGES = Path(__file__).parent / "fixtures" / "pages" / "zaker"
ZAKER = get_portal("zaker")
LIST_URL = "https://www.myzaker.com/channel/13"
ART_URL = "https://www.myzaker.com/article/b4f5445cb2ba2ba3fb6442ef"


def page(name: str) -> str:
    return decode_html((PAGES / name).read_bytes(), "text/html", ZAKER.encoding)[0]


@pytest.fixture(scope="module")
def listing():
    return parse_listing(page("listing.html"), LIST_URL, ZAKER)


@pytest.fixture(scope="module")
def article():
    return parse_article(page("article.html"), ART_URL, ZAKER)


def test_listing_items_protocol_relative_links_made_absolute(listing) -> None:
    assert len(listing.items) == 5
    assert listing.items[0].url == "https://www.myzaker.com/article/6a0cec8ef9265b48991ec6c7"
    assert all(item.url.startswith("https://www.myzaker.com/article/") for item in listing.items)


def test_listing_title_summary_date(listing) -> None:
    first = listing.items[0]
    assert first.title == "Asahi Linux 在 Apple M1 下运行首个三角形渲染"
    assert first.summary.startswith("整理 | 彭慧中 责编 | 屠敏")
    assert first.date_raw == "2022-06-09 10:30"
    assert first.published_at == datetime(2022, 6, 9, 2, 30, tzinfo=UTC)


def test_listing_has_no_next_page(listing) -> None:
    assert listing.next_url is None


def test_title(article) -> None:
    assert article.title == "《Dota2》新加坡 Major 将于 3 月 27 日正式开启"


def test_author(article) -> None:
    assert article.author == "IT之家"


def test_published(article) -> None:
    assert article.published_raw == "2021-03-22 07:46"
    assert article.published_at == datetime(2021, 3, 21, 23, 46, tzinfo=UTC)


def test_body_keeps_lazy_images_and_leaves_page_chrome(article) -> None:
    body = article.body_html
    assert body.startswith('<div id="content">')
    assert "IT 之家 3 月 22 日消息" in body
    assert 'class="img_box"' in body
    assert 'data-original="http://zkres1.myzaker.com/202103/60581e1f8e9f0952be7a4f94_1024.jpg"' in body
    assert "打开 ZAKER 阅读更多" not in body and "24小时热闻" not in body


def test_single_page(article) -> None:
    assert article.next_url is None
