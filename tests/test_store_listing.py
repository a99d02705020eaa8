"""The dashboard's listing keys (newsspider.store.listing): tokens, rows, and the writer keeping them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from newsspider.store import listing
from newsspider.store.listing import (
    ARTICLE_KEYS,
    COMPLETE,
    article_rows,
    query_terms,
    reindex,
    row_changes,
    split_key,
    title_matches,
    title_terms,
)
from newsspider.store.store import Store
from newsspider.store.writer import REJECT, Op
from tests.test_store_writer import article, make_store, stats  # noqa: F401 - fixtures

# -- tokens -------------------------------------------------------------------------


@pytest.mark.parametrize(("title", "terms"), [
    ("华为发布Mate 70", ["华为", "为发", "发布", "mate", "70"]),
    ("一周国内及国际光伏行业资讯", ["一周", "周国", "国内", "内及", "及国", "国际", "际光", "光伏",
                                   "伏行", "行业", "业资", "资讯"]),
    ("ＡＩ芯片：iPhone 15", ["ai", "芯片", "iphone", "15"]),  # full-width folded by NFKC
    ("云", ["云"]),  # a lone CJK character is its own token
    ("Ünïcode—and_snake", ["ünïcode", "and", "snake"]),
    ("  ", []),
])
def test_title_terms(title: str, terms: list[str]) -> None:
    assert title_terms(title) == terms


def test_title_terms_are_capped_and_unique() -> None:
    title = "".join(chr(0x4E00 + i) for i in range(200)) + " 重复 重复"
    terms = title_terms(title)
    assert len(terms) == listing.MAX_TITLE_TERMS
    assert len(set(terms)) == len(terms)


def test_query_terms_drop_lone_cjk_characters_the_words_still_check() -> None:
    assert query_terms("光") == []
    assert query_terms("5G 光") == ["5g"]
    assert title_matches("5G光伏新品", ["5g", "光"])
    assert not title_matches("5G 新品", ["5g", "光"])
    assert title_matches("ＡＩ芯片", ["ai芯片"])


# -- rows -----------------------------------------------------------------------------


def test_article_rows_sort_like_their_dates() -> None:
    old = article("https://a.test/1", published_at=datetime(2024, 5, 1, 8, 30, tzinfo=UTC),
                  first_seen_at=datetime(2024, 6, 1, tzinfo=UTC), title="光伏新品")
    new = article("https://a.test/2", published_at=datetime(2024, 5, 2, 0, 0, tzinfo=UTC),
                  first_seen_at=datetime(2024, 6, 1, 0, 0, 1, tzinfo=UTC), title="光伏新品")
    old_rows, new_rows = article_rows(old), article_rows(new)
    terms = sorted({split_key(k)[0] for k in old_rows})
    assert terms == ["*", "+", "+@ofweek", "@ofweek", "t:伏新", "t:光伏", "t:新品"]
    for term in terms:
        (a,) = [k for k in old_rows if split_key(k)[0] == term]
        (b,) = [k for k in new_rows if split_key(k)[0] == term]
        assert a < b, term
    star = old_rows[next(k for k in old_rows if k.startswith("*"))]
    assert star["_id"] == star["k"] and star["p"] == "ofweek" and star["t"] == "光伏新品"
    for key, row in old_rows.items():
        assert split_key(key)[2] == "https://a.test/1"
        assert row == star or row == {"_id": key, "k": key}  # only the * row carries more
        if not key.startswith("+"):  # the rows by publication date
            assert listing.title_row_id(key) == star["_id"]


def test_row_changes() -> None:
    before = article_rows(article("https://a.test/1", title="光伏新品",
                                  first_seen_at=datetime(2024, 6, 1, tzinfo=UTC)))
    after = article_rows(article("https://a.test/1", title="光伏旧品",
                                 first_seen_at=datetime(2024, 6, 1, tzinfo=UTC)))
    assert row_changes({}, after) == (list(after.values()), [], [])
    assert row_changes(after, after) == ([], [], [])
    inserts, upserts, deletes = row_changes(before, after)
    assert inserts == [] and upserts == list(after.values())
    assert sorted(split_key(k)[0] for k in deletes) == ["t:伏新", "t:新品"]


# -- the writer keeps them ------------------------------------------------------------


def _rows(db: Any, url: str) -> list[str]:
    return [d["k"] for d in db[ARTICLE_KEYS].find({"k": {"$gt": ""}}) if split_key(d["k"])[2] == url]


def _terms(db: Any, url: str) -> set[str]:
    return {split_key(k)[0] for k in _rows(db, url)}


def test_writer_writes_and_updates_article_rows(make_store, mongo_db) -> None:  # noqa: F811
    store = make_store()
    url = "https://a.test/news/000001"
    store.put_article_blocking(article(url, title="光伏新品发布"))
    store.put_article_blocking(article("https://a.test/news/000002", title="别的"))
    assert store.flush(30)
    assert _terms(mongo_db, url) == {"*", "@ofweek", "+", "+@ofweek", "t:光伏", "t:伏新",
                                     "t:新品", "t:品发", "t:发布"}
    assert mongo_db[ARTICLE_KEYS].find_one({"_id": COMPLETE}) is not None  # opened on empty
    count = mongo_db[ARTICLE_KEYS].count_documents({})
    # Unchanged re-crawl: no row written or removed.
    store.put_article_blocking(article(url, title="光伏新品发布"))
    assert store.flush(30)
    assert mongo_db[ARTICLE_KEYS].count_documents({}) == count
    # The title and the date change: the old tokens go, the new ones come, keys follow the date.
    later = datetime(2024, 7, 1, 1, 2, 3, tzinfo=UTC)
    store.put_article_blocking(article(url, title="光伏旧品", published_at=later))
    assert store.flush(30)
    assert _terms(mongo_db, url) == {"*", "@ofweek", "+", "+@ofweek", "t:光伏", "t:伏旧", "t:旧品"}
    stars = [k for k in _rows(mongo_db, url) if split_key(k)[0] == "*"]
    assert stars == [f"*\x1f2024-07-01T01:02:03Z\x1f{url}"]
    assert mongo_db.articles.find_one({"_id": url})["title"] == "光伏旧品"
    assert mongo_db[ARTICLE_KEYS].find_one({"_id": stars[0]})["t"] == "光伏旧品"


def test_writer_keys_runs_and_rejects(make_store, mongo_db) -> None:  # noqa: F811
    store = make_store()
    started = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    store.put_run_blocking({"_id": "r1", "portal": "ofweek", "started_at": started,
                            "finished_at": started, "finish_reason": "finished", "stats": {},
                            "checks": {"passed": ["min_items"],
                                       "failed": [{"name": "coverage", "message": "author 0.1"}]}})
    store.put_run_blocking({"_id": "r2", "portal": "ofweek", "started_at": started,
                            "finished_at": started, "finish_reason": "shutdown", "stats": {}})
    store.writer.put_blocking(Op(REJECT, {"url": "https://a.test/x", "portal": "ofweek",
                                          "errors": [{"field": "title.0", "message": "empty"}],
                                          "item": {}}))
    assert store.flush(30)
    r1, r2 = mongo_db.runs.find_one({"_id": "r1"}), mongo_db.runs.find_one({"_id": "r2"})
    assert r1["list_key"] == "r:2024-05-01T08:00:00Z\x1fr1" and r1["status"] == "failed"
    assert r2["status"] == "failed"  # no checks, and not a healthy finish
    reject = mongo_db.rejects.find_one()
    assert reject["reason"] == "title"
    assert reject["list_key"].startswith("j:")
    assert reject["list_key"].endswith("\x1fofweek:https://a.test/x")


def test_reindex_builds_keys_for_documents_stored_before_them(
        mongo_uri: str, mongo_db_name: str, mongo_db, tmp_path: Path) -> None:
    # Documents as an older newsspider wrote them: no rows, no list_key, no marker.
    docs = [article(f"https://a.test/old/{i}", title=f"旧文章 {i}",
                    first_seen_at=datetime(2024, 1, 1, tzinfo=UTC)) for i in range(7)]
    mongo_db.articles.insert_many(docs)
    mongo_db.runs.insert_one({"_id": "old", "portal": "ofweek", "finish_reason": "finished",
                              "started_at": datetime(2024, 1, 1, tzinfo=UTC),
                              "checks": {"passed": True, "failed": []}})
    mongo_db.rejects.insert_one({"_id": "ofweek:u", "url": "u", "portal": "ofweek",
                                 "errors": [{"field": "fetch", "message": "HTTP 500"}],
                                 "at": datetime(2024, 1, 1, tzinfo=UTC)})
    store = Store(uri=mongo_uri, database=mongo_db_name, data_dir=tmp_path)
    store.open()  # articles exist: the store does not claim they have their rows
    store.close()
    assert mongo_db[ARTICLE_KEYS].find_one({"_id": COMPLETE}) is None
    counts = reindex(mongo_db, batch=3)
    assert counts["articles"] == 7 and counts["runs"] == 1 and counts["rejects"] == 1
    assert counts["rows"] == sum(len(article_rows(d)) for d in docs)
    assert mongo_db[ARTICLE_KEYS].find_one({"_id": COMPLETE}) is not None
    assert mongo_db.runs.find_one()["status"] == "ok"
    assert mongo_db.rejects.find_one()["reason"] == "fetch"
    assert reindex(mongo_db)["runs"] == 0  # idempotent: nothing left to key
