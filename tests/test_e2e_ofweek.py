"""End to end: ``scrapy crawl ofweek`` against the bundled replica over real HTTP, into a real store.

Asserted field by field against the replica's ground truth: every listed
article stored once, the republished copy and the tracking-parameter repeat
merged, the empty body and the 500 article in ``rejects`` with their reasons,
one ``runs`` record.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC

import pytest
from lxml import html as lxml_html

from newsspider.replica.server import ReplicaServer
from tests.conftest import CrawlResult, scrapy_crawl

ALLOWED_TAGS = {
    "p", "br", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "u", "sub", "sup",
    "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tfoot", "tr", "th", "td",
    "caption", "colgroup", "col", "figure", "figcaption", "pre", "code", "a", "img",
}


def _text(fragment: str) -> str:
    if not fragment.strip():
        return ""
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    return re.sub(r"\s+", "", root.text_content().replace("\u3000", ""))


@pytest.fixture(scope="module")
def replica():
    with ReplicaServer() as server:
        yield server


@pytest.fixture(scope="module")
def crawled(replica, mongo_uri, tmp_path_factory):
    """One crawl of the demo replica, shared by the tests of this module."""
    from pymongo import MongoClient

    replica.reset_hits()
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    db = client[f"e2e_{uuid.uuid4().hex[:10]}"]
    code, out, err = scrapy_crawl(
        mongo_uri, db.name, tmp_path_factory.mktemp("data"), "ofweek",
        f"start_url={replica.listing_url}",
    )
    result = CrawlResult(code, out, err, db)
    assert code == 0, result
    yield result
    client.drop_database(db.name)
    client.close()


def listed_specs(replica):
    seen, out = set(), []
    for entry in replica.scenario.entries:
        if entry.article.path not in seen:
            seen.add(entry.article.path)
            out.append(entry.article)
    return out


def test_every_article_stored_once_with_every_field(replica, crawled) -> None:
    db = crawled.db
    stored = 0
    for spec in listed_specs(replica):
        want = replica.expected(spec)
        if want["always_500"] or want["empty_body"]:
            assert db.articles.find_one({"_id": want["url"]}) is None, want["url"]
            continue
        doc = db.articles.find_one({"_id": want["url"]})
        if doc is None and _merged_into_other(db, want["url"]):
            continue
        assert doc is not None, f"not stored: {want['url']} ({want['title']})"
        stored += 1
        assert doc["url"] == want["url"]
        assert doc["fetched_url"].startswith(want["url"])
        assert doc["title"] == want["title"]
        assert doc["author"] == want["author"]
        assert doc["published_raw"] == want["published_raw"]
        assert doc["published_at"] == want["published_at"].astimezone(UTC)
        assert doc["portal"] == "ofweek"
        assert doc["site_name"] == "高科技行业门户"
        assert doc["channel"] == "新闻"
        assert doc["categories"] == ["新媒体", "高科技行业门户", "新闻"]
        assert doc["language"] == "zh"
        assert doc["pages"] == want["pages"]
        assert doc["schema_version"] == 1
        assert doc["revision"] == 1
        assert [img["url"] for img in doc["images"]] == [img["url"] for img in want["images"]]
        assert doc["lead_image"] == want["lead_image"]
        assert doc["content_hash"] == hashlib.sha256(doc["body_text"].encode()).hexdigest()
        assert isinstance(doc["simhash"], int) and -(2**63) <= doc["simhash"] < 2**63
        # The whole article text, from every page, survives normalization.
        assert _text(doc["body_html"]) == _text(want["raw_body_html"]), want["url"]
        assert doc["body_text"].strip()
        for field in ("first_seen_at", "last_crawled_at"):
            assert doc[field].tzinfo is not None
        root = lxml_html.fragment_fromstring(doc["body_html"], create_parent="div")
        for el in root.iterdescendants():
            assert el.tag in ALLOWED_TAGS, (el.tag, want["url"])
            assert not {"style", "class", "id"} & set(el.attrib), (el.tag, el.attrib)
    assert stored >= 20
    assert db.articles.count_documents({}) == stored


def _merged_into_other(db, url: str) -> bool:
    return db.articles.count_documents({"alternate_urls": url}) == 1


def test_republished_copy_and_tracking_repeat_are_merged(replica, crawled) -> None:
    db = crawled.db
    pairs = 0
    for spec in listed_specs(replica):
        want = replica.expected(spec)
        if want["duplicate_of"]:
            pairs += 1
            # Whichever copy was processed first is stored; the other becomes its alternate.
            urls = {want["url"], want["duplicate_of"]}
            docs = list(db.articles.find({"_id": {"$in": sorted(urls)}}))
            assert len(docs) == 1, [d["_id"] for d in docs]
            (other,) = urls - {docs[0]["_id"]}
            assert docs[0]["alternate_urls"] == [other]
    assert pairs >= 1
    tracked = [e for e in replica.scenario.entries if e.suffix]
    assert tracked
    for entry in tracked:
        url = replica.url(entry.article)
        assert db.articles.count_documents({"_id": url}) == 1
        assert replica.hits[entry.article.path] == 1, "listed twice but must be fetched once"


def test_rejects_carry_reasons_and_the_crawl_finishes(replica, crawled) -> None:
    db = crawled.db
    by_url = {r["url"]: r for r in db.rejects.find({})}
    for spec in listed_specs(replica):
        want = replica.expected(spec)
        if want["empty_body"]:
            reject = by_url[want["url"]]
            assert {"field": "body_text", "message": "article body is empty"} in reject["errors"]
            assert reject["portal"] == "ofweek"
            assert reject["item"]["title"] == want["title"]
            assert reject["at"].tzinfo is not None
        if want["always_500"]:
            reject = by_url[want["url"]]
            assert reject["errors"][0]["field"] == "fetch"
            assert "HTTP 500" in reject["errors"][0]["message"]
    run = db.runs.find_one({"portal": "ofweek"})
    assert run is not None
    assert run["finish_reason"] == "finished"
    assert run["stats"]["item_scraped_count"] >= 20
    assert run["finished_at"] >= run["started_at"]


def test_sidebar_decoys_are_not_crawled(replica, crawled) -> None:
    for decoy in replica.scenario.sidebar:
        assert replica.hits[decoy.path] == 0
