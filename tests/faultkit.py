"""Helpers for the fault, crash and outage tests: crawls as subprocesses we can kill.

``spawn_crawl`` starts ``scrapy crawl`` exactly as ``tests.conftest.scrapy_crawl``
runs it, but returns the ``Popen`` so a test can signal it mid-crawl.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import REPO, crawl_command, crawl_env

# Small batches and quick flushes: "stored so far" is visible while the crawl runs.
LIVE_STORE = {"NEWSSPIDER_STORE_BATCH_SIZE": "10", "NEWSSPIDER_STORE_FLUSH_SECONDS": "0.3"}
# Retries without long waits, so fault tests stay fast (the backoff itself is unit-tested).
QUICK_RETRY = {"NEWSSPIDER_RETRY_BACKOFF_BASE": "0.1", "NEWSSPIDER_RETRY_BACKOFF_MAX": "0.5"}


def spawn_crawl(
    mongo_uri: str, db_name: str, data_dir: Path, log: Path, spider: str, *args: str,
    settings: dict[str, Any] | None = None,
) -> subprocess.Popen[bytes]:
    """``scrapy crawl`` in the background, its output appended to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            crawl_command(spider, *args, settings=settings),
            cwd=REPO, env=crawl_env(mongo_uri, db_name, data_dir),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def stop(proc: subprocess.Popen[bytes], sig: int, timeout: float = 60) -> int:
    """Send ``sig`` and wait; returns the exit code (SIGKILL it if it hangs, and fail)."""
    proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        raise AssertionError(f"crawl did not exit within {timeout:.0f}s of signal {sig}") from None


def article_hits(replica: Any) -> dict[str, int]:
    """Requests per article page path, for every page of every listed article."""
    return {
        path: replica.hits[path]
        for spec in replica.scenario.listed_articles
        for path in spec.page_paths
    }


def storable_urls(replica: Any) -> set[str]:
    """Canonical URLs of listed articles a correct crawl stores (not the 500s, empties, copies)."""
    out = set()
    for spec in replica.scenario.listed_articles:
        want = replica.expected(spec)
        if want["always_500"] or want["empty_body"] or want["duplicate_of"] or spec.fault:
            continue
        out.add(want["url"])
    return out


def tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""
