"""The bulk writer against the real store: batching, flush triggers, revisions, merges, rejects."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient, monitoring
from scrapy.utils.test import get_crawler

from newsspider.normalize.text import simhash64
from newsspider.store.journal import Journal
from newsspider.store.store import Store, redact_uri
from newsspider.store.writer import ARTICLE, MERGE, REJECT, Op, StoreWriter, dedup_key_refs


def article(url: str, body: str = "正文第一段。\n第二段。", **extra: Any) -> dict[str, Any]:
    doc = {
        "_id": url, "url": url, "fetched_url": url, "portal": "ofweek", "site_name": "高科技行业门户",
        "channel": "新闻", "categories": ["新闻"], "title": f"标题 {url[-6:]}", "author": None,
        "published_at": datetime(2024, 5, 1, 8, 30, tzinfo=UTC), "published_raw": "2024-05-01 16:30",
        "body_html": "".join(f"<p>{p}</p>" for p in body.split("\n")), "body_text": body,
        "summary": None, "lead_image": None, "images": [], "language": "zh",
        "content_hash": hashlib.sha256(body.encode()).hexdigest(), "simhash": simhash64(body),
        # Whatever the validator passes along, the writer owns these:
        "alternate_urls": [], "revision": 1, "schema_version": 1,
    }
    doc.update(extra)
    return doc


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def stats():
    crawler = get_crawler()
    crawler.stats.open_spider()
    return crawler.stats


# On nx-27017 (no MONGO_URI) every store test runs twice: as against any server, and
# with the batch transactions a crawl's own embedded store uses (tests run one at a
# time, so the writer is the session server's only writer, as in a crawl).
_WRITE_MODES = [False] if os.environ.get("MONGO_URI") else [False, True]


@pytest.fixture(params=_WRITE_MODES, ids=lambda tx: "batch-transactions" if tx else "autocommit")
def make_store(request: pytest.FixtureRequest, mongo_uri: str, mongo_db_name: str, tmp_path: Path,
               stats, mongo_db):
    stores: list[Store] = []

    def make(**kw: Any) -> Store:
        kw.setdefault("batch_size", 50)
        kw.setdefault("flush_seconds", 60.0)
        kw.setdefault("batch_transactions", request.param)
        store = Store(uri=mongo_uri, database=mongo_db_name, data_dir=tmp_path, stats=stats, **kw)
        store.open()
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def test_flush_by_batch_size(make_store, mongo_db, stats) -> None:
    store = make_store(batch_size=5)
    for i in range(12):
        store.put_article_blocking(article(f"https://a.test/n/{i:06d}", f"内容 {i}"))
    wait_for(lambda: mongo_db.articles.count_documents({}) == 10)
    time.sleep(0.2)
    assert mongo_db.articles.count_documents({}) == 10  # the 2 left wait for more or the timer
    assert stats.get_value("newsspider/store/flushes") == 2
    store.close()
    assert mongo_db.articles.count_documents({}) == 12
    assert stats.get_value("newsspider/store/inserted") == 12


def test_flush_by_time(make_store, mongo_db) -> None:
    store = make_store(batch_size=1000, flush_seconds=0.3)
    started = time.monotonic()
    for i in range(3):
        store.put_article_blocking(article(f"https://a.test/t/{i:06d}", f"内容 {i}"))
    wait_for(lambda: mongo_db.articles.count_documents({}) == 3, timeout=3)
    assert time.monotonic() - started >= 0.25


def test_flush_and_close_write_everything(make_store, mongo_db) -> None:
    store = make_store(batch_size=1000)
    for i in range(7):
        store.put_article_blocking(article(f"https://a.test/c/{i:06d}", f"内容 {i}"))
    assert store.flush(5)
    assert mongo_db.articles.count_documents({}) == 7
    store.put_article_blocking(article("https://a.test/c/last00", "最后"))
    store.close()
    assert mongo_db.articles.count_documents({}) == 8
    assert store.journaled == 0


def test_document_bookkeeping(make_store, mongo_db) -> None:
    store = make_store()
    doc = article("https://a.test/doc/000001", alternate_urls=["https://not.mine/"], revision=7)
    store.put_article_blocking(doc)
    store.flush(5)
    stored = mongo_db.articles.find_one({"_id": doc["url"]})
    assert stored["url"] == doc["url"] and stored["title"] == doc["title"]
    assert stored["alternate_urls"] == [] and stored["revision"] == 1
    assert stored["schema_version"] == 1
    assert stored["first_seen_at"] == stored["last_crawled_at"] <= stored["updated_at"]
    # updated_at is the write's time, first_seen_at the crawl's (when the item was produced).
    assert stored["updated_at"] - stored["first_seen_at"] < timedelta(seconds=5)
    assert stored["first_seen_at"].utcoffset().total_seconds() == 0
    assert stored["published_at"] == doc["published_at"]
    assert stored["simhash"] == doc["simhash"]
    # Its four SimHash bands point back at it in dedup_keys (the near-duplicate lookup).
    ref = f"{doc['simhash']}|{doc['url']}"
    keys = list(mongo_db.dedup_keys.find({"refs": ref}))
    assert sorted(k["_id"][:2] for k in keys) == ["0:", "1:", "2:", "3:"]


def test_dedup_keys_inserted_when_new_pushed_when_stored(make_store, mongo_db) -> None:
    store = make_store()
    # The same body under several URLs (the dedup pipeline would have merged
    # them; the writer keeps every reference): k1 and k2 share new keys in one
    # batch, k3 comes in a later batch, when the keys are stored.
    first = article("https://a.test/doc/k1", body="第一篇。\n正文。")
    other = article("https://a.test/doc/k4", body="另一篇，完全不同的内容。")
    for doc in (first, article("https://a.test/doc/k2", body="第一篇。\n正文。"), other):
        store.put_article_blocking(doc)
    store.flush(5)
    store.put_article_blocking(article("https://a.test/doc/k3", body="第一篇。\n正文。"))
    store.flush(5)
    for doc, urls in ((first, ["k1", "k2", "k3"]), (other, ["k4"])):
        for key, _ in dedup_key_refs(doc["url"], doc["simhash"]):
            refs = mongo_db.dedup_keys.find_one({"_id": key})["refs"]
            assert refs == [f"{doc['simhash']}|https://a.test/doc/{u}" for u in urls]


def test_dedup_key_created_meanwhile_is_pushed_not_lost(make_store, mongo_db) -> None:
    """A key another writer inserted after this batch's existence query: its references are pushed."""
    store = make_store()
    body = "并发写入的正文。"
    mine, theirs = article("https://a.test/doc/mine", body=body), article("https://a.test/doc/theirs", body=body)
    planned = [(Op(ARTICLE, mine), key, ref) for key, ref in dedup_key_refs(mine["url"], mine["simhash"])]
    their_refs = dedup_key_refs(theirs["url"], theirs["simhash"])
    mongo_db.dedup_keys.insert_one({"_id": their_refs[0][0], "refs": [their_refs[0][1]]})
    assert store.writer is not None
    store.writer._store_dedup_keys(planned, existing=set())  # as if queried before that insert
    assert mongo_db.dedup_keys.find_one({"_id": their_refs[0][0]})["refs"] == [
        their_refs[0][1], planned[0][2]]
    for _, key, ref in planned[1:]:
        assert mongo_db.dedup_keys.find_one({"_id": key})["refs"] == [ref]


