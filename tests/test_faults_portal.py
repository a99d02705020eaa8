"""A flaky portal: every failure kind the replica can inject, in one crawl, none crashing it.

Transient failures (500, cut-short bodies, slow answers, connection resets) are
retried with backoff and end up stored; permanent ones (a redirect loop, a page
over ``DOWNLOAD_MAXSIZE``) become ``rejects`` with a reason a user can act on;
pages with a wrong or missing charset declaration are decoded correctly.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from lxml import html as lxml_html
from scrapy.http import Request, Response
from scrapy.settings import Settings
from scrapy.utils.misc import load_object
from scrapy.utils.test import get_crawler

from newsspider.downloadermiddlewares.retry import BackoffRetryMiddleware, backoff_delay
from newsspider.replica.faults import OVERSIZED_PATH, REDIRECT_LOOP_PATHS, FaultPlan
from newsspider.replica.model import Scenario
from newsspider.replica.server import ReplicaServer
from tests.faultkit import QUICK_RETRY, article_hits, storable_urls


def _text(fragment: str) -> str:
    root = lxml_html.fragment_fromstring(fragment or "<p></p>", create_parent="div")
    return re.sub(r"\s+", "", root.text_content().replace("\u3000", ""))


def test_project_settings_retry_cut_short_bodies() -> None:
    from newsspider import settings as project

    settings = Settings()
    settings.setmodule(project)
    assert settings.getbool("DOWNLOAD_FAIL_ON_DATALOSS") is True
    retried = tuple(load_object(e) if isinstance(e, str) else e
                    for e in settings.getlist("RETRY_EXCEPTIONS"))
    from scrapy.exceptions import DownloadTimeoutError, ResponseDataLossError
    from twisted.internet.error import ConnectionLost

    for exc in (ResponseDataLossError, DownloadTimeoutError, ConnectionLost):
        assert issubclass(exc, retried), exc
    mws = settings.getdict("DOWNLOADER_MIDDLEWARES")
    assert mws["scrapy.downloadermiddlewares.retry.RetryMiddleware"] is None
    assert mws["newsspider.downloadermiddlewares.retry.BackoffRetryMiddleware"] == 550


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"),
    [(1, None, 0.5), (2, None, 1.0), (3, None, 2.0), (6, None, 10.0), (1, 4.0, 4.0), (1, 99, 10.0)],
)
def test_backoff_delay_doubles_and_is_capped(attempt, retry_after, expected) -> None:
    assert backoff_delay(attempt, 0.5, 10.0, retry_after) == expected


def test_backoff_waits_without_blocking_and_counts() -> None:
    crawler = get_crawler(settings_dict={"NEWSSPIDER_RETRY_BACKOFF_BASE": 0.2,
                                         "NEWSSPIDER_RETRY_BACKOFF_MAX": 1})
    crawler.spider = crawler._create_spider("s")
    crawler.stats.open_spider()
    mw = BackoffRetryMiddleware.from_crawler(crawler)
    request = Request("http://127.0.0.1/a")

    async def go():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        loop = asyncio.get_running_loop()
        started = loop.time()
        retry = await mw.process_response(request, Response(request.url, status=503))
        elapsed = loop.time() - started
        task.cancel()
        return retry, elapsed, ticks

    retry, elapsed, ticks = asyncio.run(go())
    assert isinstance(retry, Request) and retry.meta["retry_times"] == 1
    assert 0.14 <= elapsed <= 0.5
    assert ticks >= 5  # the loop kept running while the retry waited
    assert crawler.stats.get_value("newsspider/retry/backoff_count") == 1
    assert crawler.stats.get_value("retry/reason_count/503 Service Unavailable") == 1


def test_every_fault_kind_in_one_crawl(run_crawl, mongo_db) -> None:
    plan = FaultPlan(
        0.3, kinds=("500", "cut", "slow", "reset"), seed=92, slow_seconds=2.0,
        redirect_loop=True, charset="wrong", charset_fraction=0.3, oversized_bytes=400_000,
    )
    scenario = Scenario.generated(40, per_page=20, seed=99)
    with ReplicaServer(scenario=scenario, faults=plan) as rep:
        result = run_crawl(
            "ofweek", f"start_url={rep.listing_url}", "max_pages=5",
            settings={"DOWNLOAD_TIMEOUT": "1", "DOWNLOAD_MAXSIZE": "300000", **QUICK_RETRY},
        )
        assert result.returncode == 0, result
        assert set(rep.faults_served) == {"500", "cut", "slow", "reset"}, rep.faults_served

        # Everything fetchable is stored, and the wrongly declared pages decoded right.
        db = mongo_db
        wanted = storable_urls(rep)
        assert {d["_id"] for d in db.articles.find({}, {"_id": 1})} == wanted
        miscoded = 0
        for spec in rep.scenario.listed_articles:
            if rep.url(spec) not in wanted:
                continue
            doc = db.articles.find_one({"_id": rep.url(spec)})
            assert doc["title"] == spec.title
            assert doc["author"] == spec.author
            assert _text(doc["body_html"]) == _text(spec.body_html), spec.path
            miscoded += bool(plan.charset_fault(spec.path, "article"))
        assert miscoded >= 5

        # The permanent failures are rejects naming what to change; each page fetched a bounded
        # number of times.
        rejects = {r["url"]: r for r in db.rejects.find({})}
        assert set(rejects) == {rep.url(OVERSIZED_PATH), rep.url(REDIRECT_LOOP_PATHS[0])}
        loop = rejects[rep.url(REDIRECT_LOOP_PATHS[0])]["errors"]
        assert loop[0]["field"] == "fetch" and loop[0]["message"].startswith("redirect loop: ")
        big = rejects[rep.url(OVERSIZED_PATH)]["errors"]
        assert "DOWNLOAD_MAXSIZE (300000 bytes)" in big[0]["message"]
        # Refused by its Content-Length and not retried (a second hit only if its first was a fault).
        assert rep.hits[OVERSIZED_PATH] == 1 + bool(plan.first_fetch_fault(OVERSIZED_PATH, "article"))
        assert rep.hits[REDIRECT_LOOP_PATHS[1]] == 1
        assert max(article_hits(rep).values()) <= 2

    run = db.runs.find_one({})
    assert run["finish_reason"] == "finished"
    stats = run["stats"]
    assert stats["newsspider/spider/fetch_failed/redirect_loop"] == 1
    assert stats["newsspider/spider/fetch_failed/too_large"] == 1
    assert stats["newsspider/redirect/loops"] == 1
    assert stats["newsspider/validate/rejected/fetch"] == 2
    assert stats["retry/count"] >= sum(
        n for kind, n in rep.faults_served.items() if kind != "reset"
    )
    assert stats.get("retry/max_reached", 0) == 0
    assert not [k for k in stats if k.startswith("spider_exceptions")]
