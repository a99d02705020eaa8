"""A portal changes its template between runs: every article is still stored, the run fails its
drift check with a message an operator can act on, exits 1 from both commands, and one alert
reaches a loopback webhook; the next run on the restored template sends the recovery message.

Real crawls (subprocesses) of the replica into the real store, a real loopback webhook receiver.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys
import time

import pytest

from newsspider.replica.family import family_scenario
from newsspider.replica.server import ReplicaServer
from newsspider.replica.sites.ofweek import REDESIGN
from tests.conftest import REPO, crawl_command, crawl_env
from tests.webhooks import WebhookReceiver

TOKEN = "SECRET-TOKEN-123"  # in the webhook path (tests.webhooks); must never reach a log
# cnBeta's article page redesigned: the body, the date line and the source block renamed.
CNBETA_REDESIGN = (
    (r'<div class="cnbeta-article-body">', '<div class="story-text">'),
    (r'<div class="article-content">', '<div class="story-main">'),
    (r'<div class="meta">', '<p class="info">'),
    (r'<span class="source">', '<em class="from">'),
)


def _crawl(program: str, env: dict[str, str], listing_url: str, spider: str = "ofweek",
           **settings: str) -> subprocess.CompletedProcess[str]:
    # A plain incremental crawl, as scheduled: the stored articles are due again on the
    # next run (newsspider.revisit), so a changed template is seen without full=1.
    args = [f"start_url={listing_url}"]
    if program == "scrapy crawl":
        cmd = crawl_command(spider, *args, settings=settings)
    else:
        cmd = [sys.executable, "-m", "newsspider.cli", "crawl", "--quiet", spider,
               "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=INFO"]
        for arg in args:
            cmd += ["-a", arg]
        for name, value in settings.items():
            cmd += ["-s", f"{name}={value}"]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def _bodies(db) -> dict[str, str]:
    return {doc["_id"]: doc["body_text"] for doc in db.articles.find({}, {"body_text": 1})}


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _newest_run(db) -> dict:
    return next(db.runs.find().sort("started_at", -1).limit(1))


@pytest.fixture
def env(mongo_uri, mongo_db, tmp_path):
    return {**crawl_env(mongo_uri, mongo_db.name, tmp_path / "data")}


def test_ofweek_redesign_heals_fails_its_drift_check_alerts_and_recovers(env, mongo_db) -> None:
    with ReplicaServer() as replica, WebhookReceiver() as hook:
        env = {**env, "NEWSSPIDER_ALERT_WEBHOOKS": hook.url()}

        healthy = _crawl("scrapy crawl", env, replica.listing_url)
        assert healthy.returncode == 0, healthy.stderr[-3000:]
        assert hook.posts == []  # a healthy run after healthy runs says nothing
        before = _bodies(mongo_db)
        assert len(before) >= 20
        first = _newest_run(mongo_db)
        assert first["checks"]["failed"] == []
        assert first["coverage"]["selectors/body_html"] == 1.0
        assert first["stats"]["newsspider/coverage/selectors/body_html"] == 1.0

        replica.change_template(REDESIGN)
        changed = _crawl("scrapy crawl", env, replica.listing_url)
        assert changed.returncode == 1, changed.stderr[-3000:]

        # Every article is still stored, its body found automatically, as similar as the original.
        after = _bodies(mongo_db)
        assert set(after) == set(before)
        for url, text in before.items():
            assert _similarity(text, after[url]) >= 0.9, url
        for doc in mongo_db.articles.find({}, {"extraction": 1, "published_raw": 1}):
            assert doc["extraction"]["body_html"] == "auto", doc["_id"]
            assert doc["extraction"]["published_at"] == "auto"
            assert doc["extraction"]["title"] == "selectors"
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", doc["published_raw"])
        run = _newest_run(mongo_db)
        failed = {check["name"]: check["message"] for check in run["checks"]["failed"]}
        assert {"coverage/selectors/body_html", "coverage/selectors/published_at",
                "coverage/selectors/author"} <= set(failed)
        assert run["coverage"]["selectors/body_html"] == 0.0
        assert run["coverage"]["body_text"] == first["coverage"]["body_text"]  # nothing lost
        body = failed["coverage/selectors/body_html"]
        assert "baseline 1.00: median of the last healthy run" in body
        assert "'div.artical #articleC'" in body and "stopped matching" in body
        assert "article.body in newsspider.portals.ofweek" in body
        assert "automatic extraction found body_html on" in body
        assert "ERROR: monitor check coverage/selectors/body_html failed" in changed.stderr
        stats = run["stats"]
        assert stats["newsspider/extract/fallback/body_html"] >= len(before)
        assert stats["newsspider/monitor/failed"] == len(failed)

        assert len(hook.posts) == 1  # one alert for the failed run
        alert = hook.posts[0].body
        assert alert["event"] == "failed" and alert["portal"] == "ofweek"
        assert alert["run_id"] == run["_id"] and alert["worker"] == run["worker"]
        assert alert["finish_reason"] == "finished"
        assert {c["name"] for c in alert["failed"]} == set(failed)
        assert alert["counts"]["stored"] == len(before)

        # The same outcome through `newsspider crawl`: exit 1, a second alert.
        again = _crawl("newsspider crawl", env, replica.listing_url)
        assert again.returncode == 1, again.stderr[-3000:]
        assert len(hook.posts) == 2 and hook.posts[1].body["event"] == "failed"

        replica.restore_template()
        restored = _crawl("scrapy crawl", env, replica.listing_url)
        assert restored.returncode == 0, restored.stderr[-3000:]
        assert len(hook.posts) == 3
        recovery = hook.posts[2].body
        assert recovery["event"] == "recovered" and recovery["failed"] == []
        assert "coverage/selectors/body_html" in recovery["previously_failed"]
        assert recovery["text"].startswith("newsspider: ofweek recovered")
        # The failed runs are not part of the baseline: the restored run is judged by the first.
        assert _newest_run(mongo_db)["stats"]["newsspider/monitor/baseline_runs"] == 1

    for proc in (healthy, changed, again, restored):
        assert TOKEN not in proc.stderr + proc.stdout
        assert "/hook/***" in proc.stderr or proc is healthy

    listing = subprocess.run([sys.executable, "-m", "newsspider.cli", "runs"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120, check=False)
    assert listing.returncode == 0, listing.stderr[-2000:]
    assert "FAILED 3" in listing.stdout or "FAILED 4" in listing.stdout
    assert "  FAILED coverage/selectors/body_html: share of articles whose body_html" in listing.stdout
    assert "  selectors  title 1.00  published_at 0.00" in listing.stdout
    as_json = subprocess.run([sys.executable, "-m", "newsspider.cli", "runs", "--json"], cwd=REPO,
                             env=env, capture_output=True, text=True, timeout=120, check=False)
    docs = json.loads(as_json.stdout)
    assert [doc["checks"]["failed"] == [] for doc in docs] == [True, False, False, True]
    assert docs[1]["coverage"]["selectors/body_html"] == 0.0
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T.*", docs[0]["started_at"])


def test_another_portal_redesigned_heals_and_fails_its_check(env, mongo_db) -> None:
    """The same mechanism on a portal whose declaration knows nothing of OFweek."""
    with ReplicaServer(scenario=family_scenario("cnbeta")) as replica, WebhookReceiver() as hook:
        env = {**env, "NEWSSPIDER_ALERT_WEBHOOKS": hook.url(fragment="format=slack")}
        healthy = _crawl("scrapy crawl", env, replica.listing_url, spider="cnbeta")
        assert healthy.returncode == 0, healthy.stderr[-3000:]
        before = _bodies(mongo_db)
        replica.change_template(CNBETA_REDESIGN)
        changed = _crawl("scrapy crawl", env, replica.listing_url, spider="cnbeta")
        assert changed.returncode == 1, changed.stderr[-3000:]
        after = _bodies(mongo_db)
        assert set(after) == set(before) and len(before) >= 3
        for url, text in before.items():
            assert _similarity(text, after[url]) >= 0.9, url
        failed = {c["name"]: c["message"] for c in _newest_run(mongo_db)["checks"]["failed"]}
        assert "coverage/selectors/body_html" in failed
        assert "'div.cnbeta-article-body'" in failed["coverage/selectors/body_html"]
        assert len(hook.posts) == 1
        assert hook.posts[0].body["text"].startswith("*newsspider: cnbeta failed")


def test_a_first_run_is_judged_by_the_floors_alone(env, mongo_db) -> None:
    """No history yet: the portal's expect= and the selector floor still catch a broken template."""
    with ReplicaServer() as replica:
        replica.change_template(REDESIGN)
        proc = _crawl("newsspider crawl", env, replica.listing_url)
    assert proc.returncode == 1, proc.stderr[-3000:]
    run = _newest_run(mongo_db)
    assert run["stats"]["newsspider/monitor/baseline_runs"] == 0
    failed = {c["name"]: c["message"] for c in run["checks"]["failed"]}
    assert "below its floor 0.50 (NEWSSPIDER_MONITOR_SELECTOR_FLOOR)" in failed[
        "coverage/selectors/body_html"]
    assert "no baseline yet" in failed["coverage/selectors/body_html"]
    assert "none of the declared selectors matched (article.body in newsspider.portals.ofweek)" in (
        failed["coverage/selectors/body_html"])
    # OFweek's module expects an author on 80 % of articles; the redesign hides 5 of 24
    # bylines (0.79): one article short of the floor is chance, not drift.
    assert "coverage/author" in run["checks"]["passed"] and run["coverage"]["author"] < 0.8
    assert mongo_db.articles.count_documents({}) >= 20  # flagged, and nothing lost