def test_revision_on_changed_content_and_unchanged_keeps_it(make_store, mongo_db, stats) -> None:
    store = make_store()
    url = "https://a.test/rev/000001"
    store.put_article_blocking(article(url, "第一版正文。"))
    store.flush(5)
    first = mongo_db.articles.find_one({"_id": url})

    time.sleep(0.01)
    store.put_article_blocking(article(url, "第二版正文，改过了。"))
    store.flush(5)
    second = mongo_db.articles.find_one({"_id": url})
    assert second["revision"] == 2
    assert second["body_text"] == "第二版正文，改过了。"
    assert second["updated_at"] > first["updated_at"]
    assert second["first_seen_at"] == first["first_seen_at"]
    archived = mongo_db.article_revisions.find_one({"_id": f"{url}#r1"})
    assert archived["body_text"] == "第一版正文。" and archived["revision"] == 1
    assert archived["content_hash"] == first["content_hash"]
    assert archived["last_crawled_at"] == first["last_crawled_at"]

    time.sleep(0.01)
    store.put_article_blocking(article(url, "第二版正文，改过了。"))
    store.flush(5)
    third = mongo_db.articles.find_one({"_id": url})
    assert third["revision"] == 2 and third["updated_at"] == second["updated_at"]
    assert third["last_crawled_at"] > second["last_crawled_at"]
    assert third["published_at"] == datetime(2024, 5, 1, 8, 30, tzinfo=UTC)  # still a date
    assert mongo_db.article_revisions.count_documents({}) == 1
    assert stats.get_value("newsspider/store/inserted") == 1
    assert stats.get_value("newsspider/store/revised") == 1
    assert stats.get_value("newsspider/store/unchanged") == 1
    assert stats.get_value("newsspider/store/updated") == 2


