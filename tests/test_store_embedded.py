"""The embedded store's process lifecycle: it answers, it stops, it never outlives a killed crawl."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pymongo import MongoClient

from newsspider.store.embedded import EmbeddedStore, StoreStartError


def test_start_ping_stop(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path) as store:
        client: MongoClient = MongoClient(store.uri, serverSelectionTimeoutMS=3000)
        assert client.admin.command("ping")["ok"] == 1
        client.close()
        pid = store.process.pid
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)


def test_spawn_then_wait_ready(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    store.spawn()
    try:
        assert store.wait_ready() == store.uri
    finally:
        store.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux")
def test_store_dies_with_a_sigkilled_crawl(tmp_path: Path) -> None:
    code = (
        "from newsspider.store.embedded import EmbeddedStore\n"
        f"s = EmbeddedStore({str(tmp_path)!r}); s.start(); print(s.process.pid, flush=True)\n"
        "import time; time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    store_pid = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(store_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(store_pid, signal.SIGKILL)
    pytest.fail("the embedded store outlived the process that started it")


def test_a_dead_server_says_where_its_log_is(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store", start_timeout=10)
    blocker = EmbeddedStore(tmp_path / "other", port=store.port)
    blocker.start()
    try:
        with pytest.raises(StoreStartError, match="nx-27017"):
            store.start()
    finally:
        store.stop()
        blocker.stop()


def test_answered_writes_survive_a_killed_server(tmp_path: Path) -> None:
    # stop() kills a server that sits out its SIGTERM: that must lose nothing answered.
    server = EmbeddedStore(tmp_path)
    server.start()
    client: MongoClient[dict] = MongoClient(server.wait_ready())
    client.db.articles.insert_many([{"_id": f"u{i}", "body": "正文" * 500} for i in range(500)])
    client.close()
    pid_file = server.pid_file
    assert pid_file.exists()
    server.kill()
    assert not pid_file.exists()  # removed for it: a killed nx-27017 leaves its pid file
    server = EmbeddedStore(tmp_path)
    server.start()
    client = MongoClient(server.wait_ready())
    try:
        assert client.db.articles.count_documents({}) == 500
        assert client.db.articles.find_one({"_id": "u499"})["body"] == "正文" * 500
    finally:
        client.close()
        server.stop()


def test_terminate_returns_at_once_and_wait_stopped_reaps(tmp_path: Path) -> None:
    server = EmbeddedStore(tmp_path)
    server.start()
    proc = server.process
    started = time.monotonic()
    server.terminate()
    assert time.monotonic() - started < 0.05  # a signal, no wait
    assert server.process is None and not server.running
    started = time.monotonic()
    server.wait_stopped(timeout=2)
    waited = time.monotonic() - started
    assert proc.poll() is not None  # reaped
    # nx-27017 (0.8) takes a SIGTERM in 0.06-0.12 s, but sits about one in
    # seven out for good (EmbeddedStore.stop): then, and only then, it is
    # killed, after the whole grace period.
    if proc.returncode == -signal.SIGKILL:
        assert waited >= 2
    else:
        assert waited < 2


def test_wait_stopped_kills_a_server_that_sits_out_its_sigterm(tmp_path: Path) -> None:
    server = EmbeddedStore(tmp_path)
    server.start()
    proc = server.process
    os.kill(proc.pid, signal.SIGSTOP)  # a stopped process holds its SIGTERM, as a stuck one would
    server.terminate()
    started = time.monotonic()
    server.wait_stopped(timeout=0.3)
    assert proc.returncode == -signal.SIGKILL
    assert not server.pid_file.exists()
    assert time.monotonic() - started < 5
