"""What the scale-out tests share: a private redis-server, and worker processes.

A real ``redis-server`` on a free loopback port (Debian package; with
``CI=true`` its absence is a failure, never a skip) and real ``scrapy crawl``
subprocesses, as a user runs them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from redis import Redis

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A private redis-server, no persistence; yields its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


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
    cmd = [str(Path(sys.executable).with_name("scrapy")), "crawl", spider]
    for arg in args:
        cmd += ["-a", arg]
    merged = {"AUTOTHROTTLE_ENABLED": "False", "LOG_LEVEL": "INFO", **(settings or {})}
    for name, value in merged.items():
        cmd += ["-s", f"{name}={value}"]
    full_env = {
        **os.environ,
        "MONGO_URI": mongo_uri,
        "MONGO_DATABASE": db_name,
        "NEWSSPIDER_DATA_DIR": str(data_dir),
        "REDIS_URL": redis_url,
        "NEWSSPIDER_REDIS_IDLE_SECONDS": "1",
        "NEWSSPIDER_REDIS_HEARTBEAT_SECONDS": "0.2",
        # With a few workers one may legitimately see no article (CONTRACT's checks are per run).
        "NEWSSPIDER_MONITOR_MIN_ITEMS": "0",
        **(env or {}),
    }
    return subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=subprocess.DEVNULL,
                            stderr=log.open("wb"))


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