def test_two_versions_in_one_batch(make_store, mongo_db) -> None:
    store = make_store()
    url = "https://a.test/rev/000002"
    store.put_article_blocking(article(url, "版本一"))
    store.put_article_blocking(article(url, "版本二"))
    store.flush(5)
    stored = mongo_db.articles.find_one({"_id": url})
    assert stored["revision"] == 2 and stored["body_text"] == "版本二"
    assert mongo_db.article_revisions.find_one({"_id": f"{url}#r1"})["body_text"] == "版本一"


def test_merge_lands_even_when_enqueued_before_its_article(make_store, mongo_db, stats) -> None:
    store = make_store()
    first = "https://a.test/m/000001"
    store.writer.put_blocking(Op(MERGE, {"target": first, "urls": ["https://b.test/copy"]}))
    store.flush(5)
    assert mongo_db.articles.count_documents({}) == 0  # no stub document created
    store.put_article_blocking(article(first))
    store.writer.put_blocking(Op(MERGE, {"target": first, "urls": ["https://c.test/x", "https://b.test/copy"]}))
    store.flush(5)
    stored = mongo_db.articles.find_one({"_id": first})
    assert sorted(stored["alternate_urls"]) == ["https://b.test/copy", "https://c.test/x"]
    assert stats.get_value("newsspider/store/merged") == 2
    # A re-crawl of the first article keeps its merged URLs.
    store.put_article_blocking(article(first))
    store.flush(5)
    assert len(mongo_db.articles.find_one({"_id": first})["alternate_urls"]) == 2


def test_updated_at_moves_only_when_the_article_changes(make_store, mongo_db, stats) -> None:
    """New, revised, another field changed, a new alternate URL: updated_at moves; else it stays."""
    store = make_store()
    url = "https://a.test/upd/000001"

    def write(*ops: Op) -> dict:
        time.sleep(0.005)  # a later millisecond than the previous write
        for op in ops:
            store.writer.put_blocking(op)
        assert store.flush(5)
        return mongo_db.articles.find_one({"_id": url})

    new = write(Op(ARTICLE, article(url, "第一版。", raw_body_html="<div>阅读 1</div>")))
    # Re-crawled as stored: only what depends on the fetch differs.
    same = write(Op(ARTICLE, article(url, "第一版。", raw_body_html="<div>阅读 2</div>",
                                     fetched_url=url + "?from=rss")))
    assert same["updated_at"] == new["updated_at"] and same["last_crawled_at"] > new["last_crawled_at"]
    assert same["raw_body_html"] == "<div>阅读 2</div>"  # stored all the same
    retitled = write(Op(ARTICLE, article(url, "第一版。", title="改过的标题")))
    assert retitled["updated_at"] > same["updated_at"] and retitled["revision"] == 1
    revised = write(Op(ARTICLE, article(url, "第二版。", title="改过的标题")))
    assert revised["updated_at"] > retitled["updated_at"] and revised["revision"] == 2
    merged = write(Op(MERGE, {"target": url, "urls": ["https://b.test/copy"]}))
    assert isinstance(merged["updated_at"], datetime)  # a date on nx-27017 too (not a string)
    assert merged["updated_at"] > revised["updated_at"]
    again = write(Op(MERGE, {"target": url, "urls": ["https://b.test/copy"]}),
                  Op(ARTICLE, article(url, "第二版。", title="改过的标题")))
    assert again["updated_at"] == merged["updated_at"]
    assert again["alternate_urls"] == ["https://b.test/copy"]
    for name, value in (("inserted", 1), ("unchanged", 2), ("changed", 1), ("revised", 1),
                        ("merged", 2), ("updated", 4)):
        assert stats.get_value(f"newsspider/store/{name}") == value, name


