"""``extract_page`` (CONTRACT §8): the stored fields of one page, automatic or a portal's, and
``newsspider extract``, the command that prints them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pymongo import MongoClient

from newsspider.extract import decode_html, extract_page, parse_article
from newsspider.extract.page import FIELDS
from newsspider.pipelines.body import process_body
from newsspider.portals import get_portal
from tests import feedsite
from tests.feedsite import FEEDS, FeedSite, load_posts, noise_paragraph, recall, squash

REPO = Path(__file__).resolve().parent.parent
OFWEEK_PAGE = REPO / "tests" / "fixtures" / "pages" / "ofweek" / "article_source_name.html"
OFWEEK_URL = "https://www.ofweek.com/medical/2022-08/ART-11111-2400-30571234.html"
BASE = "http://127.0.0.1:9"


def _ofweek_html(raw: bytes | None = None) -> str:
    text, _ = decode_html(raw or OFWEEK_PAGE.read_bytes(), "text/html", get_portal("ofweek").encoding)
    return text


# -- automatic extraction ----------------------------------------------------------


def test_automatic_extraction_gives_the_contract_fields() -> None:
    post = next(p for p in load_posts() if p.slug.startswith("zaker"))
    fields = extract_page(feedsite.static_page(post), f"{BASE}/a/{post.index}.html")
    assert tuple(fields) == FIELDS
    assert fields["title"] == post.title
    assert fields["published_at"] == post.date
    assert fields["published_raw"]
    assert fields["language"] == "zh-CN"
    assert fields["extraction"] == dict.fromkeys(("title", "published_at", "author", "body_html"), "auto")
    assert recall(post.body, fields["body_text"]) >= 0.95
    assert not [k for k in range(6) if squash(noise_paragraph(post, k)) in squash(fields["body_text"])]
    # Normalized (CONTRACT §5): no classes, no scripts; the lazy image resolved to its original.
    assert "class=" not in fields["body_html"] and "<script" not in fields["body_html"]
    assert fields["images"], "the zaker post has images"
    first = fields["images"][0]
    assert first["url"].startswith("http://zkres") and "cors.zfour" not in first["url"]
    assert fields["lead_image"] == first["url"]


def test_a_page_without_an_article_gives_empty_fields() -> None:
    for html in ("", "not html at all", "<html><body>" + "<div>" * 3000 + "</body></html>"):
        fields = extract_page(html, f"{BASE}/x.html")
        assert fields["body_text"] == "" and fields["body_html"] == "" and fields["images"] == []
    post = load_posts()[0]
    # Only furniture (the body is filled by a script): no body, rather than the byline as body.
    assert extract_page(feedsite.js_page(post), f"{BASE}/js/0.html")["body_text"] == ""


@pytest.fixture(scope="module")
def site() -> Iterator[FeedSite]:
    with FeedSite() as served:
        yield served


def test_the_feed_spider_stores_what_extract_page_gives(
    site: FeedSite, mongo_uri: str, mongo_db_name: str
) -> None:
    """The same page through a real crawl (spider, pipelines, store) and the function."""
    argv = [sys.executable, "-m", "scrapy", "crawl", "feed", "-a", f"start_url={site.url('/rss.xml')}"]
    for name, value in {
        "MONGO_URI": mongo_uri, "MONGO_DATABASE": mongo_db_name, "AUTOTHROTTLE_ENABLED": "false",
    }.items():
        argv += ["-s", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URI", "MONGO_DATABASE")}
    result = subprocess.run(
        argv, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    try:
        db = client[mongo_db_name]
        compared = 0
        for index in FEEDS["rss"]:
            url = site.url(f"/a/{index}.html")
            doc = db.articles.find_one({"_id": url})
            assert doc is not None, url
            with urllib.request.urlopen(url, timeout=10) as response:
                html, _ = decode_html(response.read(), response.headers.get("Content-Type"))
            fields = extract_page(html, url)
            for name in ("body_html", "body_text", "images", "lead_image", "title"):
                assert doc[name] == fields[name], (url, name)
            compared += 1
        assert compared == len(FEEDS["rss"])
    finally:
        client.drop_database(mongo_db_name)
        client.close()


# -- a portal's selectors, and the automatic fallback field by field ---------------------


def test_a_portal_page_is_extracted_by_its_selectors() -> None:
    portal = get_portal("ofweek")
    html = _ofweek_html()
    fields = extract_page(html, OFWEEK_URL, portal="ofweek")
    assert fields["extraction"] == dict.fromkeys(
        ("title", "published_at", "author", "body_html"), "selectors"
    )
    assert fields["title"] == "昌平生命谷国际精准医学产业园工程启动仪式隆重举行"
    assert fields["author"] == "OFweek医疗网"
    assert fields["published_at"] == datetime(2022, 8, 31, 7, 58, tzinfo=UTC)
    assert fields["language"] == portal.language
    declared = parse_article(html, OFWEEK_URL, portal)
    stored = process_body(declared.body_html or "", OFWEEK_URL, portal.body_rules)
    assert fields["body_text"] == stored.text
    assert fields["body_html"] == stored.html


def test_a_field_the_selectors_miss_is_found_automatically() -> None:
    raw = OFWEEK_PAGE.read_bytes()
    for marker in (b'id="articleC"', b'class="article_con"'):
        raw = raw.replace(marker, b'class="renamed-by-a-redesign"')
    by_selectors = extract_page(_ofweek_html(), OFWEEK_URL, portal="ofweek")
    fields = extract_page(_ofweek_html(raw), OFWEEK_URL, portal="ofweek")
    assert fields["extraction"]["body_html"] == "auto"
    assert fields["extraction"]["title"] == "selectors"
    assert fields["title"] == by_selectors["title"]
    assert "生命谷国际精准医学产业园是由昌发展" in fields["body_text"]
    lines = [line for line in by_selectors["body_text"].split("\n") if len(line) > 20]
    assert sum(line in fields["body_text"] for line in lines) >= 0.9 * len(lines)


PORTAL_PAGES = sorted(
    (path.parent.name, path) for path in (REPO / "tests" / "fixtures" / "pages").glob("*/article*.html")
)


@pytest.mark.parametrize(("name", "path"), PORTAL_PAGES, ids=[f"{n}/{p.name}" for n, p in PORTAL_PAGES])
def test_automatic_extraction_finds_what_each_portal_declares(name: str, path: Path) -> None:
    """Every portal's saved article page, without its selectors: the same body (self-healing)."""
    portal = get_portal(name)
    html, _ = decode_html(path.read_bytes(), "text/html", portal.encoding)
    url = portal.start_urls[0].rsplit("/", 1)[0] + "/2021-03/1.html"
    declared = extract_page(html, url, portal=name)
    assert declared["extraction"]["body_html"] == "selectors"
    auto = extract_page(html, url)
    want = [line for line in declared["body_text"].split("\n") if line.strip()]
    got = [line for line in auto["body_text"].split("\n") if line.strip()]
    size = sum(map(len, want))
    assert sum(len(line) for line in want if line in auto["body_text"]) >= 0.95 * size
    assert sum(len(line) for line in got if line not in declared["body_text"]) <= 0.05 * size
    wanted_images = [image["url"] for image in declared["images"]]
    found_images = [image["url"] for image in auto["images"]]
    assert set(wanted_images) <= set(found_images)
    assert len(found_images) <= len(wanted_images) + 1  # ithome's video placeholder


