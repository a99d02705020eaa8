"""What the scale-out tests share: a private redis-server, and worker processes.

A real ``redis-server`` on a free loopback port (Debian package; with
``CI=true`` its absence is a failure, never a skip) and real ``scrapy crawl``
subprocesses, as a user runs them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.scaleout import redis_available
from bench.scaleout import redis_server as bench_redis_server
from tests.conftest import REPO, crawl_command, crawl_env


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A private redis-server (the bench's); yields its URL."""
    if redis_available() is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with bench_redis_server(workdir) as (url, _):
        yield url


def start_worker(
    log: Path,
    *,
    mongo_uri: str,
    db_name: str,
    data_dir: Path,
    redis_url: str,
    args: list[str],
    settings: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    spider: str = "ofweek",
) -> subprocess.Popen[bytes]:
    """One ``scrapy crawl`` worker of a shared crawl, its log in ``log``."""
    full_env = {
        **crawl_env(mongo_uri, db_name, data_dir),
        "REDIS_URL": redis_url,
        "NEWSSPIDER_REDIS_IDLE_SECONDS": "1",
        "NEWSSPIDER_REDIS_HEARTBEAT_SECONDS": "0.2",
        # With a few workers one may legitimately see no article (CONTRACT's checks are per run).
        "NEWSSPIDER_MONITOR_MIN_ITEMS": "0",
        **(env or {}),
    }
    return subprocess.Popen(crawl_command(spider, *args, settings=settings), cwd=REPO,
                            env=full_env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))


def wait_all(workers: list[subprocess.Popen[bytes]], logs: list[Path],
             timeout: float = 240) -> list[str]:
    """Wait for every worker; assert each exited 0; return their logs."""
    deadline = time.monotonic() + timeout
    try:
        codes = [w.wait(timeout=max(1.0, deadline - time.monotonic())) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    texts = [log.read_text(errors="replace") for log in logs]
    for code, text in zip(codes, texts, strict=True):
        assert code == 0, text[-4000:]
    return texts


def worker_name(proc: subprocess.Popen[bytes]) -> str:
    """The worker id a process registers under in Redis (``host:pid``)."""
    return f"{socket.gethostname()}:{proc.pid}"