def test_changed_fields_compares_as_stored() -> None:
    from newsspider.store.writer import changed_fields

    at = datetime(2024, 5, 1, 8, 30, 0, 123456, tzinfo=UTC)
    stored = {"_id": "u", "published_at": at.replace(microsecond=123000), "categories": ["a"],
              "images": [{"url": "https://i/1", "src": "1"}], "author": None,
              "last_crawled_at": at, "raw_body_html": "<p>1</p>"}
    crawled = {"_id": "u", "published_at": at.replace(tzinfo=None), "categories": ("a",),
               "images": [{"url": "https://i/1", "src": "1"}],
               "last_crawled_at": at + timedelta(days=1), "raw_body_html": "<p>2</p>"}
    assert changed_fields(stored, crawled) == []  # ms, naive UTC, tuples, a missing None
    assert changed_fields(stored, dict(crawled, categories=["a", "b"], title="t")) == [
        "categories", "title"]


def test_a_merge_and_a_recrawl_in_one_batch_keep_the_merge_change(make_store, mongo_db) -> None:
    store = make_store()
    url = "https://a.test/upd/000002"
    store.put_article_blocking(article(url, "正文。"))
    assert store.flush(5)
    before = mongo_db.articles.find_one({"_id": url})["updated_at"]
    time.sleep(0.005)
    store.writer.put_blocking(Op(MERGE, {"target": url, "urls": ["https://b.test/dup"]}))
    store.put_article_blocking(article(url, "正文。"))  # replaces the document after the merge
    assert store.flush(5)
    after = mongo_db.articles.find_one({"_id": url})
    assert after["alternate_urls"] == ["https://b.test/dup"] and after["updated_at"] > before


def test_updated_at_is_the_write_time_of_a_late_write(make_store, mongo_db) -> None:
    """A write produced long ago (replayed from the journal) is a change now, not then."""
    store = make_store()
    url = "https://a.test/upd/000003"
    crawled = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    store.writer.put_blocking(Op(ARTICLE, article(url, "迟到的正文。"), at=crawled))
    assert store.flush(5)
    stored = mongo_db.articles.find_one({"_id": url})
    assert stored["first_seen_at"] == stored["last_crawled_at"] == crawled
    assert datetime.now(UTC) - stored["updated_at"] < timedelta(seconds=30)


def test_rejects_are_upserted_per_portal_and_url(make_store, mongo_db, stats) -> None:
    store = make_store()
    at = datetime(2024, 1, 2, tzinfo=UTC)
    item = {"url": "https://a.test/bad", "published_at": at, "title": "", "raw": b"\xe4\xb8\xad"}
    for message in ("title is empty", "still empty"):
        store.writer.put_blocking(Op(REJECT, {
            "url": "https://a.test/bad", "portal": "ofweek",
            "errors": [{"field": "title", "message": message}], "item": item,
        }))
        store.flush(5)
    assert mongo_db.rejects.count_documents({}) == 1
    reject = mongo_db.rejects.find_one({"_id": "ofweek:https://a.test/bad"})
    assert reject["errors"] == [{"field": "title", "message": "still empty"}]
    assert reject["portal"] == "ofweek" and reject["url"] == "https://a.test/bad"
    assert isinstance(reject["at"], datetime)
    assert stats.get_value("newsspider/store/rejects") == 2


