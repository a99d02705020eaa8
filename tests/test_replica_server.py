"""The replica server: status codes, hits, faults, revisions, keep-alive
concurrency, the 50k generated scenario and the ``python -m`` entry point."""

from __future__ import annotations

import http.client
import itertools
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import lxml.html
import pytest

from newsspider.replica import FaultPlan, ReplicaServer, Scenario
from newsspider.replica.faults import OVERSIZED_PATH, REDIRECT_LOOP_PATHS


@pytest.fixture
def server() -> Iterator[ReplicaServer]:
    with ReplicaServer() as replica:
        yield replica


def get(server: ReplicaServer, path: str) -> tuple[int, dict[str, str], bytes]:
    """One GET on a fresh connection; HTTP errors come back as statuses."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_robots_404_and_500(server: ReplicaServer) -> None:
    status, _headers, body = get(server, "/robots.txt")
    assert status == 200 and b"Allow: /" in body
    assert get(server, "/nope.html")[0] == 404
    assert get(server, "/CATList-8100-CHANGYIEXINWE-99.html")[0] == 404
    broken = next(s for s in server.scenario.listed_articles if s.always_500)
    for _ in range(3):
        status, _, body = get(server, broken.path)
        assert status == 500
        assert "服务器繁忙".encode("gbk") in body
    assert server.hits[broken.path] == 3
    first = server.scenario.listed_articles[0]
    assert get(server, first.path.replace(".html", "_2.html"))[0] == 404


def test_hits_counter_counts_paths_without_query(server: ReplicaServer) -> None:
    spec = server.scenario.listed_articles[1]
    get(server, spec.path)
    get(server, spec.path + "?utm_source=rss")
    get(server, server.scenario.site.listing_path)
    assert server.hits[spec.path] == 2
    assert server.hits[server.scenario.site.listing_path] == 1
    server.reset_hits()
    assert sum(server.hits.values()) == 0


def test_concurrent_keep_alive_requests(server: ReplicaServer) -> None:
    paths = [spec.path for spec in server.scenario.listed_articles if not spec.always_500]

    def worker(chunk: list[str]) -> list[int]:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        statuses = []
        for path in chunk * 3:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
        conn.close()
        return statuses

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, [paths[i::8] for i in range(8)]))
    assert all(status == 200 for statuses in results for status in statuses)
    assert sum(server.hits[path] for path in paths) == len(paths) * 3
    assert server.connections == 8  # three requests a connection, none reconnected
    assert 1 <= server.peak_in_flight <= 8


def test_in_flight_peak_and_connections_reset() -> None:
    slow = FaultPlan(fraction=1.0, kinds=("slow",), slow_seconds=0.5, targets=("article",))
    with ReplicaServer(faults=slow) as server:
        paths = [spec.path for spec in server.scenario.listed_articles if not spec.always_500][:3]
        with ThreadPoolExecutor(3) as pool:
            statuses = [status for status, _, _ in pool.map(lambda p: get(server, p), paths)]
        assert statuses == [200, 200, 200]
        # Each first fetch sleeps 0.5 s, so the three were being answered together.
        assert server.peak_in_flight == 3
        assert server.connections == 3
        get(server, paths[0])  # served at once now, on a fourth connection
        assert server.connections == 4
        assert server.peak_in_flight == 3
        server.reset_hits()
        assert (server.connections, server.peak_in_flight) == (0, 0)


def test_latency_delays_every_page_fetch_and_gaps_are_recorded() -> None:
    with ReplicaServer(latency=0.2, record_requests=True) as server:
        path = server.scenario.listed_articles[0].path
        for _ in range(2):  # every fetch, not only the first
            started = time.monotonic()
            assert get(server, path)[0] == 200
            assert time.monotonic() - started >= 0.2
        started = time.monotonic()
        assert get(server, "/robots.txt")[0] == 200  # assets are not pages: no latency
        assert time.monotonic() - started < 0.2
        deadline = time.monotonic() + 5
        while len(server.request_log) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)  # logged once the answer is written, just after the client has it
        assert [p for p, _, _ in server.request_log] == [path, path, "/robots.txt"]
        arrivals = [arrived for _, arrived, _ in server.request_log]
        assert all(answered - arrived >= 0.2 for p, arrived, answered in server.request_log[:2])
        # The shortest time between two arrivals.
        expected = min(b - a for a, b in itertools.pairwise(arrivals))
        assert server.min_gap == pytest.approx(expected, abs=1e-3)
        assert server.min_gap >= 0.2
        server.reset_hits()
        assert (server.min_gap, server.request_log) == (None, [])


def test_requests_are_not_logged_unless_asked() -> None:
    with ReplicaServer() as server:
        get(server, "/robots.txt")
        get(server, "/robots.txt")
        assert server.request_log == []
        assert server.min_gap is not None and server.min_gap > 0


def test_fault_plan_fails_first_fetch_then_serves() -> None:
    plan = FaultPlan(fraction=0.25, kinds=("500", "cut", "slow", "reset"), seed=1, slow_seconds=0.3)
    with ReplicaServer(faults=plan) as server:
        paths = [server.scenario.site.listing_page_path(n) for n in (1, 2, 3)]
        paths += [
            p
            for spec in server.scenario.listed_articles
            if not spec.always_500
            for p in spec.page_paths
        ]
        planned = {
            path: plan.first_fetch_fault(path, "listing" if "CATList" in path else "article")
            for path in paths
        }
        faulty = {path: kind for path, kind in planned.items() if kind}
        assert 0.1 * len(paths) < len(faulty) < 0.45 * len(paths)
        assert set(faulty.values()) == {"500", "cut", "slow", "reset"}
        for path in paths:
            kind = planned[path]
            started = time.perf_counter()
            if kind == "500":
                assert get(server, path)[0] == 500
            elif kind == "cut":
                with pytest.raises(http.client.IncompleteRead):
                    get(server, path)
            elif kind == "reset":
                with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
                    get(server, path)
            elif kind == "slow":
                assert get(server, path)[0] == 200
                assert time.perf_counter() - started >= 0.3
            # The second fetch always succeeds, quickly.
            started = time.perf_counter()
            status, headers, body = get(server, path)
            assert status == 200 and int(headers["Content-Length"]) == len(body)
            assert time.perf_counter() - started < 0.25
        assert dict(server.faults_served) == {
            kind: list(faulty.values()).count(kind) for kind in set(faulty.values())
        }
        assert [path for path, _ in server.fault_log] == [p for p in paths if p in faulty]


def test_fault_plan_is_deterministic() -> None:
    one = FaultPlan(fraction=0.5, seed=7)
    two = FaultPlan(fraction=0.5, seed=7)
    other = FaultPlan(fraction=0.5, seed=8)
    paths = [f"/2021-03/ART-8420-8120-{n}.html" for n in range(200)]
    assert [one.first_fetch_fault(p, "article") for p in paths] == [
        two.first_fetch_fault(p, "article") for p in paths
    ]
    assert [one.first_fetch_fault(p, "article") for p in paths] != [
        other.first_fetch_fault(p, "article") for p in paths
    ]
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FaultPlan(kinds=("teapot",))


def test_redirect_loop_charset_and_oversized_extras() -> None:
    plan = FaultPlan(
        redirect_loop=True, charset="missing", charset_fraction=1.0, oversized_bytes=300_000
    )
    with ReplicaServer(faults=plan) as server:
        hrefs = [
            a.get("href")
            for a in lxml.html.document_fromstring(
                get(server, server.scenario.site.listing_path)[2].decode("gbk")
            ).cssselect("div.list-left div.con-details h3 > a")
        ]
        assert server.url(REDIRECT_LOOP_PATHS[0]) in hrefs
        assert server.url(OVERSIZED_PATH) in hrefs
        status, headers, _ = get(server, REDIRECT_LOOP_PATHS[0])
        assert status == 302 and headers["Location"] == server.url(REDIRECT_LOOP_PATHS[1])
        assert get(server, REDIRECT_LOOP_PATHS[1])[1]["Location"] == server.url(
            REDIRECT_LOOP_PATHS[0]
        )
        status, headers, body = get(server, OVERSIZED_PATH)
        assert status == 200 and len(body) > 300_000
        assert headers["Content-Type"] == "text/html"
        assert b"charset=gb2312" not in body
        body.decode("gbk")
    with ReplicaServer(faults=FaultPlan(charset="wrong", charset_fraction=1.0)) as server:
        spec = server.scenario.listed_articles[0]
        status, headers, body = get(server, spec.path)
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert b"charset=gb2312" in body and spec.title.encode("gbk") in body
        # Listing pages keep their declaration: charset faults hit articles only.
        assert get(server, server.scenario.site.listing_path)[1]["Content-Type"].endswith("gb2312")


def test_content_type_without_charset_is_configurable() -> None:
    scenario = Scenario.demo()
    scenario.content_types["article"] = "text/html"
    with ReplicaServer(scenario=scenario) as server:
        spec = scenario.listed_articles[0]
        assert get(server, spec.path)[1]["Content-Type"] == "text/html"
        assert (
            get(server, scenario.site.listing_path)[1]["Content-Type"]
            == "text/html; charset=gb2312"
        )


def test_edit_and_add_articles(server: ReplicaServer) -> None:
    spec = server.scenario.listed_articles[3]
    before = get(server, spec.path)[2]
    new = server.edit_article(server.url(spec) + "?x=1", "<p>修订后的正文。</p>")
    assert new.revision == 2 and new.pages == ("<p>修订后的正文。</p>",)
    after = get(server, spec.path)[2]
    assert after != before and "修订后的正文。".encode("gbk") in after
    assert server.scenario.find(spec.path) == new
    assert server.edit_article(spec.id, "<p>第三版。</p>").revision == 3

    added = server.add_article(
        "新发布的文章", "<p>刚刚发布。</p>", author="OFweek医疗网", channel="medical"
    )
    doc = lxml.html.document_fromstring(
        get(server, server.scenario.site.listing_path)[2].decode("gbk")
    )
    first = doc.cssselect("div.list-left div.con-details h3 > a")[0]
    assert first.get("href") == server.url(added) and first.text_content() == "新发布的文章"
    assert server.scenario.listed_articles[0] == added
    assert get(server, added.path)[0] == 200
    assert server.scenario.n_listing_pages == 3  # 29 entries, 10 per page


def test_generated_scenario_serves_the_last_article_fast() -> None:
    scenario = Scenario.generated(50_000, per_page=20)
    with ReplicaServer(scenario=scenario) as server:
        last = scenario.articles[49_999]
        started = time.perf_counter()
        status, _headers, body = get(server, last.path)
        assert status == 200
        doc = lxml.html.document_fromstring(body.decode("gbk"))
        assert doc.cssselect("div.artical div.time.fl")[0].text_content() == last.published
        assert scenario.n_listing_pages == 2500
        status, _, body = get(server, scenario.site.listing_page_path(2500))
        items = lxml.html.document_fromstring(body.decode("gbk")).cssselect(
            "div.list-left div.con-details h3 > a"
        )
        assert [a.get("href") for a in items][-1] == server.url(last)
        assert len(items) == 20
        pager = lxml.html.document_fromstring(body.decode("gbk")).cssselect("div.page a")
        assert "下一页" not in [a.text_content() for a in pager]
        assert time.perf_counter() - started < 2.0
        # Distinct, deterministic bodies; a path that parses but does not exist is 404.
        assert scenario.articles[1].body_html != scenario.articles[2].body_html
        assert Scenario.generated(50_000).articles[12_345] == scenario.articles[12_345]
        assert get(server, last.path.replace("31049999", "31050000"))[0] == 404
        assert get(server, server.scenario.site.listing_page_path(2501))[0] == 404


def test_generated_scenario_throughput() -> None:
    """Distinct pages per second in-process (the client shares the GIL, so this is a floor)."""
    scenario = Scenario.generated(50_000)
    with ReplicaServer(scenario=scenario) as server:
        paths = [scenario.articles[i].path for i in range(0, 50_000, 125)]  # 400 distinct

        def worker(chunk: list[str]) -> None:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
            for path in chunk:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                assert response.status == 200
            conn.close()

        started = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(worker, [paths[i::4] for i in range(4)]))
        rate = len(paths) / (time.perf_counter() - started)
    assert rate > 300, f"{rate:.0f} pages/s"


def test_module_entry_point_prints_listing_url_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsspider.replica", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert urlsplit(url).path == "/CATList-8100-CHANGYIEXINWE.html"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
