"""The crawl monitor: threshold table on the pure checks, then real tiny crawls of the replica."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsspider.monitor.checks import Thresholds, evaluate
from newsspider.replica.server import ReplicaServer
from tests.conftest import REPO

T = Thresholds(min_items=5, max_error_ratio=0.1, max_reject_ratio=0.2)


@pytest.mark.parametrize(
    ("stats", "reason", "failed"),
    [
        ({"item_scraped_count": 10, "downloader/response_count": 12}, "finished", []),
        # Known (already stored) articles and dropped duplicates count as seen.
        ({"item_scraped_count": 1, "newsspider/spider/articles_known": 3,
          "item_dropped_count": 1, "downloader/response_count": 3}, "finished", []),
        ({"item_scraped_count": 4, "downloader/response_count": 4}, "finished", ["min_items"]),
        ({"item_scraped_count": 10, "downloader/response_count": 10, "log_count/ERROR": 1},
         "finished", []),
        ({"item_scraped_count": 10, "downloader/response_count": 10, "log_count/ERROR": 2},
         "finished", ["error_ratio"]),
        # Errors without a single response (the site is down) always fail.
        ({"log_count/ERROR": 1}, "finished", ["error_ratio", "min_items"]),
        ({"item_scraped_count": 8, "item_dropped_count": 2, "newsspider/validate/rejected": 2,
          "downloader/response_count": 10}, "finished", []),
        ({"item_scraped_count": 7, "item_dropped_count": 3, "newsspider/validate/rejected": 3,
          "downloader/response_count": 10}, "finished", ["reject_ratio"]),
        # Repeated rejects (known-broken pages fetched again) are left out of both sides:
        # 1 of 6 counted passes, 3 of 8 does not.
        ({"item_scraped_count": 5, "item_dropped_count": 5, "newsspider/validate/rejected": 5,
          "newsspider/store/rejects_repeated": 4, "downloader/response_count": 10}, "finished", []),
        ({"item_scraped_count": 5, "item_dropped_count": 5, "newsspider/validate/rejected": 5,
          "newsspider/store/rejects_repeated": 2, "downloader/response_count": 10}, "finished",
         ["reject_ratio"]),
        # Nothing but repeats: nothing to judge, and no division by zero.
        ({"item_dropped_count": 3, "newsspider/validate/rejected": 3,
          "newsspider/store/rejects_repeated": 3, "newsspider/spider/articles_known": 5,
          "downloader/response_count": 4}, "finished", []),
        ({"item_scraped_count": 10, "downloader/response_count": 10}, "shutdown",
         ["finish_reason"]),
        ({"item_scraped_count": 10, "downloader/response_count": 10}, "closespider_itemcount",
         []),
        # A lost write, a dead writer or a quarantined journal record always fail.
        ({"item_scraped_count": 10, "downloader/response_count": 10,
          "newsspider/store/lost": 1}, "finished", ["store_writes"]),
        ({"item_scraped_count": 10, "downloader/response_count": 10,
          "newsspider/store/writer_died": 1}, "store_writer_died",
         ["finish_reason", "store_writes"]),
        ({"item_scraped_count": 10, "downloader/response_count": 10,
          "newsspider/store/journal_quarantined": 2}, "finished", ["store_writes"]),
        # Journaled writes are safe: the check passes (the exit code still says 1).
        ({"item_scraped_count": 10, "downloader/response_count": 10,
          "newsspider/store/journaled": 5}, "finished", []),
    ],
)
def test_thresholds(stats: dict, reason: str, failed: list[str]) -> None:
    results = evaluate(stats, reason, T)
    assert sorted(r.name for r in results if not r.passed) == sorted(failed)
    for result in results:
        assert result.message  # every check says what it measured


def test_the_reject_ratio_message_names_the_repeats_it_left_out() -> None:
    stats = {"item_scraped_count": 5, "item_dropped_count": 5, "newsspider/validate/rejected": 5,
             "newsspider/store/rejects_repeated": 4}
    [check] = [r for r in evaluate(stats, "finished", T) if r.name == "reject_ratio"]
    assert check.passed
    assert check.message == ("1 of 6 items rejected (ratio 0.167, max 0.2) "
                             "(4 repeated rejects of known-broken pages not counted)")
    plain = {"item_scraped_count": 8, "item_dropped_count": 2, "newsspider/validate/rejected": 2}
    [check] = [r for r in evaluate(plain, "finished", T) if r.name == "reject_ratio"]
    assert check.message == "2 of 10 items rejected (ratio 0.200, max 0.2)"


def test_min_items_zero_switches_the_check_off() -> None:
    results = evaluate({}, "finished", Thresholds(min_items=0))
    assert all(r.passed for r in results)


@pytest.fixture(scope="module")
def replica():
    with ReplicaServer() as server:
        yield server


def _newsspider_crawl(mongo_uri: str, db_name: str, data_dir: Path, start_url: str,
                      **settings: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "newsspider.cli", "crawl", "--quiet", "ofweek",
           "-a", f"start_url={start_url}",
           "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=INFO"]
    env = {**os.environ, "MONGO_URI": mongo_uri, "MONGO_DATABASE": db_name,
           "NEWSSPIDER_DATA_DIR": str(data_dir), **settings}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240,
                          check=False)


def test_healthy_crawl_passes_every_check(replica, mongo_uri, mongo_db, tmp_path) -> None:
    proc = _newsspider_crawl(mongo_uri, mongo_db.name, tmp_path, replica.listing_url)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "monitor: all" in proc.stderr and "checks passed" in proc.stderr
    run = mongo_db.runs.find_one()
    assert run is not None
    assert run["stats"]["newsspider/monitor/failed"] == 0
    assert run["checks"]["failed"] == []
    assert {"min_items", "error_ratio", "reject_ratio", "finish_reason", "store_writes"} <= set(
        run["checks"]["passed"])


def test_failing_checks_fail_the_crawl_and_are_recorded(
    replica, mongo_uri, mongo_db, tmp_path
) -> None:
    proc = _newsspider_crawl(
        mongo_uri, mongo_db.name, tmp_path, replica.listing_url,
        NEWSSPIDER_MONITOR_MIN_ITEMS="1000", NEWSSPIDER_MONITOR_MAX_REJECT_RATIO="0",
    )
    # Exit 1: the crawl ran but failed a health check (newsspider.cli).
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "ERROR: monitor check min_items failed" in proc.stderr
    assert "expected at least 1000" in proc.stderr
    assert "ERROR: monitor check reject_ratio failed" in proc.stderr
    run = mongo_db.runs.find_one()
    assert run is not None
    stats = run["stats"]
    assert stats["newsspider/monitor/failed"] == 2
    assert stats["newsspider/monitor/failed/min_items"] == 1
    assert stats["newsspider/monitor/failed/reject_ratio"] == 1
    assert sorted(c["name"] for c in run["checks"]["failed"]) == ["min_items", "reject_ratio"]
    assert "expected at least 1000" in {c["name"]: c["message"] for c in run["checks"]["failed"]}["min_items"]
    # The articles themselves were still stored: a failed check flags the run, no more.
    assert mongo_db.articles.count_documents({}) > 0
