"""Issue 9's "done when", checked as a user would: ``scrapy crawl`` subprocesses, real HTTP, real store.

1. On an unseen replica whose first fetch of a quarter of the pages fails (500,
   cut short, slow), every article is stored.
2. After a SIGKILL mid-crawl, the same command run again ends with every
   article stored exactly once, and no article page is fetched a third time.
3. A 10-second store outage mid-crawl (nx-27017 killed, restarted on the same
   port and data directory) loses nothing.
"""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

from pymongo import MongoClient

from newsspider.replica.faults import FaultPlan
from newsspider.replica.model import Scenario
from newsspider.replica.server import ReplicaServer
from newsspider.store.embedded import EmbeddedStore
from tests.conftest import scrapy_crawl
from tests.faultkit import (
    LIVE_STORE,
    QUICK_RETRY,
    article_hits,
    spawn_crawl,
    storable_urls,
    tail,
    wait_for,
)


def _assert_each_stored_once(db, replica) -> None:
    want = storable_urls(replica)
    ids = [d["_id"] for d in db.articles.find({}, {"_id": 1})]
    assert len(ids) == len(set(ids))
    assert set(ids) == want, (
        f"missing {sorted(want - set(ids))[:5]}, unexpected {sorted(set(ids) - want)[:5]}"
    )
    # Exactly once also means: nothing stored twice under another URL, no false revisions.
    assert db.articles.count_documents({"revision": {"$ne": 1}}) == 0
    assert db.articles.count_documents({"alternate_urls.0": {"$exists": True}}) == 0


def test_quarter_of_first_fetches_fail_every_article_stored(mongo_uri, mongo_db, tmp_path) -> None:
    # "Unseen": a generated scenario and fault seed no other test uses.
    plan = FaultPlan(0.25, kinds=("500", "cut", "slow"), seed=20240917, slow_seconds=3.0)
    with ReplicaServer(scenario=Scenario.generated(60, per_page=20, seed=917), faults=plan) as rep:
        code, _out, err = scrapy_crawl(
            mongo_uri, mongo_db.name, tmp_path / "data", "ofweek",
            f"start_url={rep.listing_url}", "max_pages=10",
            # A slow page outlives the timeout once, then answers on the retry.
            settings={"DOWNLOAD_TIMEOUT": "1", **QUICK_RETRY},
        )
        assert code == 0, err[-3000:]
        served = rep.faults_served
        # The plan really failed a quarter of the fetched pages, with every kind.
        pages = rep.scenario.n_listing_pages + sum(s.n_pages for s in rep.scenario.listed_articles)
        assert 0.15 * pages <= sum(served.values()) <= 0.35 * pages, served
        assert set(served) == {"500", "cut", "slow"}, served
        _assert_each_stored_once(mongo_db, rep)
        assert mongo_db.rejects.count_documents({}) == 0
        # Each faulty page cost exactly one retry; nothing was fetched more than twice.
        hits = article_hits(rep)
        assert max(hits.values()) <= 2
        for path, _kind in rep.fault_log:
            assert rep.hits[path] == 2, path
    run = mongo_db.runs.find_one({})
    stats = run["stats"]
    assert stats["retry/count"] == sum(served.values())
    assert stats["retry/reason_count/500 Internal Server Error"] == served["500"]
    assert stats["retry/reason_count/scrapy_exceptions_ResponseDataLossError"] == served["cut"]
    assert stats["retry/reason_count/scrapy_exceptions_DownloadTimeoutError"] == served["slow"]
    assert stats.get("retry/max_reached", 0) == 0
    assert stats["newsspider/retry/backoff_count"] == sum(served.values())


