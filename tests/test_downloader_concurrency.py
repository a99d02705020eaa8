"""The downloader holds a portal to ``CONCURRENT_REQUESTS_PER_DOMAIN`` and reuses its connections.

Scrapy 2.19's own downloader let a burst of requests past the per-host limit
(16 in flight at a limit of 2, one new connection for most requests);
``newsspider.downloader.Downloader`` counts each request against its slot before
its task starts.  Every article's first fetch is slowed by 50 ms, so the crawl
always has more requests ready than the limit lets through, and the replica
records how many it was answering at once and how many connections it accepted.
"""

from __future__ import annotations

import pytest

from newsspider.replica.faults import FaultPlan
from newsspider.replica.model import Scenario
from newsspider.replica.server import ReplicaServer

SLOW = FaultPlan(1.0, kinds=("slow",), seed=3, slow_seconds=0.05, targets=("article",))


@pytest.mark.parametrize("per_host", [2, 8])
def test_per_host_concurrency_is_the_limit_and_connections_are_kept(per_host, run_crawl) -> None:
    with ReplicaServer(scenario=Scenario.generated(60, per_page=20, seed=41), faults=SLOW) as rep:
        result = run_crawl(
            "ofweek", f"start_url={rep.listing_url}", "max_pages=3",
            settings={"CONCURRENT_REQUESTS": "16", "CONCURRENT_REQUESTS_PER_DOMAIN": str(per_host)},
        )
        assert result.returncode == 0, result
        assert result.db.articles.count_documents({}) > 0, result
        # Used up to the limit, never past it.
        assert rep.peak_in_flight == per_host, result
        # The pool keeps as many idle connections as the limit, so none is ever dropped.
        assert rep.connections <= per_host, (rep.connections, sum(rep.hits.values()))
        assert sum(rep.hits.values()) >= 60  # listings, robots.txt and the articles
