"""Stopping a crawl on purpose: SIGTERM / SIGINT flush what is pending; JOBDIR pauses and resumes.

Scrapy's first SIGTERM or SIGINT closes the spider gracefully: the pipelines'
``close_spider`` runs, so the store writer's pending batch is written before
the process exits.  The batch here is made large and slow to flush on its own,
so only that final flush can have stored the articles.
"""

from __future__ import annotations

import signal

import pytest

from newsspider.exitcodes import EXIT_CHECKS
from newsspider.replica.faults import FaultPlan
from newsspider.replica.model import Scenario
from newsspider.replica.server import ReplicaServer
from tests.conftest import scrapy_crawl
from tests.faultkit import article_hits, spawn_crawl, stop, storable_urls, tail, wait_for

# Nothing reaches the store before close unless close flushes it.
HOLD_BATCH = {"NEWSSPIDER_STORE_BATCH_SIZE": "1000", "NEWSSPIDER_STORE_FLUSH_SECONDS": "600"}
SLOW = FaultPlan(0.3, kinds=("slow",), seed=3, slow_seconds=0.5, targets=("article",))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_flushes_the_pending_batch(sig, mongo_uri, mongo_db, tmp_path) -> None:
    log = tmp_path / "crawl.log"
    with ReplicaServer(scenario=Scenario.generated(100, per_page=20, seed=31), faults=SLOW) as rep:
        proc = spawn_crawl(mongo_uri, mongo_db.name, tmp_path / "data", log, "ofweek",
                           f"start_url={rep.listing_url}", "max_pages=10",
                           settings={**HOLD_BATCH, "CONCURRENT_REQUESTS_PER_DOMAIN": "2"})
        try:
            wait_for(lambda: sum(article_hits(rep).values()) >= 15, 60,
                     f"15 fetched articles; log: {tail(log)}")
            assert mongo_db.articles.count_documents({}) == 0  # all still in the batch
        finally:
            code = stop(proc, sig)
        # Stopped, not finished: the finish-reason check fails the run (newsspider/exitcodes.py).
        assert code == EXIT_CHECKS, tail(log)
        run = mongo_db.runs.find_one({})
        assert run is not None and run["finish_reason"] == "shutdown", tail(log)
        scraped = run["stats"]["item_scraped_count"]
        assert scraped >= 10
        assert mongo_db.articles.count_documents({}) == scraped
        assert scraped < len(storable_urls(rep))  # it really stopped mid-crawl
        # Stopped early: the next run must resume rather than stop at the first known page.
        assert mongo_db.crawl_state.find_one({})["state"] == "incomplete"


def test_jobdir_pause_and_resume(mongo_uri, mongo_db, tmp_path) -> None:
    log = tmp_path / "crawl.log"
    jobdir = tmp_path / "job"
    settings = {"JOBDIR": str(jobdir), "CONCURRENT_REQUESTS_PER_DOMAIN": "2",
                "NEWSSPIDER_STORE_BATCH_SIZE": "10", "NEWSSPIDER_STORE_FLUSH_SECONDS": "0.3"}
    with ReplicaServer(scenario=Scenario.generated(100, per_page=20, seed=32), faults=SLOW) as rep:
        args = (f"start_url={rep.listing_url}", "max_pages=10")
        proc = spawn_crawl(mongo_uri, mongo_db.name, tmp_path / "data", log, "ofweek", *args,
                           settings=settings)
        try:
            wait_for(lambda: sum(article_hits(rep).values()) >= 20, 60,
                     f"20 fetched articles; log: {tail(log)}")
        finally:
            code = stop(proc, signal.SIGINT)  # pause
        assert code == EXIT_CHECKS, tail(log)  # a paused crawl has not finished
        paused = mongo_db.articles.count_documents({})
        assert 0 < paused < len(storable_urls(rep))
        assert (jobdir / "requests.seen").exists()
        hits_paused = article_hits(rep)

        code, _out, err = scrapy_crawl(mongo_uri, mongo_db.name, tmp_path / "data", "ofweek",
                                      *args, settings=settings)
        assert code == 0, err[-3000:]
        assert "Resuming crawl" in err
        ids = [d["_id"] for d in mongo_db.articles.find({}, {"_id": 1})]
        assert len(ids) == len(set(ids))
        assert set(ids) == storable_urls(rep)
        hits = article_hits(rep)
        # Articles fetched before the pause are not fetched again after it.
        assert all(hits[p] == n for p, n in hits_paused.items() if n), {
            p: (hits_paused[p], hits[p]) for p in hits_paused if hits[p] != hits_paused[p] and hits_paused[p]
        }
