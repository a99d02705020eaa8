"""The shared crawl's Redis scripts, driven directly against a real redis-server.

Each test plays several workers by name: what one worker takes, the others
cannot; a host's budget and a worker's share hold; a silent worker's leases
come back in their order; the gap and AutoThrottle's delay are the crawl's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from redis import Redis
from scrapy.core.downloader import Slot
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Request, Response
from scrapy.utils.test import get_crawler

from newsspider.scaleout.lua import Scripts
from tests.scaleout_kit import redis_server

TTL = 30.0
WINDOW = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        client = Redis.from_url(url)
        yield client
        client.close()


@pytest.fixture
def crawl(server: Redis) -> Iterator[tuple[Scripts, str]]:
    prefix = f"newsspider:t{uuid.uuid4().hex[:8]}"
    yield Scripts(server), prefix
    keys = list(server.scan_iter(match=f"{prefix}:*"))
    if keys:
        server.delete(*keys)


def push(scripts: Scripts, prefix: str, slot: str, entry: str, priority: int = 0,
         fingerprint: str = "", repeat: str = "") -> int:
    return int(scripts.push(args=[prefix, slot, -priority, fingerprint, repeat, entry.encode()])[0])


def take(scripts: Scripts, prefix: str, worker: str, limit: int = 4) -> tuple[int, str | None]:
    """(code, entry): code 1 = taken, 0 = nothing queued, 2 = hosts full, 3 = share used."""
    reply = scripts.take(args=[prefix, worker, WINDOW, TTL, limit, 1])
    return int(reply[0]), (reply[3].decode() if int(reply[0]) == 1 else None)


def take_many(scripts: Scripts, prefix: str, worker: str, most: int,
              limit: int = 4) -> list[str]:
    reply = scripts.take(args=[prefix, worker, WINDOW, TTL, limit, most])
    return [reply[i].decode() for i in range(3, len(reply), 3)]


def leased_ids(server: Redis, prefix: str, worker: str) -> list[str]:
    return sorted(k.decode() for k in server.hkeys(f"{prefix}:leased:{worker}"))


def test_take_moves_the_request_into_the_workers_lease(crawl, server) -> None:
    scripts, prefix = crawl
    push(scripts, prefix, "a.example", "listing", priority=0)
    push(scripts, prefix, "a.example", "article", priority=10)
    assert int(scripts.queued(args=[prefix])) == 2
    # The best priority first.
    assert take(scripts, prefix, "w1") == (1, "article")
    assert int(scripts.queued(args=[prefix])) == 1
    ids = leased_ids(server, prefix, "w1")
    assert len(ids) == 1
    # Acked: gone from Redis for good.
    assert int(scripts.ack(args=[prefix, "w1", *ids])) == 1
    assert leased_ids(server, prefix, "w1") == []
    assert take(scripts, prefix, "w1") == (1, "listing")
    assert take(scripts, prefix, "w1") == (0, None)


def test_a_batch_takes_what_the_budget_allows_best_first(crawl) -> None:
    scripts, prefix = crawl
    for n in range(3):
        push(scripts, prefix, "a.example", f"a{n}")
    push(scripts, prefix, "b.example", "b-article", priority=10)
    push(scripts, prefix, "b.example", "b0")
    # Best priority first across hosts; a.example's limit of 2 stops the batch there.
    assert take_many(scripts, prefix, "w1", most=10, limit=2) == ["b-article", "a0", "a1", "b0"]
    assert take_many(scripts, prefix, "w1", most=10, limit=2) == []


def test_the_dupefilter_set_is_checked_as_requests_are_queued(crawl, server) -> None:
    scripts, prefix = crawl
    assert push(scripts, prefix, "a.example", "first", fingerprint="fp1") == 1
    assert push(scripts, prefix, "a.example", "again", fingerprint="fp1") == 0
    assert push(scripts, prefix, "a.example", "unfiltered") == 1  # dont_filter: no fingerprint
    flags = scripts.push(args=[prefix, "a.example", 0, "fp2", "", b"x",
                               "a.example", 0, "fp2", "", b"y"])
    assert [int(f) for f in flags] == [1, 0]
    assert server.smembers(f"{prefix}:dupefilter") == {b"fp1", b"fp2"}
    assert int(scripts.queued(args=[prefix])) == 3


def test_a_repeat_of_a_dont_filter_request_is_not_queued_twice(crawl) -> None:
    scripts, prefix = crawl
    # Page 2 of an article, yielded by lease 7's response; lease 7 crawled again yields it again.
    assert push(scripts, prefix, "a.example", "page 2", repeat="000000000007:fp") == 1
    assert push(scripts, prefix, "a.example", "page 2", repeat="000000000007:fp") == 0
    # The same page from another parent, or with no parent, is a request of its own.
    assert push(scripts, prefix, "a.example", "page 2", repeat="000000000008:fp") == 1
    assert push(scripts, prefix, "a.example", "page 2") == 1
    assert int(scripts.queued(args=[prefix])) == 3


def test_equal_priorities_come_out_first_in_first_out(crawl) -> None:
    scripts, prefix = crawl
    names = [f"page-{n}" for n in (9, 3, 7, 1, 5)]
    for name in names:
        push(scripts, prefix, "a.example", name)
    assert [take(scripts, prefix, "w1", limit=10)[1] for _ in names] == names


def test_a_host_never_has_more_taken_than_its_limit(crawl) -> None:
    scripts, prefix = crawl
    for n in range(10):
        push(scripts, prefix, "a.example", f"a{n}")
    assert [take(scripts, prefix, "w1")[0] for _ in range(4)] == [1, 1, 1, 1]
    assert take(scripts, prefix, "w1") == (2, None)
    # Another host has its own budget.
    push(scripts, prefix, "b.example", "b0")
    assert take(scripts, prefix, "w1") == (1, "b0")


def test_a_worker_that_joins_gets_its_share_as_the_others_downloads_end(crawl, server) -> None:
    scripts, prefix = crawl
    for n in range(20):
        push(scripts, prefix, "a.example", f"a{n}")
    # Alone, w1 may use the whole limit: the budget is work-conserving.
    for _ in range(4):
        assert take(scripts, prefix, "w1")[0] == 1
    # w2 asks: the host is full, but w2 now counts as wanting.
    assert take(scripts, prefix, "w2") == (2, None)
    # One of w1's downloads ends (its share token goes back).
    first = leased_ids(server, prefix, "w1")[0]
    scripts.finish(args=[prefix, "w1", "a.example", "t0", first])
    # w1 holds 3, more than its share of ceil(4 / 2) = 2: refused, and w2 gets the slot.
    assert take(scripts, prefix, "w1") == (3, None)
    assert take(scripts, prefix, "w2")[0] == 1


def test_silent_workers_leases_go_back_in_order_and_their_budget_is_freed(crawl, server) -> None:
    scripts, prefix = crawl
    for n in range(6):
        push(scripts, prefix, "a.example", f"a{n}")
    timeout = 0.3
    scripts.beat(args=[prefix, "dead", "busy", timeout, 60, TTL])
    assert [take(scripts, prefix, "dead")[1] for _ in range(3)] == ["a0", "a1", "a2"]
    scripts.beat(args=[prefix, "alive", "busy", timeout, 60, TTL])
    reply = scripts.beat(args=[prefix, "alive", "busy", timeout, 60, TTL])
    queued, leases, others_busy = int(reply[0]), int(reply[1]), int(reply[2])
    # Not silent long enough: its leases count as outstanding, it is busy.
    assert (queued, leases, others_busy, int(reply[4])) == (3, 3, 1, 0)
    time.sleep(timeout + 0.1)
    reply = scripts.beat(args=[prefix, "alive", "busy", timeout, 60, TTL])
    assert int(reply[4]) == 3 and reply[5].decode() == "dead"
    assert (int(reply[0]), int(reply[1]), int(reply[2])) == (6, 0, 0)
    assert not server.hexists(f"{prefix}:workers", "dead")
    # Back at the head of the queue, in their order, and the host's budget is whole again.
    assert [take(scripts, prefix, "alive")[1] for _ in range(4)] == ["a0", "a1", "a2", "a3"]


def test_give_back_requeues_a_workers_own_leases(crawl, server) -> None:
    scripts, prefix = crawl
    push(scripts, prefix, "a.example", "a0", priority=10)
    push(scripts, prefix, "a.example", "a1")
    assert take(scripts, prefix, "w1")[1] == "a0"
    assert int(scripts.give_back(args=[prefix, "w1"])) == 1
    assert leased_ids(server, prefix, "w1") == []
    assert take(scripts, prefix, "w2")[1] == "a0"  # with its priority


def test_transfer_tokens_and_the_gap_are_the_hosts(crawl) -> None:
    scripts, prefix = crawl
    delay = 0.2

    def start(worker: str, token: str, limit: int = 2) -> tuple[int, float]:
        code, value = scripts.start(args=[prefix, worker, "a.example", token, TTL, 1.0, limit, delay])
        return int(code), float(value.decode() or 0)

    assert start("w1", "x1")[0] == 0
    # Until w1 confirms its request is leaving, nobody's turn comes.
    code, wait = start("w2", "x1")
    assert code == 2 and wait == pytest.approx(delay, abs=0.01)
    time.sleep(0.15)
    assert start("w2", "x1")[0] == 2
    # Confirmed: the next turn is a delay after the confirmation, not after the grant.
    confirmed = time.monotonic()
    scripts.confirm(args=[prefix, "a.example", 1.0, delay])
    code, wait = start("w2", "x1")
    assert code == 2 and delay - 0.05 < wait <= delay
    time.sleep(max(0.0, confirmed + delay - time.monotonic()) + 0.01)
    assert start("w2", "x1")[0] == 0
    scripts.confirm(args=[prefix, "a.example", 1.0, delay])
    time.sleep(delay + 0.01)
    # Two transfers in flight: the limit, whoever holds them.
    assert start("w3", "x1") == (1, 0.0)
    scripts.finish(args=[prefix, "w1", "a.example", "x1", ""])
    assert start("w3", "x1")[0] == 0


def test_autothrottle_adjusts_one_delay_by_scrapys_own_policy(crawl) -> None:
    scripts, prefix = crawl
    settings = {"AUTOTHROTTLE_ENABLED": True, "AUTOTHROTTLE_TARGET_CONCURRENCY": 2.0,
                "DOWNLOAD_DELAY": 0.01, "AUTOTHROTTLE_MAX_DELAY": 5.0}
    throttle = AutoThrottle(get_crawler(settings_dict=settings))
    throttle.mindelay, throttle.maxdelay = 0.01, 5.0
    slot = Slot(concurrency=8, delay=0.5, jitter=0.0)
    request = Request("http://a.example/")
    for worker, latency, status in [("w1", 0.3, 200), ("w2", 0.1, 200), ("w3", 0.05, 500),
                                    ("w1", 2.0, 200), ("w2", 0.02, 200)]:
        throttle._adjust_delay(slot, latency, Response(request.url, status=status, request=request))
        shared = scripts.finish(args=[prefix, worker, "a.example", "x", "", latency, status,
                                      2.0, 0.01, 5.0, 0.5])
        assert float(shared.decode()) == pytest.approx(slot.delay, abs=1e-6), worker
