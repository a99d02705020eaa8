"""cnBeta extraction on saved real-layout pages (UTF-8), one test per field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsspider.extract import decode_html, parse_article, parse_listing
from newsspider.portals import get_portal

PAGES = Path(__file__).parent / "fixtures" / "pages" / "cnbeta"
CNBETA = get_portal("cnbeta")
LIST_URL = "https://www.cnbeta.com/"
ART_URL = "https://www.cnbeta.com/articles/tech/1238504.htm"


def page(name: str) -> str:
    return decode_html((PAGES / name).read_bytes(), "text/html", CNBETA.encoding)[0]


@pytest.fixture(scope="module")
def listing():
    return parse_listing(page("listing.html"), LIST_URL, CNBETA)


@pytest.fixture(scope="module")
def article():
    return parse_article(page("article.html"), ART_URL, CNBETA)


def test_listing_items_only_from_the_items_area(listing) -> None:
    urls = [item.url for item in listing.items]
    assert len(urls) == 5
    assert urls[0] == "https://www.cnbeta.com/articles/tech/1220026.htm"
    assert ART_URL in urls


def test_listing_title_summary_date(listing) -> None:
    first = listing.items[0]
    assert first.title == "AMD RDNA 3 GPU在Linux 5.20 AMDGPU集成驱动中获得SubVP功能"
    assert first.summary.startswith("据报道，AMD将发布AMDGPU和AMDKFD驱动的最后一个功能更新计划")
    assert first.date_raw == "2022年07月16日 21:39"
    assert first.published_at == datetime(2022, 7, 16, 13, 39, tzinfo=UTC)


def test_listing_has_no_html_next_page(listing) -> None:
    assert listing.next_url is None


def test_title(article) -> None:
    assert article.title == "_视频_利用卡带和ESP8266微控制器 达人赋予了Game Boy上网的能力"


def test_author_without_the_gaoyuan_label(article) -> None:
    assert article.author == "cnBeta.COM"


def test_published_chinese_date(article) -> None:
    assert article.published_raw == "2021年12月17日 08:20"
    assert article.published_at == datetime(2021, 12, 17, 0, 20, tzinfo=UTC)


def test_body_is_summary_then_content(article) -> None:
    body = article.body_html
    assert body.startswith('<div class="cnbeta-article-body">')
    summary_at = body.index("硬件改造达人 Sebastian Staacks")
    content_at = body.index('class="article-content"')
    assert summary_at < content_at
    # The traps the body rules and the normalizer deal with are in the raw body.
    assert 'data-link="1"' in body and "c.duomai.com/track.php" in body
    assert 'src="//player.bilibili.com/player.html?bvid=BV1ar4y1U7zP' in body
    assert 'class="article-global"' in body and 'class="topic"' in body
    assert "热门文章" not in body


def test_single_page(article) -> None:
    assert article.next_url is None
