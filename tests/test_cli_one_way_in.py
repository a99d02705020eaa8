"""One way in: ``newsspider crawl`` is ``scrapy crawl`` — same options, same exit codes both ways.

0 healthy, 1 a failed check, 2 a usage error (one line), 3 the store unavailable
(``newsspider/exitcodes.py``); ``tests/test_crawl_exit.py`` covers 0 and 3 with
the same options on both commands.  Every crawl here is a real subprocess
against the replica on loopback and the real store.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from newsspider.exitcodes import EXIT_CHECKS, EXIT_OK, EXIT_STORE, crawl_exit_code
from newsspider.replica.server import ReplicaServer
from newsspider.store.embedded import free_port
from tests.conftest import REPO, settings_free_env

SCRAPY = str(Path(sys.executable).with_name("scrapy"))
PROGRESS = re.compile(r"pages \d+  items \d+  \([\d.]+/s\)  rejects \d+  duplicates \d+")
NEWSSPIDER = str(Path(sys.executable).with_name("newsspider"))


@pytest.fixture(scope="module")
def replica():
    with ReplicaServer() as server:
        yield server


def _program(program: str) -> list[str]:
    return [SCRAPY, "crawl"] if program == "scrapy crawl" else [NEWSSPIDER, "crawl"]


@pytest.mark.parametrize("program", ["scrapy crawl", "newsspider crawl"])
def test_a_failed_check_exits_1_both_ways(program, replica, mongo_uri, mongo_db, tmp_path) -> None:
    feed, log = tmp_path / "items.jsonl", tmp_path / "crawl.log"
    env = settings_free_env(MONGO_URI=mongo_uri, MONGO_DATABASE=mongo_db.name,
                            NEWSSPIDER_DATA_DIR=str(tmp_path / "data"),
                            NEWSSPIDER_MONITOR_MIN_ITEMS="1000", AUTOTHROTTLE_ENABLED="false")
    # newsspider crawl runs from any directory; scrapy crawl from the project's (scrapy.cfg).
    cwd = REPO if program == "scrapy crawl" else tmp_path
    proc = subprocess.run(
        [*_program(program), "ofweek", "-a", f"start_url={replica.listing_url}",
         "-a", "max_pages=1", "-o", f"{feed}:jsonlines", "--logfile", str(log), "-L", "INFO"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False,
    )
    text = log.read_text(encoding="utf-8")
    assert proc.returncode == EXIT_CHECKS, text[-3000:]
    assert "monitor check min_items failed" in text
    assert len(feed.read_text(encoding="utf-8").splitlines()) == mongo_db.articles.count_documents(
        {}) > 0  # the crawl itself ran and wrote its feed: a failed check flags it, no more


@pytest.mark.parametrize(("argv", "says"), [
    ([NEWSSPIDER, "crawl", "-s", "FOO", "ofweek"], "Invalid -s value"),
    ([NEWSSPIDER, "crawl", "nope"], "unknown portal 'nope'"),
    ([SCRAPY, "crawl", "nope"], "unknown portal 'nope'"),
    ([NEWSSPIDER, "crawl"], "the following arguments are required: portal"),
    ([SCRAPY, "crawl"], "crawl takes one portal name"),
    ([SCRAPY, "crawl", "ofweek", "zaker"], "crawl takes one portal name"),
    ([NEWSSPIDER, "crawl", "ofweek", "-a", "max_pages=x"], "-a max_pages must be a whole number"),
    ([SCRAPY, "crawl", "ofweek", "-a", "since=yesterday"], "-a since must be YYYY-MM-DD"),
    ([NEWSSPIDER, "crawl", "ofweek", "-a", "novalue"], "Invalid -a value"),
    ([NEWSSPIDER, "crawl", "ofweek", "--bogus"], "unrecognized arguments: --bogus"),
    ([NEWSSPIDER, "demo", "-s", "RETRY_TIMES=x"], "RETRY_TIMES='x' (command line)"),
    ([NEWSSPIDER, "runs", "--limit", "many"], "invalid int value: 'many'"),
    ([NEWSSPIDER, "bogus"], "invalid choice: 'bogus'"),
    ([NEWSSPIDER], "the following arguments are required: COMMAND"),
    ([NEWSSPIDER, "replica", "--port", "x"], "invalid int value: 'x'"),
])
def test_every_usage_error_exits_2_with_one_line(argv, says, tmp_path) -> None:
    proc = subprocess.run(argv, cwd=REPO, env=settings_free_env(NEWSSPIDER_DATA_DIR=str(tmp_path)),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], proc.stderr


def test_a_command_whose_store_is_unreachable_exits_3_with_one_line(tmp_path) -> None:
    env = settings_free_env(MONGO_URI=f"mongodb://127.0.0.1:{free_port()}",
                            NEWSSPIDER_DATA_DIR=str(tmp_path))
    proc = subprocess.run([NEWSSPIDER, "runs"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == EXIT_STORE, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("newsspider: store unavailable: "), proc.stderr


def test_version() -> None:
    proc = subprocess.run([NEWSSPIDER, "--version"], capture_output=True, text=True, timeout=60,
                          check=True)
    from importlib.metadata import version

    assert proc.stdout.startswith(f"newsspider {version('newsspider')} (Scrapy 2.19")


def test_replica_port_is_the_port_it_serves_on() -> None:
    port = free_port()
    proc = subprocess.Popen([NEWSSPIDER, "replica", "--port", str(port)], stdout=subprocess.PIPE,
                            text=True, cwd=REPO)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith(f"http://127.0.0.1:{port}/")
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200 and b"<html" in response.read().lower()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0


def _crawl_on_a_terminal(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run ``argv`` with stderr on a pseudo-terminal; its exit code and what the terminal showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer has closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return proc.wait(timeout=240), shown.decode("utf-8", "replace")


def test_the_progress_line_only_on_a_terminal(replica, mongo_uri, mongo_db, tmp_path) -> None:
    env = settings_free_env(MONGO_URI=mongo_uri, MONGO_DATABASE=mongo_db.name,
                            NEWSSPIDER_DATA_DIR=str(tmp_path / "data"),
                            NEWSSPIDER_PROGRESS_INTERVAL="0.1", AUTOTHROTTLE_ENABLED="false")
    argv = [NEWSSPIDER, "crawl", "ofweek", "-a", f"start_url={replica.listing_url}",
            "-a", "full=1"]
    code, shown = _crawl_on_a_terminal([*argv, "--logfile", str(tmp_path / "tty.log")], env, REPO)
    assert code == EXIT_OK, shown[-3000:]
    assert PROGRESS.search(shown) and "\r" in shown
    tty_log = (tmp_path / "tty.log").read_text(encoding="utf-8")
    assert "Crawled " not in tty_log  # the line replaces Scrapy's periodic one

    piped = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=240,
                           check=False)
    assert piped.returncode == EXIT_OK, piped.stderr[-3000:]
    assert not PROGRESS.search(piped.stderr) and "\r" not in piped.stderr
    assert "Crawled 0 pages (at 0 pages/min)" in piped.stderr  # Scrapy's periodic log instead


@pytest.mark.parametrize(("stats", "code"), [
    ({"finish_reason": "finished"}, EXIT_OK),
    ({"finish_reason": "closespider_itemcount"}, EXIT_OK),
    ({"finish_reason": "shutdown"}, EXIT_CHECKS),
    # With the health checks, NEWSSPIDER_MONITOR_FINISH_REASONS decides the finish reason.
    ({"finish_reason": "shutdown", "newsspider/monitor/checks": 4,
      "newsspider/monitor/failed": 0}, EXIT_OK),
    ({"finish_reason": "finished", "newsspider/monitor/checks": 4,
      "newsspider/monitor/failed": 1}, EXIT_CHECKS),
    ({"finish_reason": "finished", "newsspider/store/journaled": 12}, EXIT_CHECKS),
    ({"finish_reason": "store_unavailable", "newsspider/store/unavailable": 1}, EXIT_STORE),
    ({}, EXIT_CHECKS),
])
def test_the_outcome_rule(stats, code) -> None:
    assert crawl_exit_code(stats) == code


def test_a_crawl_scrapy_could_not_start_is_a_failure() -> None:
    assert crawl_exit_code({}, started=False) == EXIT_CHECKS
    assert crawl_exit_code({"newsspider/store/unavailable": 1}, started=False) == EXIT_STORE
