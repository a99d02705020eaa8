"""IT之家 extraction on saved real-layout pages (UTF-8), one test per field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsspider.extract import decode_html, parse_article, parse_listing
from newsspider.portals import get_portal

PAGES = Path(__file__).parent / "fixtures" / "pages" / "ithome"
ITHOME = get_portal("ithome")
LIST_URL = "https://it.ithome.com/"
ART_URL = "https://it.ithome.com/0/611/490.htm"


def page(name: str) -> str:
    return decode_html((PAGES / name).read_bytes(), "text/html", ITHOME.encoding)[0]


@pytest.fixture(scope="module")
def listing():
    return parse_listing(page("listing.html"), LIST_URL, ITHOME)


@pytest.fixture(scope="module")
def article():
    return parse_article(page("article.html"), ART_URL, ITHOME)


def test_listing_items_not_the_hot_list(listing) -> None:
    urls = [item.url for item in listing.items]
    assert len(urls) == len(set(urls)) == 5
    assert urls[0] == "https://it.ithome.com/0/643/879.htm"


def test_listing_title_summary_iso_date(listing) -> None:
    first = listing.items[0]
    assert first.title == "安卓开发者发现华为 AppGallery 漏洞，可免费下载付费应用"
    assert first.summary.startswith("IT之家 5 月 19 日消息，自从美国禁令之后")
    assert first.date_raw == "2022-05-19T08:07:37"
    assert first.published_at == datetime(2022, 5, 19, 0, 7, 37, tzinfo=UTC)


def test_listing_has_no_html_next_page(listing) -> None:
    assert listing.next_url is None


def test_title(article) -> None:
    assert article.title == "特斯拉 D1 芯片遭实名 diss：内存到封装都成问题"


def test_author_from_source_without_label(article) -> None:
    assert article.author == "IT之家"


def test_published_slashes_and_one_digit_hour(article) -> None:
    assert article.published_raw == "2021/9/3 19:15:10"
    assert article.published_at == datetime(2021, 9, 3, 11, 15, 10, tzinfo=UTC)


def test_body_is_the_paragraph_div_with_its_traps(article) -> None:
    body = article.body_html
    assert body.startswith('<div class="post_content" id="paragraph">')
    assert "在今年特斯拉 AI 开放日上，D1 芯片风光无限。" in body
    assert 'class="ithome_super_player"' in body
    assert "故渊" not in body and "后发表评论" not in body


def test_single_page(article) -> None:
    assert article.next_url is None
