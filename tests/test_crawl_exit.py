"""The end of ``scrapy crawl`` and ``newsspider crawl``: every write made and every helper stopped before the process leaves.

The crawl's own store lets its embedded server exit while the spider closes,
reaping it when the engine stops (``Store.for_crawler``); that may not cost a
line of log, a feed record, a stored article or a stray process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from pymongo import MongoClient

from newsspider.replica.server import ReplicaServer
from newsspider.store.embedded import EmbeddedStore
from tests.conftest import REPO


def _processes_using(path: Path) -> list[str]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(path) in cmdline:
            found.append(cmdline)
    return found


def _command(program: str, listing_url: str, log: Path, feed: Path) -> list[str]:
    """The same crawl with the same options, through either command."""
    argv = ([str(Path(sys.executable).with_name("scrapy")), "crawl"] if program == "scrapy crawl"
            else [sys.executable, "-m", "newsspider.cli", "crawl", "--quiet"])
    return [*argv, "ofweek", "-a", f"start_url={listing_url}", "-a", "full=1",
            "-s", "AUTOTHROTTLE_ENABLED=False", "-L", "INFO", "--logfile", str(log),
            "-o", f"{feed}:jsonlines"]


@pytest.mark.parametrize("program", ["scrapy crawl", "newsspider crawl"])
def test_a_finished_crawl_has_written_everything_and_left_no_process(tmp_path: Path, program: str) -> None:
    data_dir, log, feed = tmp_path / "data", tmp_path / "crawl.log", tmp_path / "items.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URI", "MONGO_DATABASE")}
    env["NEWSSPIDER_DATA_DIR"] = str(data_dir)  # no MONGO_URI: the embedded store serves the crawl
    with ReplicaServer() as replica:
        cmd = _command(program, replica.listing_url, log, feed)
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240,
                              check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]

    text = log.read_text(encoding="utf-8")
    assert "Spider closed (finished)" in text  # the log is flushed to its last line
    scraped = int(re.search(r"'item_scraped_count': (\d+)", text).group(1))
    assert scraped > 10
    records = [json.loads(line) for line in feed.read_text(encoding="utf-8").splitlines()]
    assert len(records) == scraped  # the feed is complete

    assert _processes_using(data_dir) == []  # the embedded server is gone
    assert list((data_dir / "store").glob("*.pid")) == []  # killed at the close: its pid file removed
    server = EmbeddedStore(data_dir / "store")
    client: MongoClient = MongoClient(server.start())
    try:
        db = client["newsspider"]
        assert db.articles.count_documents({}) == scraped  # every article reached the store
        assert db.runs.count_documents({"finish_reason": "finished"}) == 1
    finally:
        client.close()
        server.stop()


@pytest.mark.parametrize("program", ["scrapy crawl", "newsspider crawl"])
@pytest.mark.parametrize("store", ["unreachable MONGO_URI", "embedded store cannot start"])
def test_a_crawl_without_its_store_fetches_nothing_says_why_once_and_exits_3(
    tmp_path: Path, program: str, store: str,
) -> None:
    from newsspider.store.embedded import free_port

    data_dir, log, feed = tmp_path / "data", tmp_path / "crawl.log", tmp_path / "items.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URI", "MONGO_DATABASE")}
    env["NEWSSPIDER_DATA_DIR"] = str(data_dir)
    env["NEWSSPIDER_STORE_START_TIMEOUT"] = "1"
    if store == "unreachable MONGO_URI":
        env["MONGO_URI"] = f"mongodb://127.0.0.1:{free_port()}"  # nothing listens there
    else:
        data_dir.mkdir()
        (data_dir / "store").write_text("a file where the store's directory should be")
    with ReplicaServer() as replica:
        cmd = _command(program, replica.listing_url, log, feed)
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
                              check=False)
        fetched = sum(replica.hits.values())
    text = log.read_text(encoding="utf-8") + proc.stderr
    assert proc.returncode == 3, text[-3000:]
    assert fetched == 0  # closed before the first request
    assert text.count("store unavailable:") == 1  # the cause, once, not once per component
    assert "Closing spider (store_unavailable)" in text
    assert "Traceback" not in text and "never retrieved" not in text
