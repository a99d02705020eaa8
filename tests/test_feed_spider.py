"""``scrapy crawl feed`` end to end: a loopback site's RSS, Atom and sitemaps into the real store.

Each crawl runs ``python -m scrapy crawl feed`` in a subprocess (as a user
would) against :mod:`tests.feedsite`, whose article pages bury real bodies in
navigation, sidebars, comments and footers, with every pipeline on and the
nx-27017 store; then the stored documents are checked with pymongo.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from tests.conftest import REPO
from tests.feedsite import (
    FEEDS,
    SITE_TITLE,
    FeedSite,
    Post,
    load_posts,
    noise_paragraph,
    recall,
    squash,
)

CRAWL_TIMEOUT = 120


@pytest.fixture(scope="module")
def site() -> Iterator[FeedSite]:
    with FeedSite() as served:
        yield served


def crawl(
    url: str, mongo_uri: str, db: str, *args: str, settings: dict[str, str] | None = None,
    command: tuple[str, ...] = ("-m", "scrapy", "crawl", "feed"),
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, *command, "-a", f"start_url={url}"]
    for arg in args:
        argv += ["-a", arg]
    merged = {
        "MONGO_URI": mongo_uri, "MONGO_DATABASE": db, "AUTOTHROTTLE_ENABLED": "false",
        "LOG_LEVEL": "INFO", **(settings or {}),
    }
    for name, value in merged.items():
        argv += ["-s", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URI", "MONGO_DATABASE")}
    return subprocess.run(
        argv, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=CRAWL_TIMEOUT
    )


def _last_run(db: Any) -> dict[str, Any]:
    run = db.runs.find_one({"portal": "feed"}, sort=[("started_at", -1)])
    assert run is not None, "no runs document"
    return run["stats"]


def _stat(stats: dict[str, Any], key: str) -> int:
    # The runs recorder replaces dots in stat keys; ours have none.
    return int(stats.get(key, 0) or 0)


def check_stored(db: Any, site: FeedSite, posts: list[Post], prefix: str = "/a/") -> list[str]:
    """Check every post's article; returns the problems (empty when all are right)."""
    problems: list[str] = []
    for post in posts:
        doc = db.articles.find_one({"_id": site.url(f"{prefix}{post.index}.html")})
        if doc is None:
            problems.append(f"{post.slug}: not stored")
            continue
        if doc["title"] != " ".join(post.title.split()):
            problems.append(f"{post.slug}: title {doc['title']!r}")
        if doc["published_at"] != post.date:
            problems.append(f"{post.slug}: published_at {doc['published_at']} != {post.date}")
        score = recall(post.body, doc["body_text"])
        if score < 0.9:
            problems.append(f"{post.slug}: body recall {score:.2f}")
        found = squash(doc["body_text"])
        leaked = [k for k in range(6) if squash(noise_paragraph(post, k)) in found]
        if leaked or "京ICP备" in doc["body_text"] or "24小时热门" in doc["body_text"]:
            problems.append(f"{post.slug}: page noise in the body ({leaked})")
    return problems


def assert_mostly_right(problems: list[str], total: int) -> None:
    wrong = {p.split(":", 1)[0] for p in problems}
    assert len(wrong) <= total * 0.1, "\n".join(problems)


