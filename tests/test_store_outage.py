"""Store outages (issue 9 §3): kill nx-27017 mid-writes, bring it back, lose nothing.

Each test runs its own nx-27017 (not the session one) so it can kill it.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from scrapy.utils.test import get_crawler

from newsspider.normalize.text import simhash64
from newsspider.store.embedded import EmbeddedStore
from newsspider.store.store import Store
from newsspider.store.writer import MERGE, Op


def article(url: str, body: str) -> dict[str, Any]:
    return {
        "_id": url, "url": url, "fetched_url": url, "portal": "ofweek", "site_name": "站",
        "channel": "新闻", "categories": ["新闻"], "title": "标题", "author": None,
        "published_at": datetime(2024, 5, 1, 8, 30, tzinfo=UTC), "published_raw": "2024-05-01",
        "body_html": f"<p>{body}</p>", "body_text": body, "summary": None, "lead_image": None,
        "images": [], "language": "zh",
        "content_hash": hashlib.sha256(body.encode()).hexdigest(), "simhash": simhash64(body),
    }


@pytest.fixture
def stats():
    crawler = get_crawler()
    crawler.stats.open_spider()
    return crawler.stats


def outage_store(uri: str, data_dir: Path, stats: Any, **kw: Any) -> Store:
    options: dict[str, Any] = {
        "batch_size": 50, "flush_seconds": 0.2, "queue_size": 50, "max_pending": 100,
        "server_timeout": 0.5, "retry_max_delay": 0.5, "close_timeout": 20.0,
    }
    options.update(kw)
    return Store(uri=uri, database="outage", data_dir=data_dir, stats=stats, **options)


# Killed mid-batch with batch transactions, the uncommitted batch is rolled back by
# the server: the writer must still hold it (ops leave the queue after the commit).
WRITE_MODES = pytest.mark.parametrize(
    "batch_transactions", [False, True], ids=["autocommit", "batch-transactions"])


@WRITE_MODES
def test_kill_and_restart_mid_writes_loses_nothing(
    tmp_path: Path, stats: Any, batch_transactions: bool,
) -> None:
    server = EmbeddedStore(tmp_path / "nx")
    uri = server.start()
    store = outage_store(uri, tmp_path / "data", stats, batch_transactions=batch_transactions)
    store.open()
    total = 1200
    try:
        for i in range(total):
            store.put_article_blocking(article(f"https://a.test/o/{i:06d}", f"正文 {i} " * 5))
            if i == 300:
                server.kill()
                killed_at = time.monotonic()
            if i == 800:
                # Down for a few seconds, then back on the same port and data directory.
                time.sleep(max(0.0, 2.5 - (time.monotonic() - killed_at)))
                server = EmbeddedStore(tmp_path / "nx", port=server.port)
                server.start()
        store.close()
        assert store.journaled == 0

        client: MongoClient = MongoClient(uri, tz_aware=True)
        try:
            articles = client.outage.articles
            ids = [d["_id"] for d in articles.find({}, {"_id": 1})]
            assert len(ids) == len(set(ids)) == total
            assert articles.count_documents({"revision": 1}) == total  # no false revisions
            assert client.outage.article_revisions.count_documents({}) == 0
            stored = articles.find_one({"_id": "https://a.test/o/000500"})
            assert isinstance(stored["published_at"], datetime)
        finally:
            client.close()
        assert stats.get_value("newsspider/store/retries", 0) > 0
        spilled = stats.get_value("newsspider/store/spilled", 0)
        assert spilled > 0  # more than max_pending items arrived while it was down
        assert stats.get_value("newsspider/store/replayed") == spilled
        assert not list((tmp_path / "data" / "journal" / "outage").glob("*.jsonl"))
    finally:
        server.stop()


@WRITE_MODES
def test_never_comes_back_journal_then_replay_at_next_open(
    tmp_path: Path, stats: Any, caplog: pytest.LogCaptureFixture, batch_transactions: bool,
) -> None:
    server = EmbeddedStore(tmp_path / "nx")
    uri = server.start()
    try:
        store = outage_store(uri, tmp_path / "data", stats, close_timeout=1.5,
                             batch_transactions=batch_transactions)
        store.open()
        for i in range(30):
            store.put_article_blocking(article(f"https://a.test/j/{i:06d}", f"第一次 {i}"))
        assert store.flush(10)
        server.kill()
        for i in range(30, 70):
            store.put_article_blocking(article(f"https://a.test/j/{i:06d}", f"第一次 {i}"))
        # A new version of a stored article and a duplicate merge, also while down.
        store.put_article_blocking(article("https://a.test/j/000000", "改过的正文"))
        store.writer.put_blocking(Op(MERGE, {"target": "https://a.test/j/000001",
                                             "urls": ["https://copy.test/1"]}))
        started = time.monotonic()
        caplog.set_level("ERROR")
        store.close()
        assert time.monotonic() - started < 10
        assert store.journaled == 42
        assert stats.get_value("newsspider/store/journaled") == 42
        journal_dir = tmp_path / "data" / "journal" / "outage"
        assert str(journal_dir) in caplog.text and "42 writes are journaled" in caplog.text
        files = list(journal_dir.glob("*.jsonl"))
        assert files
        line = json.loads(files[0].read_text(encoding="utf-8").splitlines()[0])
        assert line["doc"]["published_at"] == {"$date": "2024-05-01T08:30:00Z"}

        # The next run: the store is back; opening replays the journal first.
        server = EmbeddedStore(tmp_path / "nx", port=server.port)
        server.start()
        stats2 = get_crawler().stats
        stats2.open_spider()
        again = outage_store(uri, tmp_path / "data", stats2, batch_transactions=batch_transactions)
        again.open()
        assert again.flush(10)
        again.close()
        assert again.journaled == 0
        assert stats2.get_value("newsspider/store/replayed") == 42
        assert not list(journal_dir.glob("*.jsonl"))
        client: MongoClient = MongoClient(uri, tz_aware=True)
        try:
            articles = client.outage.articles
            assert articles.count_documents({}) == 70
            revised = articles.find_one({"_id": "https://a.test/j/000000"})
            assert revised["revision"] == 2 and revised["body_text"] == "改过的正文"
            assert articles.find_one({"_id": "https://a.test/j/000001"})["alternate_urls"] == [
                "https://copy.test/1"]
            assert isinstance(articles.find_one({"_id": "https://a.test/j/000069"})["last_crawled_at"],
                              datetime)
        finally:
            client.close()
    finally:
        server.stop()


def test_open_fails_fast_when_the_store_is_not_there(tmp_path: Path) -> None:
    from newsspider.store.embedded import free_port
    from newsspider.store.store import StoreUnavailable

    store = Store(uri=f"mongodb://u:pw@127.0.0.1:{free_port()}", data_dir=tmp_path, start_timeout=0.5)
    with pytest.raises(StoreUnavailable) as excinfo:
        store.open()
    assert "pw" not in str(excinfo.value) and "REDACTED" in str(excinfo.value)
    assert not store.is_open
