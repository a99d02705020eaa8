"""Body processing in worker processes: same output as in-process, nothing lost when a worker dies.

``process_body`` against the two stages it combines, on every corpus body;
the worker protocol against a real ``python -m newsspider.normalize.worker``;
and whole crawls of the replica with workers, without them, and with a
worker SIGKILLed mid-crawl.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest
from pymongo import MongoClient

from newsspider.normalize.body import (
    HEADER,
    BodySpec,
    ProcessedBody,
    frame,
    from_wire,
    process_body,
)
from newsspider.normalize.html import normalize_body, resolve_body
from newsspider.normalize.pool import usable_cpus, worker_count
from newsspider.normalize.rules import BodyRules
from newsspider.normalize.text import content_hash, simhash64
from newsspider.replica.scenarios import generated_scenario
from newsspider.replica.server import ReplicaServer
from tests.conftest import REPO, scrapy_crawl
from tests.test_normalize_corpus import BASE_URLS, FILES, RULES, read_body


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_process_body_is_both_stages_in_one_parse(path: Path) -> None:
    portal = path.parent.name
    rules = RULES.get(portal)
    html, base = read_body(path), BASE_URLS[portal]
    out = process_body(html, base, BodySpec.of(rules))
    resolved = resolve_body(html, base, rules)
    normalized = normalize_body(resolved.html, base, rules)
    assert out.resolved_html == resolved.html
    assert out.images == resolved.images
    assert out.normalized is not None
    assert (out.normalized.html, out.normalized.text) == (normalized.html, normalized.text)
    assert out.content_hash == content_hash(normalized.text)
    assert out.simhash == simhash64(normalized.text)


def test_body_spec_rebuilds_rules_and_image_config_from_strings() -> None:
    rules = BodyRules(unwrap=("span.hrefStyle",), drop=("div.ad",))
    spec = BodySpec.of(rules, ("https://img.example/p?u={url}",), (r"spacer\.gif$",))
    copy = pickle.loads(pickle.dumps(spec))
    assert copy == spec
    assert copy.rules() == rules
    config = copy.config()
    assert r"spacer\.gif$" in config.placeholders
    assert BodySpec.of(None).rules() is None


@pytest.mark.parametrize(("value", "expected"), [("0", 0), (3, 3), ("2", 2)])
def test_worker_count_values(value: object, expected: int) -> None:
    assert worker_count(value) == expected  # type: ignore[arg-type]


def test_worker_count_auto_leaves_the_crawl_its_own_cpu() -> None:
    cpus = usable_cpus()
    assert 1 <= cpus <= len(os.sched_getaffinity(0))
    assert worker_count("auto") == min(4, cpus - 1)


_POOL_SCRIPT = """
import json, sys
from twisted.internet import defer, task
from newsspider.normalize.body import BodySpec, process_body
from newsspider.normalize.pool import BodyPool

async def main(reactor):
    command = json.loads(sys.argv[1]) or None
    pool = BodyPool(2, reactor, command=command)
    pool.start()
    spec = BodySpec.of(None)
    bodies = ['<p>正文 %d <img data-src="/%d.png" src="/x.gif"></p>' % (i, i) for i in range(6)]
    results = [await pool.process(b, "https://a.example/", spec) for b in bodies]
    await pool.close()
    same = all(r.normalized.html == process_body(b, "https://a.example/", spec).normalized.html
               for r, b in zip(results, bodies))
    print(json.dumps({"same": same, "in_process": pool.in_process,
                      "worker": [r.worker for r in results], "answered": pool.answered}))

task.react(lambda reactor: defer.ensureDeferred(main(reactor)))
"""


def _run_pool(command: list[str] | None) -> tuple[dict, str]:
    import json

    proc = subprocess.run(
        [sys.executable, "-c", _POOL_SCRIPT, json.dumps(command)], cwd=REPO,
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_pool_answers_from_its_workers_and_closes() -> None:
    result, _ = _run_pool(None)
    assert result == {"same": True, "in_process": False, "worker": [True] * 6, "answered": 6}


def test_workers_that_cannot_start_leave_the_bodies_to_the_crawl_process() -> None:
    result, err = _run_pool([sys.executable, "-c", "raise SystemExit('no worker here')"])
    assert result["same"] and result["in_process"] and result["worker"] == [False] * 6
    assert "processing bodies in the crawl process instead" in err


_BACKLOG_SCRIPT = """
import json, os, signal
from twisted.internet import defer, task
from newsspider.normalize.body import BodySpec, process_body
from newsspider.normalize.pool import BodyPool