def test_a_reject_for_the_reason_already_recorded_is_a_repeat(make_store, mongo_db, stats) -> None:
    """Same URL, same reason (the first error's top-level field) as the stored reject: a repeat."""
    store = make_store()
    url, key = "https://a.test/broken", "ofweek:https://a.test/broken"
    first = datetime(2024, 1, 2, 8, 0, tzinfo=UTC)

    def reject(field: str, message: str, at: datetime) -> dict[str, Any]:
        store.writer.put_blocking(Op(REJECT, {
            "url": url, "portal": "ofweek", "errors": [{"field": field, "message": message}],
            "item": {"url": url}, "at": at,
        }))
        assert store.flush(5)
        return mongo_db.rejects.find_one({"_id": key})

    stored = reject("fetch", "HTTP 500 from " + url, first)
    assert (stored["repeated"], stored["first_at"]) == (0, first)
    assert stats.get_value("newsspider/store/rejects_repeated") is None
    stored = reject("fetch", "HTTP 500 from " + url, first + timedelta(hours=1))
    assert (stored["repeated"], stored["first_at"]) == (1, first)
    stored = reject("fetch.timeout", "no answer", first + timedelta(hours=2))  # still "fetch"
    assert (stored["repeated"], stored["first_at"]) == (2, first)
    assert stats.get_value("newsspider/store/rejects_repeated") == 2
    # Another reason is a new reject, not a repeat.
    later = first + timedelta(hours=3)
    stored = reject("body_html", "the article has no body HTML", later)
    assert (stored["repeated"], stored["first_at"], stored["reason"]) == (0, later, "body_html")
    assert stats.get_value("newsspider/store/rejects_repeated") == 2
    # Two in one batch: the second repeats the first.
    for hours in (4, 5):
        store.writer.put_blocking(Op(REJECT, {
            "url": url, "portal": "ofweek", "errors": [{"field": "body_html", "message": "empty"}],
            "item": {}, "at": first + timedelta(hours=hours)}))
    assert store.flush(5)
    assert mongo_db.rejects.find_one({"_id": key})["repeated"] == 2
    assert stats.get_value("newsspider/store/rejects_repeated") == 4
    assert stats.get_value("newsspider/store/rejects") == 6
    # Another portal's reject of the same URL is its own document.
    store.writer.put_blocking(Op(REJECT, {"url": url, "portal": "zaker",
                                          "errors": [{"field": "body_html", "message": "x"}]}))
    assert store.flush(5)
    assert mongo_db.rejects.find_one({"_id": "zaker:" + url})["repeated"] == 0


def test_a_retried_batch_finding_its_own_reject_does_not_count_it_again() -> None:
    from newsspider.store.writer import _repeat_reject

    at = datetime(2024, 1, 2, 8, 0, 0, 123456, tzinfo=UTC)
    new = {"at": at, "reason": "fetch"}
    # The first attempt's write landed (at stored to the millisecond), the batch is written again.
    landed = {"at": at.replace(microsecond=123000), "reason": "fetch", "repeated": 0, "first_at": at}
    assert not _repeat_reject(new, landed) and new["repeated"] == 0
    landed_repeat = dict(landed, repeated=3, first_at=datetime(2024, 1, 1, tzinfo=UTC))
    assert _repeat_reject(new, landed_repeat)
    assert new["repeated"] == 3 and new["first_at"] == datetime(2024, 1, 1, tzinfo=UTC)
    # A reject stored before these fields existed: its reason from its errors, first_at its at.
    old = {"at": datetime(2023, 12, 1, tzinfo=UTC), "errors": [{"field": "fetch", "message": "HTTP 500"}]}
    assert _repeat_reject(new, old) and new["repeated"] == 1
    assert new["first_at"] == datetime(2023, 12, 1, tzinfo=UTC)


def test_reject_doc_makes_the_item_json_safe() -> None:
    from newsspider.store.store import reject_doc


    doc = reject_doc("u", "p", [{"field": "f", "message": "m"}],
                     {"when": datetime(2024, 1, 2, tzinfo=UTC), "raw": b"\xe4\xb8\xad", "n": {1, 2}})
    assert doc["item"] == {"when": "2024-01-02T00:00:00+00:00", "raw": "中", "n": [1, 2]}


def test_a_refused_document_is_dropped_alone(make_store, mongo_db, stats) -> None:
    store = make_store()
    store.put_article_blocking(article("https://a.test/ok/000001", "好的一"))
    store.put_article_blocking(article("https://a.test/bad/00001", "坏的", images=[object()]))
    store.put_article_blocking(article("https://a.test/ok/000002", "好的二"))
    store.flush(5)
    assert sorted(d["_id"] for d in mongo_db.articles.find({}, {"_id": 1})) == [
        "https://a.test/ok/000001", "https://a.test/ok/000002"]
    assert stats.get_value("newsspider/store/write_errors") == 1


