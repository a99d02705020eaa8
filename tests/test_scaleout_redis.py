"""Scale-out on scrapy-redis: two real worker processes share one crawl of the replica.

A real ``redis-server`` on loopback (Debian package; with ``CI=true`` its absence
is a failure, never a skip), real ``scrapy crawl`` subprocesses, the real store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from scrapy import Request, Spider
from scrapy.utils.test import get_crawler

from newsspider.replica.faults import FaultPlan
from newsspider.replica.model import Scenario
from newsspider.replica.server import ReplicaServer
from newsspider.scaleout import CrawlKeys, SharedDupeFilter
from tests.conftest import REPO
from tests.scaleout_kit import redis_server


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def _worker(mongo_uri: str, db_name: str, data_dir: Path, redis_url: str, start_url: str,
            log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        str(Path(sys.executable).with_name("scrapy")), "crawl", "ofweek",
        "-a", f"start_url={start_url}", "-a", "max_pages=10",
        "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=INFO",
        # Two requests in flight per worker: one worker can't take the whole queue
        # into its own downloader before the other has started.
        "-s", "CONCURRENT_REQUESTS=2", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2",
    ]
    env = {
        **os.environ,
        "MONGO_URI": mongo_uri,
        "MONGO_DATABASE": db_name,
        "NEWSSPIDER_DATA_DIR": str(data_dir),
        "REDIS_URL": redis_url,
        "NEWSSPIDER_REDIS_IDLE_SECONDS": "2",
        "NEWSSPIDER_REDIS_HEARTBEAT_SECONDS": "0.2",
    }
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=log.open("wb"))


def test_two_workers_share_one_crawl(redis_url, mongo_uri, mongo_db, tmp_path) -> None:
    # Every article page answers after 0.15 s on its first fetch: a crawl of a few
    # seconds that two workers can split.
    faults = FaultPlan(fraction=1.0, kinds=("slow",), slow_seconds=0.15, targets=("article",))
    with ReplicaServer(scenario=Scenario.generated(60, per_page=20), faults=faults) as replica:
        logs = [tmp_path / "worker1.log", tmp_path / "worker2.log"]
        workers = [
            _worker(mongo_uri, mongo_db.name, tmp_path / f"data{i}", redis_url,
                    replica.listing_url, log)
            for i, log in enumerate(logs)
        ]
        try:
            codes = [w.wait(timeout=180) for w in workers]
        finally:
            for w in workers:
                if w.poll() is None:
                    w.kill()
        stderr = [log.read_text(errors="replace") for log in logs]
        for code, err in zip(codes, stderr, strict=True):
            assert code == 0, err[-4000:]

        # Exactly one worker seeded; the other joined.
        assert sum("seeding shared crawl ofweek" in err for err in stderr) == 1, stderr
        assert sum("joining shared crawl ofweek" in err for err in stderr) == 1, stderr

        # Every listed article stored, and no page fetched twice across workers.
        listed = replica.scenario.listed_articles
        assert len(listed) == 60
        for spec in listed:
            assert mongo_db.articles.find_one({"_id": spec.url(replica.base_url)}), spec.path
            for url in spec.page_urls(replica.base_url):
                path = url[len(replica.base_url):]
                assert replica.hits[path] == 1, (path, replica.hits[path])
        listing_hits = {p: n for p, n in replica.hits.items() if "CATList" in p}
        assert listing_hits and all(n == 1 for n in listing_hits.values()), listing_hits

    # Each worker left its own runs record, with items in it.
    runs = list(mongo_db.runs.find())
    assert len(runs) == 2, runs
    assert len({run["worker"] for run in runs}) == 2
    scraped = [run["stats"].get("item_scraped_count", 0) for run in runs]
    assert all(n > 0 for n in scraped), scraped
    assert sum(scraped) == 60
    assert all(run["finish_reason"] == "finished" for run in runs)

    # The last worker out deleted the crawl's keys.
    client = Redis.from_url(redis_url)
    try:
        assert client.keys("newsspider:ofweek:*") == []
    finally:
        client.close()


def test_dupefilter_uses_the_crawlers_canonical_fingerprints(redis_url) -> None:
    from newsspider.settings import REQUEST_FINGERPRINTER_CLASS

    crawler = get_crawler(Spider, {
        "REDIS_URL": redis_url,
        "REQUEST_FINGERPRINTER_CLASS": REQUEST_FINGERPRINTER_CLASS,
        "SCHEDULER_DUPEFILTER_KEY": f"t:{uuid.uuid4().hex}:%(spider)s:dupefilter",
    })
    spider = Spider.from_crawler(crawler, name="ofweek")
    df = SharedDupeFilter.from_spider(spider)
    assert df.key.endswith(":ofweek:dupefilter")
    try:
        plain = Request("https://www.ofweek.com/news/2021-03/ART-8100-2801-30489123.html")
        tracked = Request(plain.url + "?utm_source=rss&utm_medium=feed#comments")
        other = Request("https://www.ofweek.com/news/2021-03/ART-8100-2801-30489124.html")
        assert df.request_fingerprint(tracked) == crawler.request_fingerprinter.fingerprint(
            plain).hex()
        assert not df.request_seen(plain)
        assert df.request_seen(tracked)
        assert not df.request_seen(other)
        # A worker closing its dupefilter leaves the shared fingerprints alone.
        df.close("finished")
        assert df.server.scard(df.key) == 2
    finally:
        df.server.delete(df.key)


def test_repeat_keys_name_the_parent_lease() -> None:
    from newsspider.scaleout.crawl import LEASE_META, PARENT_META, repeat_key

    page2 = Request("http://a.example/ART-1_2.html", dont_filter=True,
                    meta={PARENT_META: "000000000007"})
    assert repeat_key(page2, "fp") == "000000000007:fp"
    # A retry is a copy of the leased request; each retry of it is its own request.
    retry = Request("http://a.example/ART-1.html", dont_filter=True,
                    meta={LEASE_META: "000000000009", "retry_times": 2})
    assert repeat_key(retry, "fp") == "000000000009:2:fp"
    assert repeat_key(Request("http://a.example/", dont_filter=True), "fp") is None


def test_crawl_keys_are_namespaced_per_crawl_id() -> None:
    keys = CrawlKeys("ofweek")
    assert keys.key("queue") == "newsspider:ofweek:queue"
    assert keys.key("queue", "www.ofweek.com") == "newsspider:ofweek:queue:www.ofweek.com"
    assert keys.key("leased", "vm:12") == "newsspider:ofweek:leased:vm:12"
    assert set(keys.all()) == {
        f"newsspider:ofweek:{name}" for name in (
            "queue", "dupefilter", "repeats", "seed", "seeded", "workers", "activity", "seq",
            "want", "budget", "delay", "next", "pending", "slots",
        )
    }
    # Another crawl's keys never match this crawl's cleanup pattern.
    assert keys.pattern() == "newsspider:ofweek:*"
    assert CrawlKeys("a*b").pattern() == "newsspider:a\\*b:*"