def test_sigkill_mid_crawl_then_rerun_stores_each_once_and_refetches_little(
    mongo_uri, mongo_db, tmp_path,
) -> None:
    scenario = Scenario.generated(150, per_page=20, seed=4242)
    # A few slow pages keep the crawl going long enough to be killed in the middle.
    plan = FaultPlan(0.15, kinds=("slow",), seed=5, slow_seconds=0.4)
    args = ("ofweek", "max_pages=20")
    # Revisits on (the default): a run resuming a killed one does not revisit what it stored.
    settings = {**LIVE_STORE, "CONCURRENT_REQUESTS_PER_DOMAIN": "4"}
    log = tmp_path / "crawl.log"
    with ReplicaServer(scenario=scenario, faults=plan) as rep:
        start_url = f"start_url={rep.listing_url}"
        proc = spawn_crawl(mongo_uri, mongo_db.name, tmp_path / "data", log, *args[:1],
                           start_url, *args[1:], settings=settings)
        try:
            wait_for(lambda: mongo_db.articles.count_documents({}) >= 40, 90,
                     f"40 stored articles; log: {tail(log)}")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        stored_before = {d["_id"] for d in mongo_db.articles.find({}, {"_id": 1})}
        hits_before = article_hits(rep)
        total = len(storable_urls(rep))
        assert 40 <= len(stored_before) < total, "the kill must land mid-crawl"
        assert mongo_db.runs.count_documents({}) == 0  # killed: no run was recorded
        state = mongo_db.crawl_state.find_one({})
        assert state["state"] == "running"

        code, _out, err = scrapy_crawl(mongo_uri, mongo_db.name, tmp_path / "data", args[0],
                                      start_url, *args[1:], settings=settings)
        assert code == 0, err[-3000:]
        _assert_each_stored_once(mongo_db, rep)
        hits = article_hits(rep)
        assert max(hits.values()) <= 2, {p: n for p, n in hits.items() if n > 2}
        for spec in rep.scenario.listed_articles:
            if spec.url(rep.base_url) in stored_before:
                # Stored before the kill: the rerun never fetched it again.
                assert all(hits[p] == hits_before[p] for p in spec.page_paths), spec.path
    run = mongo_db.runs.find_one({})
    assert run["finish_reason"] == "finished"
    assert run["stats"]["newsspider/spider/resumed"] == 1
    assert run["stats"]["newsspider/spider/articles_known"] >= len(stored_before)
    assert mongo_db.crawl_state.find_one({})["state"] == "complete"


def test_ten_second_store_outage_mid_crawl_loses_nothing(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "nx")
    uri = store.start()
    db_name = f"outage_{uuid.uuid4().hex[:8]}"
    client: MongoClient = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=2000)
    log = tmp_path / "crawl.log"
    # Slow pages stretch the crawl over the outage: articles keep arriving while the store is away.
    plan = FaultPlan(0.5, kinds=("slow",), seed=11, slow_seconds=1.0, targets=("article",))
    settings = {
        **LIVE_STORE,
        "CONCURRENT_REQUESTS_PER_DOMAIN": "2",
        "NEWSSPIDER_STORE_SERVER_TIMEOUT": "0.5",
        "NEWSSPIDER_STORE_RETRY_MAX_DELAY": "1",
        "NEWSSPIDER_STORE_MAX_PENDING": "20",  # more than this arrives while down: some spill
    }
    try:
        with ReplicaServer(scenario=Scenario.generated(80, per_page=20, seed=77),
                           faults=plan) as rep:
            proc = spawn_crawl(uri, db_name, tmp_path / "data", log, "ofweek",
                               f"start_url={rep.listing_url}", "max_pages=10",
                               settings=settings)
            try:
                wait_for(lambda: client[db_name].articles.count_documents({}) >= 5, 60,
                         f"first stored articles; log: {tail(log)}")
                store.kill()
                down_at = time.monotonic()
                scraped_while_down = sum(article_hits(rep).values())
                time.sleep(10)
                assert proc.poll() is None, "the crawl must ride out the outage"
                assert sum(article_hits(rep).values()) > scraped_while_down + 5
                store = EmbeddedStore(tmp_path / "nx", port=store.port)
                store.start()
                assert time.monotonic() - down_at >= 10
                code = proc.wait(120)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
            assert code == 0, tail(log)
            db = client[db_name]
            _assert_each_stored_once(db, rep)
            stats = db.runs.find_one({})["stats"]
            assert stats["newsspider/store/retries"] > 0
            # Whatever spilled to the journal while it was down was replayed in the same run.
            assert stats.get("newsspider/store/replayed", 0) == stats.get("newsspider/store/spilled", 0)
            assert not list((tmp_path / "data" / "journal" / db_name).glob("*.jsonl"))
    finally:
        client.close()
        store.stop()

