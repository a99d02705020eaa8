"""The demo replica's pages, fetched over real HTTP and parsed with lxml, against
the scenario's ground truth."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import lxml.html
import pytest

from newsspider.replica import ArticleSpec, ReplicaServer, Scenario
from newsspider.replica.corpus import BEIJING, CORS_PREFIX, LOADING_GIF, load_posts
from newsspider.replica.scenarios import TRACKING_SUFFIX

SEED_TITLE = "昌平生命谷国际精准医学产业园工程启动仪式隆重举行"


@pytest.fixture(scope="module")
def server() -> Iterator[ReplicaServer]:
    with ReplicaServer() as replica:
        yield replica


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def page(url: str) -> lxml.html.HtmlElement:
    _, _, body = fetch(url)
    return lxml.html.document_fromstring(body.decode("gbk"))


def listing_items(doc: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    return doc.cssselect("div.list-left div.con-details h3 > a")


def by_corpus(scenario: Scenario, corpus_id: str) -> ArticleSpec:
    return next(spec for spec in scenario.articles if spec.corpus_id == corpus_id)


def test_pages_are_gbk_and_declare_gb2312(server: ReplicaServer) -> None:
    status, headers, body = fetch(server.listing_url)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=gb2312"
    assert b'<meta http-equiv="Content-Type" content="text/html; charset=gb2312" />' in body
    text = body.decode("gbk")
    assert SEED_TITLE in text
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")


def test_listing_pages_items_and_pagination(server: ReplicaServer) -> None:
    scenario = server.scenario
    assert scenario.n_listing_pages == 3
    seen: list[str] = []
    url: str | None = server.listing_url
    pages = 0
    while url:
        pages += 1
        doc = page(url)
        items = listing_items(doc)
        expected = scenario.listing_page(pages)
        assert [a.get("href") for a in items] == [
            entry.article.url(server.base_url) + entry.suffix for entry in expected
        ]
        assert [a.text_content() for a in items] == [entry.article.title for entry in expected]
        assert [a.get("title") for a in items] == [entry.article.title for entry in expected]
        details = doc.cssselect("div.list-left div.con-details")
        for detail, entry in zip(details, expected, strict=True):
            spans = detail.cssselect("span.fb-tl")
            assert spans[0].text_content() == entry.article.published
            assert spans[1].text_content().startswith("关键词")
            assert detail.cssselect("p > span")[0].text_content() == entry.article.summary
        seen += [a.get("href") for a in items]
        pager = doc.cssselect("div.page")[0]
        next_links = [a for a in pager.cssselect("a") if a.text_content() == "下一页"]
        numbers = [a.text_content() for a in pager.cssselect("a, span.current")]
        assert {"1", "2", "3"} <= set(numbers)
        url = server.base_url + next_links[0].get("href") if next_links else None
    assert pages == 3
    assert [len(scenario.listing_page(n)) for n in (1, 2, 3)] == [10, 10, 8]
    assert len(seen) == 28 and len(set(seen)) == 28  # the tracking repeat differs by its query


def test_sidebar_links_are_outside_the_list(server: ReplicaServer) -> None:
    doc = page(server.listing_url)
    listed = {a.get("href") for a in listing_items(doc)}
    sidebar = {a.get("href") for a in doc.cssselect("div.list-right a")}
    decoys = {spec.url(server.base_url) for spec in server.scenario.decoys}
    assert len(decoys) == 3
    assert decoys <= sidebar
    assert not decoys & listed
    # Decoys are real pages: a crawl that follows the sidebar gets caught by the hits counter.
    for url in decoys:
        assert fetch(url)[0] == 200


def test_seed_article_page(server: ReplicaServer) -> None:
    spec = server.scenario.listed_articles[0]
    assert spec.title == SEED_TITLE
    assert spec.published == "2022-08-31 15:58"
    assert spec.published_at == datetime(2022, 8, 31, 7, 58, tzinfo=UTC)
    assert spec.author == "OFweek医疗网"
    assert spec.path == "/medical/2022-08/ART-11000-8120-30571234.html"
    doc = page(server.url(spec))
    artical = doc.cssselect("div.artical")[0]
    assert artical.cssselect("p.title")[0].text_content() == SEED_TITLE
    assert artical.cssselect("div.time.fl")[0].text_content() == "2022-08-31 15:58"
    assert artical.cssselect("div.source-name")[0].text_content() == "OFweek医疗网"
    body = artical.cssselect("#articleC.article_con")[0]
    srcs = [img.get("src") for img in body.cssselect("img")]
    assert len(srcs) == 6
    assert all(
        src.startswith("http://images.ofweek.com/Upload/News/2022-08/31/yuanchen/") for src in srcs
    )
    assert not body.cssselect("img[referrerpolicy]")
    assert len(body.cssselect("span.hrefStyle > a")) == 2
    assert server.expected(spec)["images"][0]["url"] == srcs[0]


@pytest.mark.parametrize(
    ("layout", "selector"),
    [
        ("source-name", "div.source-name"),
        ("laiyuan", "#laiyuan > span"),
        ("laiyuan_mp", "#laiyuan_mp > a > span"),
    ],
)
def test_author_layouts(server: ReplicaServer, layout: str, selector: str) -> None:
    specs = [spec for spec in server.scenario.listed_articles if spec.author_layout == layout]
    assert len(specs) >= 3
    for spec in specs[:3]:
        doc = page(server.url(spec))
        text = doc.cssselect(f"div.artical {selector}")[0].text_content()
        assert spec.author is not None
        expected = f"来源：{spec.author}" if layout == "laiyuan" else spec.author
        assert text == expected
        other = {
            "source-name": "div.source-name",
            "laiyuan": "#laiyuan",
            "laiyuan_mp": "#laiyuan_mp",
        }
        for name, css in other.items():
            if name != layout:
                assert not doc.cssselect(css)


def test_title_layouts(server: ReplicaServer) -> None:
    h1 = [spec for spec in server.scenario.listed_articles if spec.title_layout == "h1"]
    assert len(h1) >= 2
    doc = page(server.url(h1[0]))
    assert doc.cssselect("div.artical h1")[0].text_content() == h1[0].title
    assert not doc.cssselect("div.artical p.title")


def test_multi_page_articles(server: ReplicaServer) -> None:
    multi = {spec.corpus_id: spec for spec in server.scenario.listed_articles if spec.n_pages > 1}
    assert multi["34131022336"].n_pages == 3
    assert len(multi) >= 2
    spec = multi["34131022336"]
    bodies: list[str] = []
    for number, url in enumerate(spec.page_urls(server.base_url), start=1):
        doc = page(url)
        assert doc.cssselect("div.artical p.title")[0].text_content() == spec.title
        body = doc.cssselect("#articleC")[0]
        bodies.append(body.text_content())
        pager = doc.cssselect("div.page#nextPage")[0]
        hrefs = {a.get("href") for a in pager.cssselect("a")}
        assert set(spec.page_paths) - {spec.page_paths[number - 1]} <= hrefs
        nexts = [a for a in pager.cssselect("a") if a.text_content() == "下一页"]
        if number < 3:
            assert nexts[0].get("href") == spec.page_paths[number]
        else:
            assert not nexts
    assert spec.page_paths[1].endswith("_2.html") and spec.page_paths[2].endswith("_3.html")
    # Split between paragraphs: every page is well formed and none is empty.
    assert all(text.strip() for text in bodies)
    assert "".join(spec.pages).count("<p") == spec.body_html.count("<p")
    assert fetch(server.url(spec))[2].decode("gbk").count('id="nextPage"') == 1


def test_image_variants(server: ReplicaServer) -> None:
    modes = {spec.image_mode for spec in server.scenario.listed_articles if spec.images}
    assert {"plain", "lazy", "cors", "local", "mixed"} <= modes
    lazy = next(
        s for s in server.scenario.listed_articles if s.image_mode == "lazy" and s.n_pages == 1
    )
    img = page(server.url(lazy)).cssselect("#articleC img")[0]
    assert img.get("src") == LOADING_GIF
    assert img.get("data-original") == lazy.images[0].url
    cors = next(s for s in server.scenario.listed_articles if s.image_mode == "cors")
    img = page(server.url(cors)).cssselect("#articleC img")[0]
    assert img.get("src") == CORS_PREFIX + cors.images[0].url
    local = next(s for s in server.scenario.listed_articles if s.image_mode == "local")
    img = page(server.url(local)).cssselect("#articleC img")[0]
    assert img.get("src").startswith("/Upload/News/")
    status, headers, data = fetch(local.image_urls(server.base_url)[0])
    assert status == 200 and headers["Content-Type"] == "image/png" and data.startswith(b"\x89PNG")
    assert fetch(server.base_url + LOADING_GIF)[2].startswith(b"GIF89a")


def test_republished_pair(server: ReplicaServer) -> None:
    scenario = server.scenario
    republished = by_corpus(scenario, "34260173494")
    original = by_corpus(scenario, "34893407152")
    assert republished.duplicate_of == original.path
    assert republished.title != original.title and republished.path != original.path
    listed = {spec.path for spec in scenario.listed_articles}
    assert {republished.path, original.path} <= listed


def test_tracking_param_duplicate_listing(server: ReplicaServer) -> None:
    hrefs = [
        a.get("href") for n in (1, 2, 3) for a in listing_items(page(server.listing_page_url(n)))
    ]
    spec = next(s for s in server.scenario.listed_articles if s.tracking_suffix)
    plain = spec.url(server.base_url)
    assert hrefs.count(plain) == 1
    assert hrefs.count(plain + TRACKING_SUFFIX) == 1
    # The tracked URL serves the same page.
    assert fetch(plain + TRACKING_SUFFIX)[2] == fetch(plain)[2]


def test_empty_body_article(server: ReplicaServer) -> None:
    spec = next(s for s in server.scenario.listed_articles if s.empty_body)
    doc = page(server.url(spec))
    body = doc.cssselect("#articleC")[0]
    assert body.text_content().strip() == "" and len(body) == 0
    assert spec.body_html == ""


def test_seo_links_come_from_real_bodies(server: ReplicaServer) -> None:
    with_seo = [s for s in server.scenario.listed_articles if s.seo_links]
    assert len(with_seo) >= 15
    doc = page(server.url(with_seo[0]))
    assert (
        len(doc.cssselect('#articleC span.hrefStyle > a[target="_blank"]')) == with_seo[0].seo_links
    )


def test_ground_truth_is_complete(server: ReplicaServer) -> None:
    listed = server.scenario.listed_articles
    assert len(listed) == 27
    assert sum(s.always_500 for s in listed) == 1
    assert {s.corpus_id for s in listed} >= {post.post_id for post in load_posts()} | {"seed"}
    for spec in listed:
        assert spec.published_at.tzinfo is not None
        assert spec.published == spec.published_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
        assert spec.author
