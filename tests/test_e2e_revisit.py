"""Revisits end to end: real crawls (subprocesses) of the replica into the real store.

An incremental crawl fetches a stored article again when it is due
(newsspider.revisit; NEWSSPIDER_REVISIT_HOURS): the replica's hit counter says
which pages a run fetched, the store says what changed.  The merged copies are
never revisited, the known-broken pages rejected again are repeats the
reject-ratio check leaves out, and a template change is caught by a plain
incremental run.  (The scheduled crawl + export pair without ``full=1``:
tests/test_e2e_export_incremental.py; the rule itself: tests/test_revisit.py.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsspider.monitor.checks import Thresholds, evaluate
from newsspider.replica.model import Scenario
from newsspider.replica.server import ReplicaServer
from newsspider.replica.sites.ofweek import REDESIGN
from tests.faultkit import article_hits

# The article fields a revisit of an unchanged page may move (newsspider.store.writer.UNWATCHED).
FETCH_FIELDS = ("last_crawled_at", "raw_body_html", "fetched_url")


def _newest_run(db) -> dict:
    return next(db.runs.find().sort("started_at", -1).limit(1))


def _fetched(replica: ReplicaServer) -> set[str]:
    hits = article_hits(replica)
    return {spec.path for spec in replica.scenario.listed_articles
            if any(hits[p] for p in spec.page_paths)}


@pytest.fixture
def replica():
    with ReplicaServer() as server:
        yield server


def test_the_next_run_revisits_stored_articles_not_merged_copies_and_changes_nothing(
    replica, run_crawl, mongo_db
) -> None:
    start = f"start_url={replica.listing_url}"
    assert run_crawl("ofweek", start).returncode == 0
    before = {d["_id"]: d for d in mongo_db.articles.find({})}
    aliases = {d["_id"] for d in mongo_db.url_aliases.find({})}
    rejects = {d["_id"]: d for d in mongo_db.rejects.find({})}
    assert len(before) >= 20 and aliases and len(rejects) >= 2
    assert all(r["repeated"] == 0 for r in rejects.values())

    replica.reset_hits()
    # No NEWSSPIDER_MONITOR_MAX_REJECT_RATIO override: the broken pages rejected again are
    # repeats, which the reject-ratio check does not count.
    second = run_crawl("ofweek", start)
    assert second.returncode == 0, second
    hits = article_hits(replica)
    for spec in replica.scenario.listed_articles:
        url = replica.url(spec)
        if url in before:  # just stored: due on the next run, every page fetched once
            assert [hits[p] for p in spec.page_paths] == [1] * spec.n_pages, spec.path
        elif url in aliases:  # a copy merged into another article: never revisited
            assert [hits[p] for p in spec.page_paths] == [0] * spec.n_pages, spec.path

    after = {d["_id"]: d for d in mongo_db.articles.find({})}
    assert set(after) == set(before)
    for url, old in before.items():
        new = after[url]
        assert new["last_crawled_at"] > old["last_crawled_at"], url
        assert {k: v for k, v in new.items() if k not in FETCH_FIELDS} == {
            k: v for k, v in old.items() if k not in FETCH_FIELDS}, url  # updated_at, revision…

    run = _newest_run(mongo_db)
    stats = run["stats"]
    assert stats["newsspider/spider/articles_revisited"] == len(before)
    assert stats["newsspider/store/unchanged"] == len(before)
    assert "newsspider/store/revised" not in stats and "newsspider/store/changed" not in stats
    assert stats["newsspider/validate/rejected"] == len(rejects)
    assert stats["newsspider/store/rejects_repeated"] == len(rejects)
    for reject in mongo_db.rejects.find({}):
        assert reject["repeated"] == 1 and reject["first_at"] == rejects[reject["_id"]]["at"]
    assert "reject_ratio" in run["checks"]["passed"]
    [check] = [c for c in evaluate(stats, "finished", Thresholds()) if c.name == "reject_ratio"]
    assert check.passed
    assert check.message.endswith(
        f"({len(rejects)} repeated rejects of known-broken pages not counted)")


def test_revisit_hours_zero_never_fetches_a_stored_article(replica, run_crawl, mongo_db) -> None:
    start = f"start_url={replica.listing_url}"
    off = {"NEWSSPIDER_REVISIT_HOURS": "0"}
    assert run_crawl("ofweek", start, settings=off).returncode == 0
    stored = {d["_id"] for d in mongo_db.articles.find({}, {"_id": 1})}
    replica.reset_hits()
    assert run_crawl("ofweek", start, settings=off).returncode == 0
    assert not {replica.url(p) for p in _fetched(replica)} & stored
    stats = _newest_run(mongo_db)["stats"]
    assert "newsspider/spider/articles_revisited" not in stats
    # The first listing page is all known, so pagination stops there, as before revisits.
    assert stats["newsspider/spider/pagination_stopped/all_known"] == 1
    assert stats["newsspider/spider/articles_known"] > 0


def _age(db, url: str, now: datetime, first_seen: float, last_crawled: float) -> None:
    """Make a stored article first seen / last crawled that many hours before ``now``.

    A whole-document replacement, as the writer writes (a ``$set`` of a date would
    store a string on nx-27017: newsspider.store.nx27017).
    """
    doc = db.articles.find_one({"_id": url})
    doc.update(first_seen_at=now - timedelta(hours=first_seen),
               last_crawled_at=now - timedelta(hours=last_crawled))
    db.articles.replace_one({"_id": url}, doc)


def test_only_due_articles_are_fetched_and_a_page_holding_one_is_not_all_known(
    run_crawl, mongo_db
) -> None:
    with ReplicaServer(scenario=Scenario.generated(60, per_page=20, seed=63)) as rep:
        start = f"start_url={rep.listing_url}"
        assert run_crawl("ofweek", start, "max_pages=5").returncode == 0
        pages = {n: [rep.url(e.article) for e in rep.scenario.listing_page(n)] for n in (1, 2, 3)}
        assert {d["_id"] for d in mongo_db.articles.find({}, {"_id": 1})} == {
            u for urls in pages.values() for u in urls}

        now = datetime.now(UTC)
        due, waiting, *old_page1 = pages[1]
        _age(mongo_db, due, now, 10, 6)  # known 4 h at its last crawl, 6 h ago: due
        _age(mongo_db, waiting, now, 10, 1)  # known 9 h at its last crawl, 1 h ago: not yet
        for url in old_page1 + pages[2]:
            _age(mongo_db, url, now, 72, 72)  # beyond the 48-hour window: never again
        # Page 3 stays as just stored (due), but page 2 is all known: pagination stops there.

        rep.reset_hits()
        assert run_crawl("ofweek", start, "max_pages=5").returncode == 0
        assert {rep.url(p) for p in _fetched(rep)} == {due}
        site = rep.scenario.site
        assert rep.hits[site.listing_page_path(2)] == 1 and rep.hits[site.listing_page_path(3)] == 0
        stats = _newest_run(mongo_db)["stats"]
        assert stats["newsspider/spider/articles_revisited"] == 1
        assert stats["newsspider/spider/articles_known"] == 39
        assert stats["newsspider/spider/pagination_stopped/all_known"] == 1
        revisited = mongo_db.articles.find_one({"_id": due})
        assert revisited["first_seen_at"] == now.replace(microsecond=now.microsecond // 1000 * 1000) - timedelta(hours=10)
        assert now - revisited["last_crawled_at"] < timedelta(minutes=5)


def test_a_template_change_is_caught_by_the_next_incremental_run(replica, run_crawl, mongo_db) -> None:
    """Issue 22's drift check, without ``full=1``: the revisits see the redesigned pages."""
    start = f"start_url={replica.listing_url}"
    assert run_crawl("ofweek", start).returncode == 0
    stored = mongo_db.articles.count_documents({})
    replica.change_template(REDESIGN)
    changed = run_crawl("ofweek", start)
    assert changed.returncode == 1, changed
    run = _newest_run(mongo_db)
    failed = {c["name"] for c in run["checks"]["failed"]}
    assert "coverage/selectors/body_html" in failed
    assert run["stats"]["newsspider/spider/articles_revisited"] == stored
    assert all(d["extraction"]["body_html"] == "auto"
               for d in mongo_db.articles.find({}, {"extraction": 1}))
