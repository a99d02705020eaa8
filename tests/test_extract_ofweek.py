"""OFweek extraction on saved real-layout pages (GBK, declared gb2312), one test per field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsspider.extract import decode_html, parse_article, parse_listing
from newsspider.extract.listing import page_url
from newsspider.portals import get_portal
from newsspider.urls import canonicalize

PAGES = Path(__file__).parent / "fixtures" / "pages" / "ofweek"
OFWEEK = get_portal("ofweek")
LIST_URL = "https://www.ofweek.com/CATList-8100-CHANGYIEXINWE.html"
SEED_URL = "https://www.ofweek.com/medical/2022-08/ART-11111-2400-30571234.html"
MP_URL = "https://www.ofweek.com/2021-03/ART-8500-2800-30489950.html"


def page(name: str, content_type: str | None = "text/html") -> str:
    text, _ = decode_html((PAGES / name).read_bytes(), content_type, OFWEEK.encoding)
    return text


@pytest.fixture(scope="module")
def listing():
    return parse_listing(page("listing.html"), LIST_URL, OFWEEK)


def test_gbk_page_declared_gb2312_decodes_with_the_superset() -> None:
    text, encoding = decode_html((PAGES / "listing.html").read_bytes(), "text/html", None)
    assert encoding == "gb18030"
    assert "昌平生命谷" in text


def test_gbk_page_without_any_declaration_falls_back_to_the_portal_encoding() -> None:
    raw = (PAGES / "listing.html").read_bytes().replace(b"charset=gb2312", b"")
    text, encoding = decode_html(raw, "text/html", OFWEEK.encoding)
    assert encoding == "gb18030"
    assert "昌平生命谷" in text


def test_wrong_utf8_declaration_on_gbk_bytes_is_not_mojibake() -> None:
    raw = (PAGES / "listing.html").read_bytes()
    text, encoding = decode_html(raw, "text/html; charset=utf-8", OFWEEK.encoding)
    assert encoding == "gb18030"
    assert "产业新闻" in text


def test_listing_items_in_page_order_only_from_the_list(listing) -> None:
    urls = [item.url for item in listing.items]
    assert urls == [
        SEED_URL,
        (
            "https://www.ofweek.com/2021-03/ART-8420-2400-30489931.html"
            "?utm_source=rss&utm_medium=feed#comments"
        ),
        MP_URL,
    ]
    assert all("热门" not in (item.title or "") for item in listing.items)


def test_listing_title_abstract_and_date(listing) -> None:
    first = listing.items[0]
    assert first.title == "昌平生命谷国际精准医学产业园工程启动仪式隆重举行"
    assert first.summary == "8月31日，昌平生命谷国际精准医学产业园举行工程启动仪式。"
    assert first.date_raw == "2022-08-31 15:58"
    assert first.published_at == datetime(2022, 8, 31, 7, 58, tzinfo=UTC)
    assert listing.items[2].title == "数据决定体验、软件定义汽车"


def test_listing_next_page_from_the_xia_yi_ye_link(listing) -> None:
    assert listing.next_url == "https://www.ofweek.com/CATList-8100-CHANGYIEXINWE-2.html"


def test_listing_page_pattern_fallback() -> None:
    assert page_url(OFWEEK, LIST_URL, 4) == (
        "https://www.ofweek.com/CATList-8100-CHANGYIEXINWE-4.html"
    )


def test_article_with_source_name_layout() -> None:
    art = parse_article(page("article_source_name.html"), SEED_URL, OFWEEK)
    assert art.title == "昌平生命谷国际精准医学产业园工程启动仪式隆重举行"
    assert art.author == "OFweek医疗网"
    assert art.published_raw == "2022-08-31 15:58"
    assert art.published_at == datetime(2022, 8, 31, 7, 58, tzinfo=UTC)
    assert art.body_html is not None and art.body_html.startswith('<div id="articleC"')
    assert "生命谷国际精准医学产业园是由昌发展" in art.body_html
    assert "声明：本文为" not in art.body_html
    assert art.next_url is None


def test_article_with_laiyuan_layout_strips_the_label() -> None:
    url = "https://www.ofweek.com/2021-03/ART-8420-2400-30489931.html"
    art = parse_article(page("article_laiyuan.html"), url, OFWEEK)
    assert art.author == "OFweek通信网"
    assert art.title == "中兴通讯2020财报：业绩改善，但难翻身？"
    assert art.published_at == datetime(2021, 3, 22, 3, 35, tzinfo=UTC)


def test_member_post_layout_and_next_page() -> None:
    first = parse_article(page("article_mp_p1.html"), MP_URL, OFWEEK)
    assert first.author == "汽车观察"
    assert first.next_url == "https://www.ofweek.com/2021-03/ART-8500-2800-30489950_2.html"
    second = parse_article(page("article_mp_p2.html"), first.next_url, OFWEEK)
    assert second.next_url is None
    assert second.body_html and "<p" in second.body_html


def test_multi_page_article_canonicalizes_to_page_one() -> None:
    page_two = "http://WWW.ofweek.com/2021-03/ART-8500-2800-30489950_2.html?utm_source=x#top"
    assert canonicalize(page_two, OFWEEK.canonical) == MP_URL


def test_tracking_parameters_do_not_change_the_canonical_url(listing) -> None:
    tracked = listing.items[1].url
    assert canonicalize(tracked, OFWEEK.canonical) == (
        "https://www.ofweek.com/2021-03/ART-8420-2400-30489931.html"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-08-31 15:58", datetime(2022, 8, 31, 7, 58, tzinfo=UTC)),
        ("发布时间：2022-08-31 15:58:30 来源：x", datetime(2022, 8, 31, 7, 58, 30, tzinfo=UTC)),
        ("２０２２－０８－３１ １５：５８", datetime(2022, 8, 31, 7, 58, tzinfo=UTC)),
        ("2022年8月31日 15:58", datetime(2022, 8, 31, 7, 58, tzinfo=UTC)),
        ("2022-01-01 03:00", datetime(2021, 12, 31, 19, 0, tzinfo=UTC)),
    ],
)
def test_beijing_time_to_utc(text: str, expected: datetime) -> None:
    html = f'<div class="artical"><p class="title">t</p><div class="time fl">{text}</div></div>'
    art = parse_article(html, SEED_URL, OFWEEK)
    assert art.published_at == expected
    assert art.published_raw


def test_unparseable_date_keeps_the_raw_text() -> None:
    html = '<div class="artical"><p class="title">t</p><div class="time fl">昨天 下午</div></div>'
    art = parse_article(html, SEED_URL, OFWEEK)
    assert art.published_at is None
    assert art.published_raw == "昨天 下午"