def test_an_unknown_portal_is_named() -> None:
    with pytest.raises(KeyError, match="unknown portal 'nope'"):
        extract_page("<html></html>", OFWEEK_URL, portal="nope")


# -- newsspider extract ----------------------------------------------------------------


def _cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "newsspider.cli", "extract", *args],
        check=False, cwd=REPO, input=stdin, capture_output=True, timeout=120,
    )


def test_the_command_prints_the_fields_as_json() -> None:
    result = _cli(str(OFWEEK_PAGE), "--url", OFWEEK_URL, "--portal", "ofweek")
    assert result.returncode == 0, result.stderr.decode()
    printed = json.loads(result.stdout)
    expected = extract_page(_ofweek_html(), OFWEEK_URL, portal="ofweek")
    assert printed["published_at"] == "2022-08-31T07:58:00Z"
    assert printed["body_text"] == expected["body_text"]
    assert printed["extraction"] == expected["extraction"]
    assert list(printed) == list(FIELDS)


def test_the_command_reads_standard_input() -> None:
    post = next(p for p in load_posts() if p.slug.startswith("ithome"))
    page = feedsite.static_page(post).encode("utf-8")
    result = _cli("-", "--url", f"{BASE}/a/{post.index}.html", stdin=page)
    assert result.returncode == 0, result.stderr.decode()
    printed = json.loads(result.stdout)
    assert printed["title"] == post.title
    assert printed["extraction"]["body_html"] == "auto"
    assert recall(post.body, printed["body_text"]) >= 0.95


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("/no/such/page.html", "--url", OFWEEK_URL), "cannot read /no/such/page.html"),
        ((str(OFWEEK_PAGE), "--url", OFWEEK_URL, "--portal", "nope"), "unknown portal 'nope'"),
        ((str(OFWEEK_PAGE), "--url", "www.ofweek.com/a.html"), "--url must be an absolute"),
    ],
)
def test_bad_input_is_a_one_line_usage_error(args: tuple[str, ...], message: str) -> None:
    result = _cli(*args)
    assert result.returncode == 2
    err = result.stderr.decode()
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