def test_known_ids_batches(make_store, mongo_db) -> None:
    store = make_store(batch_size=500)
    urls = [f"https://a.test/k/{i:06d}" for i in range(1200)]
    for i, url in enumerate(urls[::2]):
        store.put_article_blocking(article(url, f"正文 {i}"))
    store.flush(10)
    asked = urls + ["https://elsewhere.test/"]
    assert store.known_ids_blocking(asked) == set(urls[::2])


def test_known_articles_gives_the_revisit_timestamps_and_marks_aliases(make_store, mongo_db) -> None:
    store = make_store()
    seen = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    crawled = seen + timedelta(hours=5)
    url, copy = "https://a.test/kn/000001", "https://a.test/kn/copy01"
    store.writer.put_blocking(Op(ARTICLE, article(url, "第一次。"), at=seen))
    store.writer.put_blocking(Op(MERGE, {"target": url, "urls": [copy]}))
    assert store.flush(5)
    store.writer.put_blocking(Op(ARTICLE, article(url, "第一次。"), at=crawled))  # unchanged re-crawl
    assert store.flush(5)
    known = store.known_articles_blocking([url, copy, "https://a.test/kn/unknown"])
    assert set(known) == {url, copy}
    assert (known[url].first_seen_at, known[url].last_crawled_at, known[url].alias) == (
        seen, crawled, False)
    assert known[copy].alias
    assert store.known_ids_blocking([url, copy, "https://a.test/kn/unknown"]) == {url, copy}


def test_indexes_exist(make_store, mongo_db) -> None:
    make_store()
    def indexed(collection: Any) -> set[str]:
        return {next(iter(v["key"]))[0] for v in collection.index_information().values()}

    assert {"published_at", "portal", "content_hash", "simhash", "first_seen_at",
            "updated_at"} <= indexed(mongo_db.articles)
    assert {"portal", "at"} <= indexed(mongo_db.rejects)
    assert {"portal", "started_at"} <= indexed(mongo_db.runs)
    before = {name: len(mongo_db[name].index_information()) for name in ("articles", "rejects", "runs")}
    make_store()  # a second open of the same database creates none again
    assert {name: len(mongo_db[name].index_information()) for name in before} == before


def test_open_close_are_counted(make_store) -> None:
    store = make_store()
    store.open()  # a second component
    store.close()
    assert store.is_open
    store.close()
    assert not store.is_open


def test_redact_uri() -> None:
    assert redact_uri("mongodb://u:s3cret@h:27017/db?authSource=admin") == (
        "mongodb://REDACTED@h:27017/db?authSource=admin")
    assert "s3cret" not in redact_uri("mongodb+srv://h/?tlsCertificateKeyFilePassword=s3cret")
    assert redact_uri("mongodb://127.0.0.1:1234") == "mongodb://127.0.0.1:1234"


def test_embedded_store_started_when_no_uri(tmp_path: Path, caplog) -> None:
    caplog.set_level("INFO")
    store = Store(uri="", database="emb", data_dir=tmp_path)
    store.open()
    try:
        assert store.embedded is not None and store.uri.startswith("mongodb://127.0.0.1:")
        store.put_article_blocking(article("https://a.test/e/000001"))
        assert store.flush(5)
        assert store.known_ids_blocking(["https://a.test/e/000001"]) == {"https://a.test/e/000001"}
    finally:
        store.close()
    assert store.embedded is None
    assert (tmp_path / "store" / "emb.db").exists()
    assert "embedded store started" in caplog.text


class _Commands(monitoring.CommandListener):
    """Every command a client sends (pymongo's own monitoring hook)."""

    def __init__(self) -> None:
        self.seen: list[monitoring.CommandStartedEvent] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.seen.append(event)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def key_queries(self) -> list[dict[str, Any]]:
        return [e.command for e in self.seen if e.command_name == "find" and e.command.get("find") == "dedup_keys"]


