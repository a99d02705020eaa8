"""The crawl checkpoint (``crawl_state``): after an unfinished run, the next one resumes.

An incremental crawl stops paginating at the first listing page whose articles
are all stored.  That is right after a run that finished — the later pages
were crawled then — and wrong after one that did not: the articles on pages it
never reached would never be fetched.  These tests pin both halves.
"""

from __future__ import annotations

from newsspider.replica.faults import FaultPlan
from newsspider.replica.model import Scenario
from newsspider.replica.server import ReplicaServer
from tests.faultkit import QUICK_RETRY, article_hits


def _page_urls(rep, number: int) -> set[str]:
    return {rep.url(e.article) for e in rep.scenario.listing_page(number)}


def _last_run(db):
    return db.runs.find_one({}, sort=[("started_at", -1)])


# Revisits off: a just-stored article would be due on the next run (newsspider.revisit),
# and a listing page holding one is not "all known" (tests/test_e2e_revisit.py).
NO_REVISITS = {"NEWSSPIDER_REVISIT_HOURS": "0"}


def test_finished_run_stops_early_unfinished_run_resumes(run_crawl, mongo_db) -> None:
    with ReplicaServer(scenario=Scenario.generated(60, per_page=20, seed=61)) as rep:
        start = f"start_url={rep.listing_url}"
        assert run_crawl("ofweek", start, "max_pages=1", settings=NO_REVISITS).returncode == 0
        page1 = _page_urls(rep, 1)
        assert {d["_id"] for d in mongo_db.articles.find({}, {"_id": 1})} == page1
        state = mongo_db.crawl_state.find_one({})
        assert state["state"] == "complete" and state["finish_reason"] == "finished"

        # The previous run finished: page 1 all stored → stop there (plain incremental crawl).
        rep.reset_hits()
        assert run_crawl("ofweek", start, "max_pages=5", settings=NO_REVISITS).returncode == 0
        stats = _last_run(mongo_db)["stats"]
        assert stats["newsspider/spider/pagination_stopped/all_known"] == 1
        assert "newsspider/spider/resumed" not in stats
        assert sum(article_hits(rep).values()) == 0

        # Now pretend that run was killed: the next one must walk past page 1.
        mongo_db.crawl_state.update_one({}, {"$set": {"state": "running", "finish_reason": None}})
        rep.reset_hits()
        assert run_crawl("ofweek", start, "max_pages=5", settings=NO_REVISITS).returncode == 0
        stats = _last_run(mongo_db)["stats"]
        assert stats["newsspider/spider/resumed"] == 1
        assert "newsspider/spider/pagination_stopped/all_known" not in stats
        stored = {d["_id"] for d in mongo_db.articles.find({}, {"_id": 1})}
        assert stored == page1 | _page_urls(rep, 2) | _page_urls(rep, 3)
        hits = article_hits(rep)
        # Stored articles are skipped even when resuming.
        assert all(hits[s.path] == 0 for s in rep.scenario.listed_articles
                   if rep.url(s) in page1)
        assert mongo_db.crawl_state.find_one({})["state"] == "complete"


def _seed_failing_listing_page(page_path: str, first_path: str) -> int:
    for seed in range(1, 500):
        plan = FaultPlan(0.5, kinds=("500",), seed=seed, targets=("listing",))
        if plan.first_fetch_fault(page_path, "listing") and not plan.first_fetch_fault(
            first_path, "listing"
        ):
            return seed
    raise AssertionError("no seed found")


def test_lost_listing_page_marks_the_run_incomplete(run_crawl, mongo_db) -> None:
    scenario = Scenario.generated(60, per_page=20, seed=62)
    seed = _seed_failing_listing_page(
        scenario.site.listing_page_path(2), scenario.site.listing_path
    )
    plan = FaultPlan(0.5, kinds=("500",), seed=seed, targets=("listing",))
    with ReplicaServer(scenario=scenario, faults=plan) as rep:
        start = f"start_url={rep.listing_url}"
        # No retries: listing page 2's one failure loses it (and page 3 behind it).
        result = run_crawl("ofweek", start, "max_pages=5", settings={"RETRY_TIMES": "0"})
        assert result.returncode in (0, 1), result  # the monitor may flag the ERROR line
        state = mongo_db.crawl_state.find_one({})
        assert state["state"] == "incomplete" and state["listing_failures"] == 1
        assert {d["_id"] for d in mongo_db.articles.find({}, {"_id": 1})} == _page_urls(rep, 1)

        assert run_crawl("ofweek", start, "max_pages=5", settings=QUICK_RETRY).returncode == 0
        stored = {d["_id"] for d in mongo_db.articles.find({}, {"_id": 1})}
        assert stored == _page_urls(rep, 1) | _page_urls(rep, 2) | _page_urls(rep, 3)
        assert mongo_db.crawl_state.find_one({})["state"] == "complete"
