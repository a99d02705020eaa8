"""``-a render=js``: pages through real headless Chromium (scrapy-playwright), or a clear error.

The loopback site's ``/js/N.html`` pages ship an empty body container; a
script fills it from inline JSON (odd N) or from a ``fetch`` of
``/api/N.json`` (even N).  Only the rendered DOM has the body.

Without Chromium these tests skip, unless ``CI`` is set: then a missing
browser is a failure (CONTRACT §1).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from pymongo import MongoClient

from tests.conftest import REPO, chromium_or_skip
from tests.feedsite import FEEDS, FeedSite, load_posts
from tests.test_feed_spider import assert_mostly_right, check_stored, crawl


@pytest.fixture
def chromium() -> str:
    return chromium_or_skip()


@pytest.fixture(scope="module")
def site() -> Iterator[FeedSite]:
    with FeedSite() as served:
        yield served


def test_render_js_stores_the_script_inserted_bodies(
    chromium: str, site: FeedSite, mongo_uri: str, mongo_db_name: str
) -> None:
    result = crawl(site.url("/news-sitemap-js.xml"), mongo_uri, mongo_db_name, "render=js")
    assert result.returncode == 0, result.stderr[-3000:]
    posts = [load_posts()[i] for i in FEEDS["news"]]
    # Both ways of filling the body are exercised.
    assert {p.index % 2 for p in posts} == {0, 1}
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    try:
        db = client[mongo_db_name]
        assert_mostly_right(check_stored(db, site, posts, prefix="/js/"), len(posts))
        stats = db.runs.find_one({"portal": "feed"})["stats"]
        assert stats.get("playwright/page_count", 0) == len(posts)
        # The bodies came from the browser: the page's API was fetched by its script.
        api_hits = [h for h in site.hits if h.startswith("/api/")]
        assert len(api_hits) == sum(1 for p in posts if p.index % 2 == 0)
    finally:
        client.drop_database(mongo_db_name)
        client.close()


def test_without_render_js_the_script_pages_have_no_body(
    site: FeedSite, mongo_uri: str, mongo_db_name: str
) -> None:
    """The control: the same crawl without a browser stores no body (rejected as empty)."""
    result = crawl(site.url("/news-sitemap-js.xml"), mongo_uri, mongo_db_name,
                   settings={"NEWSSPIDER_MONITOR_ENABLED": "false"})
    assert result.returncode == 0, result.stderr[-3000:]
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    try:
        db = client[mongo_db_name]
        assert db.articles.count_documents({}) == 0
        assert db.rejects.count_documents({}) == len(FEEDS["news"])
    finally:
        client.drop_database(mongo_db_name)
        client.close()


@pytest.mark.parametrize(
    "command",
    [("-m", "scrapy", "crawl", "feed"), ("-m", "newsspider.cli", "crawl", "feed")],
    ids=["scrapy", "newsspider"],
)
def test_missing_chromium_is_a_clear_message(
    command: tuple[str, ...], mongo_uri: str, mongo_db_name: str
) -> None:
    argv = [sys.executable, *command, "-a", "start_url=http://127.0.0.1:9/rss.xml",
            "-a", "render=js", "-s", "NEWSSPIDER_CHROMIUM=/nonexistent",
            "-s", f"MONGO_URI={mongo_uri}", "-s", f"MONGO_DATABASE={mongo_db_name}"]
    result = subprocess.run(argv, check=False, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "render=js needs Chromium" in result.stderr
    assert "apt-get install chromium" in result.stderr
    assert "NEWSSPIDER_CHROMIUM=/nonexistent" in result.stderr
    assert "Traceback" not in result.stderr


def test_portal_spider_render_js_fails_the_same_way(mongo_uri: str) -> None:
    argv = [sys.executable, "-m", "scrapy", "crawl", "ofweek", "-a", "render=js",
            "-s", "NEWSSPIDER_CHROMIUM=/nonexistent", "-s", f"MONGO_URI={mongo_uri}"]
    result = subprocess.run(argv, check=False, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "render=js needs Chromium" in result.stderr
    assert "Traceback" not in result.stderr