def test_a_hanging_webhook_holds_the_exit_a_few_seconds_at_most(env, mongo_db) -> None:
    """The run fails a user's own spidermon monitor (NEWSSPIDER_MONITOR_SUITES): an
    article page gives one item, listing pages none, so there are fewer items than pages."""
    with ReplicaServer() as replica, WebhookReceiver("hang") as hook:
        env = {**env, "NEWSSPIDER_ALERT_WEBHOOKS": hook.url(), "NEWSSPIDER_ALERT_TIMEOUT": "2",
               "NEWSSPIDER_MONITOR_SUITES": "tests.monitor_suites.UserSuite"}
        proc = _crawl("scrapy crawl", env, replica.listing_url)
        assert proc.returncode == 1, proc.stderr[-3000:]
        assert len(hook.posts) >= 2  # tried, and retried within the two seconds
        assert hook.posts[0].body["failed"][0]["name"] == "mine/one item per page"
    log = proc.stderr
    assert "ERROR: monitor check mine/one item per page failed: " in log
    assert "alert (failed) not delivered to http://127.0.0.1:" in log
    assert TOKEN not in log
    run = _newest_run(mongo_db)
    assert [c["name"] for c in run["checks"]["failed"]] == ["mine/one item per page"]
    assert "min_items" in run["checks"]["passed"]  # ours ran beside it
    # From the failed check to the spider's close: the alert's two seconds and little else.
    stamps = [time.strptime(line[:19], "%Y-%m-%d %H:%M:%S") for line in log.splitlines()
              if "monitor check mine/one item per page failed" in line or "Spider closed" in line]
    assert len(stamps) == 2
    assert time.mktime(stamps[1]) - time.mktime(stamps[0]) <= 4
    assert mongo_db.articles.count_documents({}) >= 20
    assert os.environ.get("NEWSSPIDER_ALERT_WEBHOOKS") is None  # the test's env only