async def main(reactor):
    pool = BodyPool(1, reactor)
    pool.start()
    spec = BodySpec.of(None)
    await pool.process("<p>warm</p>", None, spec)
    worker = pool.workers[0]
    pid = worker.process.pid
    os.kill(pid, signal.SIGSTOP)  # the worker stops reading: the socket's buffer fills
    bodies = ["<p>%d %s</p>" % (i, "正文" * 2000) for i in range(400)]  # ~4.8 MB of jobs
    waiting = [pool.process(b, None, spec) for b in bodies]
    direct_after = worker.direct
    os.kill(pid, signal.SIGCONT)
    results = await defer.gatherResults(waiting)
    await pool.close()
    print(json.dumps({
        "direct_after": direct_after,
        "in_order": [r.normalized.html for r in results]
                    == [process_body(b, None, spec).normalized.html for b in bodies],
        "restarts": pool.restarts,
    }))

task.react(lambda reactor: defer.ensureDeferred(main(reactor)))
"""


def test_jobs_beyond_the_socket_buffer_queue_in_order() -> None:
    import json

    proc = subprocess.run([sys.executable, "-c", _BACKLOG_SCRIPT], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # Sent straight to the socket until it was full, then through the reactor's buffer.
    assert result == {"direct_after": False, "in_order": True, "restarts": 0}


@pytest.mark.parametrize("value", ["-1", "many", "1.5"])
def test_worker_count_refuses_nonsense(value: str) -> None:
    with pytest.raises(ValueError, match="NEWSSPIDER_BODY_WORKERS"):
        worker_count(value)


def _ask(proc: subprocess.Popen[bytes], job: tuple) -> object:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(frame(job))
    proc.stdin.flush()
    size = HEADER.unpack(proc.stdout.read(HEADER.size))[0]
    answer = pickle.loads(proc.stdout.read(size))
    # Answers cross as builtins (a tuple), errors as their message.
    return from_wire(answer) if isinstance(answer, tuple) else answer


def test_worker_process_answers_in_order_and_exits_when_stdin_closes() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsspider.normalize.worker"], cwd=REPO,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        spec = BodySpec.of(BodyRules(unwrap=("span.hrefStyle",)))
        first = _ask(proc, ('<p>一<span class="hrefStyle"><a href="/x">链接</a></span></p>', "https://a.example/", spec))
        second = _ask(proc, ('<p>二 <img data-src="/b.png" src="/loading.gif"></p>', "https://a.example/n/", spec))
        assert isinstance(first, ProcessedBody) and first.worker
        assert first.normalized is not None and first.normalized.html == "<p>一链接</p>"
        assert isinstance(second, ProcessedBody)
        assert [i["url"] for i in second.images] == ["https://a.example/b.png"]
        # A malformed job: the worker answers with the error instead of dying.
        broken = _ask(proc, ("<p>x</p>", "https://a.example/", "not a BodySpec"))
        assert isinstance(broken, str) and "Error" in broken
        assert isinstance(_ask(proc, ("<p>三</p>", None, spec)), ProcessedBody)
        # No spec: the previous job's (the crawl process sends each worker its spec once).
        again = _ask(proc, ('<p>四<span class="hrefStyle"><a href="/y">链接</a></span></p>', None, None))
        assert isinstance(again, ProcessedBody) and again.normalized is not None
        assert again.normalized.html == "<p>四链接</p>"
        # A first job without a spec (a protocol error) is answered with the error too.
        fresh = subprocess.Popen([sys.executable, "-m", "newsspider.normalize.worker"], cwd=REPO,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            answer = _ask(fresh, ("<p>x</p>", None, None))
            assert isinstance(answer, str) and "no" in answer and "spec" in answer
        finally:
            fresh.communicate(timeout=10)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
        assert proc.stderr is not None
        proc.stderr.close()
        assert proc.stdout is not None
        proc.stdout.close()


def _crawl(replica: ReplicaServer, mongo_uri: str, data_dir: Path, workers: str,
           db_name: str, kill_after: int = 0) -> tuple[int, str]:
    """One crawl; with ``kill_after``, SIGKILL a body worker once that many articles are stored."""
    stop = threading.Event()
    killed: list[int] = []

    def killer() -> None:
        client: MongoClient = MongoClient(mongo_uri)
        try:
            while not stop.is_set() and not killed:
                if client[db_name].articles.estimated_document_count() >= kill_after:
                    for proc in psutil.process_iter(["cmdline"]):
                        cmd = proc.info["cmdline"] or []
                        if "newsspider.normalize.worker" in cmd and db_name in _env_of(proc):
                            proc.send_signal(signal.SIGKILL)
                            killed.append(proc.pid)
                            break
                time.sleep(0.05)
        finally:
            client.close()

    thread = threading.Thread(target=killer, daemon=True)
    if kill_after:
        thread.start()
    try:
        code, _, err = scrapy_crawl(
            mongo_uri, db_name, data_dir, "ofweek", f"start_url={replica.listing_url}",
            "max_pages=100", settings={"NEWSSPIDER_BODY_WORKERS": workers},
        )
    finally:
        stop.set()
    if kill_after:
        thread.join()
        assert killed, "no worker was killed: the crawl ended first"
    return code, err


def _env_of(proc: psutil.Process) -> str:
    try:
        return proc.environ().get("MONGO_DATABASE", "")
    except psutil.Error:
        return ""


_VOLATILE = ("first_seen_at", "last_crawled_at", "updated_at", "crawled_at")


def _articles(client: MongoClient, db_name: str) -> dict[str, dict]:
    return {
        doc["_id"]: {k: v for k, v in doc.items() if k not in _VOLATILE}
        for doc in client[db_name].articles.find()
    }


def _ids(client: MongoClient, db_name: str) -> set[str]:
    return {doc["_id"] for doc in client[db_name].articles.find({}, {"_id": 1})}


@pytest.fixture(scope="module")
def generated_replica():
    with ReplicaServer(scenario=generated_scenario(300, per_page=50)) as server:
        yield server


def test_crawl_with_workers_stores_what_an_in_process_crawl_stores(
    generated_replica: ReplicaServer, mongo_uri: str, tmp_path: Path
) -> None:
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    names = {w: f"pool_{w}_{uuid.uuid4().hex[:8]}" for w in ("0", "2")}
    try:
        for workers, name in names.items():
            code, err = _crawl(generated_replica, mongo_uri, tmp_path / workers, workers, name)
            assert code == 0, err[-3000:]
        assert "'newsspider/images/workers': 2" in err
        in_process, pooled = _articles(client, names["0"]), _articles(client, names["2"])
        assert len(in_process) >= 290
        assert pooled == in_process
    finally:
        for name in names.values():
            client.drop_database(name)
        client.close()


def test_a_worker_killed_mid_crawl_loses_no_article(
    generated_replica: ReplicaServer, mongo_uri: str, tmp_path: Path
) -> None:
    client: MongoClient = MongoClient(mongo_uri)
    reference, name = f"pool_ref_{uuid.uuid4().hex[:8]}", f"pool_kill_{uuid.uuid4().hex[:8]}"
    try:
        code, err = _crawl(generated_replica, mongo_uri, tmp_path / "ref", "0", reference)
        assert code == 0, err[-3000:]
        code, err = _crawl(generated_replica, mongo_uri, tmp_path / "kill", "1", name, kill_after=40)
        assert code == 0, err[-3000:]
        assert "a body worker process died" in err
        assert "'newsspider/images/worker_restarts': 1" in err
        # Every article the in-process crawl stored is stored, none rejected.
        assert _ids(client, name) == _ids(client, reference)
        assert client[name].rejects.count_documents({}) == client[reference].rejects.count_documents({})
    finally:
        client.drop_database(reference)
        client.drop_database(name)
        client.close()
