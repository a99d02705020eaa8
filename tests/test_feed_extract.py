"""Pure extraction for the ``feed`` spider: feeds/sitemaps → entries, noisy pages → body + metadata."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import trafilatura
from lxml import html as lxml_html

from newsspider.extract.auto import extract_article, extract_main, parse_iso
from newsspider.extract.feed import FeedError, full_content, parse_feed
from tests import feedsite
from tests.feedsite import FEEDS, load_posts, noise_paragraph, recall, squash

BASE = "http://127.0.0.1:9"
NOISE = ("京ICP备", "24小时热门", "上一篇", "分享到", "相关阅读", "网友评论", "下载客户端")


def _text(body_html: str | None) -> str:
    if not body_html:
        return ""
    return lxml_html.fragment_fromstring(body_html, create_parent="div").text_content()


# -- feeds and sitemaps ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "document", "kind"),
    [
        ("rss", feedsite.rss(BASE), "rss"),
        ("atom", feedsite.atom(BASE), "atom"),
        ("news", feedsite.news_sitemap(BASE), "sitemap"),
    ],
)
def test_entries_carry_link_title_and_date(name: str, document: str, kind: str) -> None:
    feed = parse_feed(document.encode(), f"{BASE}/{name}.xml")
    assert feed.kind == kind
    posts = [load_posts()[i] for i in FEEDS[name]]
    assert [e.url for e in feed.entries] == [f"{BASE}/a/{p.index}.html" for p in posts]
    assert [e.title for e in feed.entries] == [p.title for p in posts]
    assert [e.published_at for e in feed.entries] == [p.date for p in posts]
    assert all(e.published_raw for e in feed.entries)
    assert feed.title and feed.title.startswith(feedsite.SITE_TITLE)
    # Teasers are summaries, never bodies: the pages must be fetched.
    assert all(e.content_html is None for e in feed.entries)


def test_full_content_in_the_feed_is_the_body() -> None:
    feed = parse_feed(feedsite.rss(BASE, full=True).encode(), f"{BASE}/rss-full.xml")
    for entry, index in zip(feed.entries, FEEDS["rss-full"], strict=True):
        post = load_posts()[index]
        assert entry.content_html is not None
        assert recall(post.body, _text(entry.content_html)) > 0.99
        assert entry.summary and entry.summary.endswith("…")


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>" + "长" * 400 + "</p>", True),
        ("<p>" + "长" * 400 + "……</p>", False),
        ("<p>" + "long " * 100 + "[…]</p>", False),
        ("<p>" + "长" * 400 + "</p><p><a href='/a'>阅读全文</a></p>", False),
        ("<p>short teaser</p>", False),
        ("", False),
    ],
)
def test_full_content_rule(html: str, expected: bool) -> None:
    assert full_content(html, 300) is expected


def test_sitemap_index_and_plain_sitemap() -> None:
    index = parse_feed(feedsite.sitemap_index(BASE).encode(), f"{BASE}/sitemap.xml")
    assert index.kind == "sitemapindex"
    assert [loc for loc, _ in index.sitemaps] == [
        f"{BASE}/sitemap-1.xml", f"{BASE}/sitemap-2.xml.gz",
    ]
    assert index.sitemaps[0][1] == datetime(2022, 8, 1, tzinfo=UTC)
    plain = parse_feed(feedsite.sitemap(BASE, 1).encode(), f"{BASE}/sitemap-1.xml")
    assert plain.kind == "sitemap" and plain.title is None
    first = plain.entries[0]
    # <lastmod> is a modification time, kept apart from the publication date.
    assert first.published_at is None and first.modified_at == load_posts()[0].date


def test_news_sitemap_names_the_publication() -> None:
    feed = parse_feed(feedsite.news_sitemap(BASE).encode(), f"{BASE}/news.xml")
    assert feed.title == feedsite.SITE_TITLE
    assert feed.language == "zh-cn"


def test_sitemap_entities_are_not_expanded() -> None:
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>http://a.example/&e;</loc></url></urlset>"
    )
    feed = parse_feed(evil, "http://a.example/sitemap.xml")
    assert all("root:" not in e.url for e in feed.entries)


def test_html_page_is_not_a_feed() -> None:
    with pytest.raises(FeedError, match="not an RSS/Atom feed or a sitemap"):
        parse_feed(b"<!DOCTYPE html><html><body><p>hello</p></body></html>", BASE + "/")


def test_parse_iso_reads_zones_and_bare_days() -> None:
    assert parse_iso("2022-08-01T08:00:00+08:00") == datetime(2022, 8, 1, tzinfo=UTC)
    assert parse_iso("2022-08-01T00:00:00Z") == datetime(2022, 8, 1, tzinfo=UTC)
    assert parse_iso("2022-08-01") == datetime(2022, 8, 1, tzinfo=UTC)
    assert parse_iso("yesterday") is None


# -- automatic article extraction ---------------------------------------------------


def test_noisy_pages_give_the_whole_body_and_no_noise() -> None:
    posts = load_posts()
    recalls = []
    for post in posts:
        page = extract_article(feedsite.static_page(post), f"{BASE}/a/{post.index}.html")
        text = _text(page.body_html)
        recalls.append(recall(post.body, text))
        found = squash(text)
        for k in range(6):
            assert squash(noise_paragraph(post, k)) not in found, (post.slug, k)
        assert not [n for n in NOISE if n in text], post.slug
        assert page.title == post.title
        assert page.published_at == post.date
        assert page.published_raw
        assert page.site_name == feedsite.SITE_TITLE
        assert page.language == "zh-CN"
    assert min(recalls) >= 0.95, recalls
    assert sum(recalls) / len(recalls) >= 0.99


def test_page_container_beats_plain_trafilatura_on_recall() -> None:
    """The measurement behind extract.auto: plain trafilatura loses bare text and link-only lines."""
    ours, plain = [], []
    for post in load_posts():
        page = feedsite.static_page(post)
        ours.append(recall(post.body, _text(extract_main(page)[0])))
        out = trafilatura.extract(page, output_format="html", include_images=True,
                                  include_links=True, favor_recall=True)
        plain.append(recall(post.body, lxml_html.fromstring(out).text_content() if out else ""))
    assert sum(ours) / len(ours) > sum(plain) / len(plain)
    assert sum(r >= 0.9 for r in ours) == len(ours)


def test_lazy_images_survive_in_the_page_container() -> None:
    zaker = next(p for p in load_posts() if p.slug.startswith("zaker"))
    body, method = extract_main(feedsite.static_page(zaker))
    assert method == "container"
    assert "data-original=" in body  # for the image pipeline to resolve (CONTRACT §5)


def test_comments_inside_the_article_element_are_dropped() -> None:
    """Reader comments nested in the body's own element: pruned, or trafilatura's output used."""
    post, other = load_posts()[0], load_posts()[1]
    mixed = f'<div class="article-content">{post.body}{feedsite.comments_html(other)}</div>'
    body, method = extract_main(feedsite.article_page(post, mixed))
    text = _text(body)
    assert method in ("container", "trafilatura")
    assert recall(post.body, text) >= 0.9
    assert "网友评论" not in text
    assert squash(noise_paragraph(other, 0)) not in squash(text)


def test_noise_in_the_body_element_is_taken_out() -> None:
    """Paragraphs trafilatura did not keep go, even inside the element that holds the body."""
    post, other = load_posts()[0], load_posts()[1]
    noise = "".join(
        f'<p>{noise_paragraph(other, k)}<a href="/a/{k}.html">{other.title}</a></p>' for k in range(3)
    )
    mixed = f'<div class="article-content">{post.body}<div class="related">{noise}</div></div>'
    body, method = extract_main(feedsite.article_page(post, mixed))
    assert method == "container"
    assert recall(post.body, _text(body)) >= 0.95
    assert not [k for k in range(3) if squash(noise_paragraph(other, k)) in squash(_text(body))]


def test_script_filled_page_has_no_body_without_a_browser() -> None:
    """Only furniture is left (byline, prev/next, disclaimer): that is no body, not a short one."""
    for post in load_posts():
        assert extract_main(feedsite.js_page(post)) == (None, "too_short"), post.slug