@pytest.fixture
def watched_writer(mongo_uri: str, mongo_db_name: str, tmp_path: Path):
    """A writer (batches of 2) whose client records its commands."""
    listener = _Commands()
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True, event_listeners=[listener])
    writer = StoreWriter(client[mongo_db_name], Journal(tmp_path / "journal"), batch_size=2, flush_seconds=60)
    writer.start()
    yield writer, listener
    writer.close(5)
    client.close()


def _refs(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return dedup_key_refs(doc["url"], doc["simhash"])


def test_keys_on_a_fresh_store_are_written_without_existence_queries(watched_writer, mongo_db) -> None:
    writer, listener = watched_writer
    same = "第一篇。\n正文。"
    first, other, later = (article("https://a.test/doc/f1", body=same),
                           article("https://a.test/doc/f2", body="另一篇，完全不同的内容。"),
                           article("https://a.test/doc/f3", body=same))
    for doc in (first, other):  # one batch
        writer.put_blocking(Op(ARTICLE, doc))
    assert writer.flush(5)
    writer.put_blocking(Op(ARTICLE, later))  # a later batch: its keys exist, written by this writer
    assert writer.flush(5)
    # One look at whether dedup_keys is empty, no per-key existence query after it.
    assert listener.key_queries() == [
        q for q in listener.key_queries() if q.get("filter") == {} and q.get("limit") == 1]
    assert len(listener.key_queries()) == 1
    for (key, ref), (_, later_ref) in zip(_refs(first), _refs(later), strict=True):
        assert mongo_db.dedup_keys.find_one({"_id": key})["refs"] == [ref, later_ref]
    for key, ref in _refs(other):
        assert mongo_db.dedup_keys.find_one({"_id": key})["refs"] == [ref]


def test_a_key_another_writer_adds_to_a_fresh_store_is_pushed_to(watched_writer, mongo_db) -> None:
    writer, _ = watched_writer
    writer.put_blocking(Op(ARTICLE, article("https://a.test/doc/g0", body="先写的一篇。")))
    assert writer.flush(5)  # the store was empty at this writer's first keys
    body = "两个进程同时写入的正文。"
    theirs, mine = article("https://a.test/doc/theirs", body=body), article("https://a.test/doc/mine", body=body)
    their_key, their_ref = _refs(theirs)[0]
    mongo_db.dedup_keys.insert_one({"_id": their_key, "refs": [their_ref]})  # a scale-out peer
    writer.put_blocking(Op(ARTICLE, mine))
    assert writer.flush(5)
    assert mongo_db.dedup_keys.find_one({"_id": their_key})["refs"] == [their_ref, _refs(mine)[0][1]]
    for key, ref in _refs(mine)[1:]:
        assert mongo_db.dedup_keys.find_one({"_id": key})["refs"] == [ref]
    assert writer.stats is None or not writer.stats.get_value("newsspider/store/write_errors")


def test_keys_stored_before_this_writer_are_looked_up_and_pushed_to(watched_writer, mongo_db) -> None:
    writer, listener = watched_writer
    old, new = article("https://a.test/doc/old", body="去年的正文。"), article("https://a.test/doc/new", body="去年的正文。")
    key, old_ref = _refs(old)[0]
    mongo_db.dedup_keys.insert_one({"_id": key, "refs": [old_ref]})  # an earlier run's key
    writer.put_blocking(Op(ARTICLE, new))
    assert writer.flush(5)
    asked = [q for q in listener.key_queries() if q.get("filter") != {}]
    assert asked and key in asked[0]["filter"]["_id"]["$in"]  # not fresh: unknown keys are queried
    assert mongo_db.dedup_keys.find_one({"_id": key})["refs"] == [old_ref, _refs(new)[0][1]]
    # A later copy: its keys are looked up again (no memory of what this writer wrote) and pushed to.
    asked_before = len(listener.key_queries())
    newer = article("https://a.test/doc/newer", body="去年的正文。")
    writer.put_blocking(Op(ARTICLE, newer))
    assert writer.flush(5)
    assert len(listener.key_queries()) == asked_before + 1
    assert mongo_db.dedup_keys.find_one({"_id": key})["refs"] == [old_ref, _refs(new)[0][1], _refs(newer)[0][1]]
