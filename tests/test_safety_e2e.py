"""Issue 21 at crawl level: deep pages, odd dates, huge documents, secrets in the URI.

Real ``scrapy crawl`` subprocesses against the replica and the real store;
articles are added to a generated scenario at run time.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsspider.replica.faults import FaultPlan
from newsspider.replica.model import Scenario
from newsspider.replica.scenarios import new_article
from newsspider.replica.server import ReplicaServer
from newsspider.store.embedded import free_port
from tests.conftest import REPO, crawl_command, crawl_env


def _add(replica: ReplicaServer, title: str, body: str, article_id: int,
         printed: str | None = None) -> str:
    spec = new_article(title, body, article_id=article_id,
                       published_at=datetime(2024, 3, 1, 2, 0, tzinfo=UTC))
    if printed is not None:  # the date as the listing and the article page print it
        spec = dataclasses.replace(spec, published=printed)
    replica.scenario.add(spec)
    replica._invalidate()
    return replica.url(spec)


def test_deep_pages_and_odd_dates(run_crawl, mongo_db) -> None:
    with ReplicaServer(scenario=Scenario.generated(20, per_page=40, seed=2121)) as rep:
        deep = _add(rep, "四百层嵌套", "".join(f"<font>第{i}行<br>" for i in range(400)), 31_000_001)
        too_deep = [
            _add(rep, f"十万层嵌套{n}", "<div>" * 100_000 + f"<p>唯一的正文{n}</p>" + "</div>" * 100_000,
                 31_000_002 + n)
            for n in range(2)
        ]
        year_one = _add(rep, "公元一年", "<p>日期是公元一年的文章正文。</p>", 31_000_010,
                        printed="0001-01-01 00:00")
        year_max = _add(rep, "九九九九年", "<p>日期是9999年的文章正文。</p>", 31_000_011,
                        printed="9999-12-31 23:59")
        result = run_crawl("ofweek", f"start_url={rep.listing_url}", "max_pages=1")
    assert result.returncode == 0, result
    db = mongo_db
    # 400 levels: parsed whole, every line kept (libxml2's default stops at 256).
    stored = db.articles.find_one({"_id": deep})
    assert stored is not None
    assert [f"第{i}行" for i in range(400)] == stored["body_text"].split("\n")
    # 100,000 levels: rejected with the reason, never stored cut, never merged as a copy.
    for url in too_deep:
        assert db.articles.find_one({"_id": url}) is None
        (error,) = db.rejects.find_one({"url": url})["errors"]
        assert error["field"] == "body_html" and "2048" in error["message"]
    assert db.articles.count_documents({"alternate_urls.0": {"$exists": True}}) == 0
    assert db.url_aliases.count_documents({}) == 0
    # Year 0001 and 9999: missing dates (raw kept), the listing page processed all the same.
    for url, raw in ((year_one, "0001-01-01 00:00"), (year_max, "9999-12-31 23:59")):
        reject = db.rejects.find_one({"url": url})
        assert reject is not None and reject["item"]["published_raw"] == raw
        assert reject["errors"][0]["field"] == "published_at"
        assert "1970-01-01" in reject["errors"][0]["message"]
    assert db.articles.count_documents({}) == 20 + 1
    run = db.runs.find_one({})
    stats = run["stats"]
    assert stats["newsspider/spider/dates_out_of_range"] == 4  # two listed, two printed on pages
    assert stats["newsspider/spider/pages_cut_short"] == 2
    assert db.crawl_state.find_one({})["state"] == "complete"  # nothing left for a resume
    assert "OverflowError" not in result.stderr and "Traceback" not in result.stderr


def test_a_document_over_16_mb_is_rejected_before_the_store(run_crawl, mongo_db) -> None:
    # A 4 MB GBK body: body_html, body_text and raw_body_html in UTF-8 pass 16 MiB.
    plan = FaultPlan(0.0, oversized_bytes=4 * 1024 * 1024)
    with ReplicaServer(scenario=Scenario.generated(6, per_page=20, seed=2122), faults=plan) as rep:
        result = run_crawl("ofweek", f"start_url={rep.listing_url}", "max_pages=1",
                           settings={"DOWNLOAD_MAXSIZE": str(32 * 1024 * 1024)})
        big = rep.url("/2021-03/ART-8420-8120-39999999.html")
    assert result.returncode == 0, result
    assert mongo_db.articles.find_one({"_id": big}, {"_id": 1}) is None
    (error,) = mongo_db.rejects.find_one({"url": big})["errors"]
    assert error["field"] == "document"
    size = int(re.search(r"would be (\d+) bytes", error["message"]).group(1))
    assert size > 16 * 1024 * 1024 and "16777216" in error["message"]
    assert mongo_db.articles.count_documents({}) == 6
    assert "write_errors" not in str(mongo_db.runs.find_one({})["stats"])


@pytest.mark.parametrize("password", ["pa#ss9", "p@ss9", "pa/ss:x?y9", "s3cr%23t9"])
def test_no_secret_in_the_log_of_a_crawl_that_cannot_log_in(tmp_path: Path, password: str) -> None:
    from urllib.parse import quote_plus, unquote_plus

    secret_user = "Us3rSecret"
    # "#" needs no escaping for pymongo; the others are given as quote_plus makes them.
    raw = password if password == "pa#ss9" else quote_plus(password)
    uri = (f"mongodb://{secret_user}:{raw}@127.0.0.1:{free_port()}/db"
           "?authMechanism=SCRAM-SHA-256&authMechanismProperties=AWS_SESSION_TOKEN:T0kenSecret")
    env = crawl_env(uri, "nosecret", tmp_path / "data")
    env["NEWSSPIDER_STORE_START_TIMEOUT"] = "1"
    done = subprocess.run(crawl_command("ofweek", "start_url=http://127.0.0.1:9/", settings={}),
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 3, done.stderr[-2000:]
    log = done.stdout + done.stderr
    assert "REDACTED" in log
    for secret in {raw, unquote_plus(raw), secret_user, "T0kenSecret"}:
        assert secret not in log, secret


def test_exports_never_order_by_a_date_beyond_now_plus_two_days(mongo_db, tmp_path: Path) -> None:
    import json

    from newsspider.export.hexo import export_hexo
    from newsspider.export.jsonl import export_jsonl
    from newsspider.export.rss import export_rss

    def doc(n: int, published: datetime) -> dict:
        url = f"https://a.test/x/{n}"
        return {"_id": url, "url": url, "portal": "ofweek", "site_name": "站", "title": f"第{n}篇",
                "categories": ["新闻"], "body_html": f"<p>{n}</p>", "body_text": str(n),
                "published_at": published, "published_raw": published.isoformat(),
                "first_seen_at": datetime(2024, 6, n, tzinfo=UTC)}

    # As an older version stored it: year 9999 in the store.
    mongo_db.articles.insert_many([doc(1, datetime(2024, 5, 1, tzinfo=UTC)),
                                   doc(2, datetime(9999, 12, 31, tzinfo=UTC)),
                                   doc(3, datetime(2024, 5, 3, tzinfo=UTC))])
    assert export_jsonl(mongo_db, tmp_path / "a.jsonl") == 3
    order = [json.loads(line)["_id"] for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert order == ["https://a.test/x/3", "https://a.test/x/1", "https://a.test/x/2"]
    export_rss(mongo_db, tmp_path / "feed.xml")
    feed = (tmp_path / "feed.xml").read_text()
    assert "9999" not in feed.split("<item>", 1)[0]  # lastBuildDate: the newest believable date
    assert "<lastBuildDate>Fri, 03 May 2024" in feed
    export_hexo(mongo_db, tmp_path / "hexo")
    posts = {p.read_text().split("title: '", 1)[1].split("'", 1)[0]: p.read_text()
             for p in (tmp_path / "hexo").glob("*.md")}
    assert "date: Sun, 02 Jun 2024" in posts["第2篇"]  # its first_seen_at
