"""``-a pages=FROM-TO``: an archive backfill requests those listing pages directly, all at once.

Alone (no Redis) and shared by three workers, against the replica; a portal
without a page pattern refuses the argument with exit code 2.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from newsspider.replica.model import Scenario
from newsspider.replica.server import ReplicaServer
from newsspider.spiders.base import SpiderArgumentError
from newsspider.spiders.portals import CnbetaSpider, OfweekSpider
from tests.conftest import REPO, crawl_command, crawl_env
from tests.scaleout_kit import redis_server, start_worker, wait_all


@pytest.mark.parametrize(("value", "pages"), [
    ("3-5", (3, 5)), (" 2 - 40000 ", (2, 40000)), ("7", (7, 7)), ("1-1", (1, 1)),
])
def test_pages_argument(value, pages) -> None:
    assert OfweekSpider(pages=value).pages == pages


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"pages": "a-b"}, "-a pages must be FROM-TO"),
    ({"pages": "-3"}, "-a pages must be FROM-TO"),
    ({"pages": "0-3"}, "numbered from 1"),
    ({"pages": "5-3"}, "3 comes before 5"),
    ({"pages": "1-3", "max_pages": "2"}, "do not combine"),
])
def test_bad_pages_arguments_are_refused(kwargs, message) -> None:
    with pytest.raises(SpiderArgumentError, match=message):
        OfweekSpider(**kwargs)


def test_a_portal_without_a_page_pattern_cannot_backfill(mongo_uri, tmp_path) -> None:
    assert CnbetaSpider.portal.listing.page_url is None
    with pytest.raises(SpiderArgumentError, match="declares no listing page pattern"):
        CnbetaSpider(pages="1-3")
    proc = subprocess.run(crawl_command("cnbeta", "pages=1-3"), cwd=REPO, capture_output=True,
                          text=True, env=crawl_env(mongo_uri, "unused", tmp_path), timeout=120,
                          check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "portal cnbeta declares no listing page pattern" in proc.stderr


def _articles_on(scenario: Scenario, pages: range, base_url: str) -> set[str]:
    return {entry.article.url(base_url) for n in pages for entry in scenario.listing_page(n)}


def _article_pages_on(scenario: Scenario, pages: range) -> int:
    """How many article pages (multi-page articles count each page) those listing pages link to."""
    return sum(entry.article.n_pages for n in pages for entry in scenario.listing_page(n))


def test_backfill_without_redis_fetches_exactly_those_listing_pages(run_crawl) -> None:
    scenario = Scenario.generated(200, per_page=20, seed=21)
    with ReplicaServer(scenario=scenario) as replica:
        result = run_crawl("ofweek", f"start_url={replica.listing_url}", "pages=3-5")
        assert result.returncode == 0, result
        listings = sorted(path for path in replica.hits if "CATList" in path)
        assert listings == [scenario.site.listing_page_path(n) for n in (3, 4, 5)]
        stored = {d["_id"] for d in result.db.articles.find({}, {"_id": 1})}
        assert stored == _articles_on(scenario, range(3, 6), replica.base_url)
        fetched = sum(n for path, n in replica.hits.items() if "/ART-" in path)

        # Again: the listing pages are fetched, no stored article is (no early stop either).
        again = run_crawl("ofweek", f"start_url={replica.listing_url}", "pages=3-6")
        assert again.returncode == 0, again
        assert replica.hits[scenario.site.listing_page_path(5)] == 2
        new = _articles_on(scenario, range(6, 7), replica.base_url)
        assert sum(n for path, n in replica.hits.items() if "/ART-" in path) == (
            fetched + _article_pages_on(scenario, range(6, 7)))
        assert {d["_id"] for d in result.db.articles.find({}, {"_id": 1})} == stored | new


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def test_backfill_is_spread_over_the_workers(redis_url, mongo_uri, mongo_db, tmp_path) -> None:
    pages = 30
    scenario = Scenario.generated(240, per_page=8, seed=22)
    with ReplicaServer(scenario=scenario, latency=0.05) as replica:
        logs = [tmp_path / f"worker{n}.log" for n in range(3)]
        workers = [
            start_worker(log, mongo_uri=mongo_uri, db_name=mongo_db.name,
                         data_dir=tmp_path / f"data{n}", redis_url=redis_url,
                         args=[f"start_url={replica.listing_url}", f"pages=1-{pages}"],
                         settings={"CONCURRENT_REQUESTS_PER_DOMAIN": "3"})
            for n, log in enumerate(logs)
        ]
        wait_all(workers, logs)
        listings = {path: n for path, n in replica.hits.items() if "CATList" in path}
        assert sorted(listings) == sorted(
            scenario.site.listing_page_path(n) for n in range(1, pages + 1))
        assert set(listings.values()) == {1}
    stored = {d["_id"] for d in mongo_db.articles.find({}, {"_id": 1})}
    assert stored == _articles_on(scenario, range(1, pages + 1), replica.base_url)
    runs = list(mongo_db.runs.find())
    stats = [run["stats"] for run in runs]
    # The seeding worker queued them all at once; the workers fetched them side by side.
    assert sorted(s.get("newsspider/spider/backfill_pages", 0) for s in stats) == [0, 0, pages]
    assert sum(1 for s in stats if s.get("newsspider/spider/listing_pages", 0) > 0) >= 2, stats
