"""Issue 21's small ones: bad arguments exit 2 with a reason, an unreachable store exits 3,
a listing answered with JSON, a size refusal that names the limit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy import signals
from scrapy.exceptions import DownloadCancelledError
from scrapy.http import Request
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from newsspider.extract import parse_listing
from newsspider.portals import all_portals
from newsspider.spiders.portals import OfweekSpider
from newsspider.store.embedded import free_port
from tests.conftest import REPO

BIN = Path(sys.executable).parent


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, **(env or {})})


@pytest.mark.parametrize(("argument", "says"), [
    ("start_url=http://[::1", "Invalid IPv6 URL"),
    ("start_url=http://127.0.0.1:99999/", "Port out of range"),
    ("since=0001-01-01", "from 1970-01-01"),
    ("since=2999-01-01", "to today"),
])
@pytest.mark.parametrize("program", ["scrapy", "newsspider"])
def test_bad_arguments_exit_2_with_the_reason(program: str, argument: str, says: str) -> None:
    unreachable = {"MONGO_URI": f"mongodb://127.0.0.1:{free_port()}"}
    done = _run(program, "crawl", "ofweek", "-a", argument, env=unreachable)
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if says in line]
    assert len(errors) == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [["runs"], ["export", "jsonl", "--out", "-"]])
def test_commands_reading_an_unreachable_store_exit_3_in_one_line(command: list[str]) -> None:
    uri = f"mongodb://reader:S3cret%23pw@127.0.0.1:{free_port()}/"
    done = _run("newsspider", *command,
                env={"MONGO_URI": uri, "NEWSSPIDER_STORE_START_TIMEOUT": "1"})
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "newsspider: store unavailable: the store at mongodb://REDACTED@")
    assert "S3cret" not in done.stderr and "Traceback" not in done.stderr


def test_a_listing_answered_with_json_is_an_empty_page_not_an_error() -> None:
    portal = all_portals()["ofweek"]
    page = parse_listing('{"items": [{"url": "/a.html"}]}', "https://www.ofweek.com/CATList-8100.html",
                         portal)
    assert page.items == [] and not page.cut_short


def test_a_page_cut_off_while_streaming_past_the_size_limit_names_the_limit() -> None:
    crawler = get_crawler(OfweekSpider, {"DOWNLOAD_MAXSIZE": 1234, "NEWSSPIDER_RESUME_ENABLED": False})
    spider = OfweekSpider(full="1")
    spider.crawler = crawler
    failure = Failure(DownloadCancelledError())  # what Scrapy raises when it stops mid-body
    failure.request = Request("https://www.ofweek.com/a.html")  # type: ignore[attr-defined]
    key, message = spider._failure_reason(failure)
    assert key == "too_large"
    assert message.startswith("page larger than DOWNLOAD_MAXSIZE (1234 bytes): ")
    assert message.split(": ", 1)[1]


def test_a_listing_callback_that_raises_counts_as_a_listing_failure() -> None:
    from scrapy.http import HtmlResponse

    crawler = get_crawler(OfweekSpider, {"NEWSSPIDER_RESUME_ENABLED": False})
    spider = OfweekSpider.from_crawler(crawler, full="1")
    listing = Request("https://www.ofweek.com/CATList-8100.html", cb_kwargs={"page_no": 2})
    article = Request("https://www.ofweek.com/2021-03/ART-1.html")
    for request in (listing, article):
        crawler.signals.send_catch_log(
            signals.spider_error,
            failure=Failure(ValueError("boom")), response=HtmlResponse(request.url, request=request),
            spider=spider)
    assert spider._listing_failures == 1  # so crawl_state is not "complete": the next run resumes