@pytest.mark.parametrize(
    ("path", "feed"),
    [
        ("/rss.xml", "rss"),
        ("/atom.xml", "atom"),
        ("/sitemap.xml", "sitemap"),  # an index: plain child + gzipped child
        ("/news-sitemap.xml", "news"),
        ("/rss-full.xml", "rss-full"),
    ],
)
def test_feed_articles_are_stored_with_title_date_and_body(
    site: FeedSite, mongo_uri: str, mongo_db_name: str, path: str, feed: str
) -> None:
    result = crawl(site.url(path), mongo_uri, mongo_db_name)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    posts = [load_posts()[i] for i in FEEDS[feed]]
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    try:
        db = client[mongo_db_name]
        assert_mostly_right(check_stored(db, site, posts), len(posts))
        doc = db.articles.find_one({"portal": "feed"})
        assert doc is not None
        expected_site = SITE_TITLE if feed != "sitemap" else "127.0.0.1"
        if feed == "atom":
            expected_site = f"{SITE_TITLE} Atom"
        assert doc["site_name"] == expected_site
        assert doc["categories"] == [expected_site]
        assert doc["language"].lower().startswith("zh")
        stats = _last_run(db)
        if feed == "rss-full":
            # The feed carries the bodies: no article page is fetched.
            assert _stat(stats, "newsspider/spider/body_from_feed") == len(posts)
            assert _stat(stats, "newsspider/spider/article_pages") == 0
        else:
            assert _stat(stats, "newsspider/spider/article_pages") == len(posts)
        if feed == "sitemap":
            assert _stat(stats, "newsspider/spider/feed_documents") == 3
            assert _stat(stats, "newsspider/spider/feed_documents/sitemapindex") == 1
    finally:
        client.drop_database(mongo_db_name)
        client.close()


def test_second_crawl_fetches_only_new_entries_and_full_refetches(
    site: FeedSite, mongo_uri: str, mongo_db_name: str
) -> None:
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    db = client[mongo_db_name]
    try:
        first = crawl(site.url("/rss.xml"), mongo_uri, mongo_db_name,
                      "site_name=示例站", "categories=科技,新闻")
        assert first.returncode == 0, first.stderr[-3000:]
        doc = db.articles.find_one({"portal": "feed"})
        assert doc["site_name"] == "示例站" and doc["categories"] == ["科技", "新闻"]
        before = len(site.hits)
        second = crawl(site.url("/rss.xml"), mongo_uri, mongo_db_name)
        assert second.returncode == 0, second.stderr[-3000:]
        stats = _last_run(db)
        assert _stat(stats, "newsspider/spider/articles_known") == len(FEEDS["rss"])
        assert _stat(stats, "newsspider/spider/article_pages") == 0
        assert not [h for h in site.hits[before:] if h.startswith("/a/")]
        third = crawl(site.url("/rss.xml"), mongo_uri, mongo_db_name, "full=1")
        assert third.returncode == 0, third.stderr[-3000:]
        assert _stat(_last_run(db), "newsspider/spider/article_pages") == len(FEEDS["rss"])
        assert db.articles.count_documents({}) == len(FEEDS["rss"])
    finally:
        client.drop_database(mongo_db_name)
        client.close()


def test_since_and_max_pages_limit_the_walk(
    site: FeedSite, mongo_uri: str, mongo_db_name: str
) -> None:
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    db = client[mongo_db_name]
    since = "2022-01-01"
    try:
        # max_pages=2: the index and its first child sitemap only.
        result = crawl(site.url("/sitemap.xml"), mongo_uri, mongo_db_name,
                       f"since={since}", "max_pages=2")
        assert result.returncode == 0, result.stderr[-3000:]
        expected = {
            site.url(f"/a/{p.index}.html") for p in load_posts()
            if p.index % 2 == 0 and p.date.date().isoformat() >= since
        }
        assert expected, "the fixture needs posts after --since"
        stored = {d["_id"] for d in db.articles.find({}, {"_id": 1})}
        assert stored == expected
        stats = _last_run(db)
        assert _stat(stats, "newsspider/spider/feed_documents") == 2
        assert _stat(stats, "newsspider/spider/feed_documents_skipped/max_pages") == 1
        assert _stat(stats, "newsspider/spider/older_than_since") > 0
    finally:
        client.drop_database(mongo_db_name)
        client.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "needs -a start_url"),
        (("max_pages=zero",), "-a max_pages must be a whole number"),
        (("since=yesterday",), "-a since must be YYYY-MM-DD"),
        (("timezone=Mars/Base",), "-a timezone must be an IANA zone"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    site: FeedSite, mongo_uri: str, mongo_db_name: str, args: tuple[str, ...], message: str
) -> None:
    argv = [sys.executable, "-m", "scrapy", "crawl", "feed"]
    if args:
        argv += ["-a", f"start_url={site.url('/rss.xml')}"]
    for arg in args:
        argv += ["-a", arg]
    result = subprocess.run(argv, check=False, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
