"""Nothing lost silently (issue 21 §1–2): unreadable journal records, a dying writer, a store
lost while the journal cannot be written — against the real store and real directories.

"Cannot be written" is a file where the journal's directory should be: that
holds when the tests run as root too (root ignores permission bits).
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from scrapy.utils.test import get_crawler

from newsspider.exitcodes import crawl_exit_code
from newsspider.replica.faults import FaultPlan
from newsspider.replica.model import Scenario
from newsspider.replica.server import ReplicaServer
from newsspider.store.embedded import EmbeddedStore
from newsspider.store.journal import Journal, dumps
from newsspider.store.store import Store
from newsspider.store.writer import ARTICLE, JOURNAL_UNWRITABLE, WRITER_DIED, Op, StoreWriter
from tests.conftest import REPO
from tests.faultkit import LIVE_STORE, spawn_crawl, tail, wait_for
from tests.test_store_outage import article

DRIVER = Path(__file__).resolve().parent / "fixtures" / "store" / "crawl.py"


def record(url: str) -> bytes:
    op = Op(ARTICLE, article(url, f"正文 {url}"), datetime(2024, 6, 1, tzinfo=UTC))
    return dumps(op.to_record()).encode("utf-8")


@pytest.fixture
def stats():
    crawler = get_crawler()
    crawler.stats.open_spider()
    return crawler.stats


# -- 1. unreadable journal records ---------------------------------------------

BAD_LINES = [
    b"{}",  # JSON, but not a write
    b"\xff\xfe\x00garbage",  # not UTF-8
    b'{"kind": "article", "doc": {"title": "no url"}, "at": {"$date": "2024-06-01T00:00:00Z"}}',
    b'{"kind": "explode", "doc": {}, "at": {"$date": "2024-06-01T00:00:00Z"}}',
    b"[1, 2, 3]",
    b'{"kind": "article", "doc": {"url": "https://a.test/x"}, "at": {"$date": 99999999999999999999}}',
]


def _journal_with_bad_lines(journal_dir: Path) -> tuple[Path, list[str], dict[int, bytes]]:
    """A journal file: good records around every kind of bad line, and a torn last line."""
    journal_dir.mkdir(parents=True)
    lines: list[bytes] = []
    good: list[str] = []
    bad: dict[int, bytes] = {}
    for i, line in enumerate(BAD_LINES):
        url = f"https://a.test/q/{i}"
        lines.append(record(url))
        good.append(url)
        lines.append(line)
        bad[len(lines)] = line
    torn = record("https://a.test/q/torn")[:40]
    lines.append(torn)
    bad[len(lines)] = torn
    path = journal_dir / "00000000000000000001-1-deadbeef.jsonl"
    path.write_bytes(b"\n".join(lines))  # the torn line has no newline, as after a crash
    return path, good, bad


def _replay_and_write_on(uri: str, database: str, data_dir: Path, stats: Any, then: str) -> None:
    """Open a store on ``data_dir`` (its journal replays), then write ``then``: the writer lived."""
    store = Store(uri=uri, database=database, data_dir=data_dir, stats=stats)
    store.open()
    try:
        assert store.flush(20)
        store.put_article_blocking(article(then, "正文"))
        assert store.flush(20)
        assert store.writer is not None and store.writer._thread is not None
        assert store.writer._thread.is_alive()
    finally:
        store.close()


def test_unreadable_records_are_quarantined_and_the_rest_replays(
    mongo_uri: str, mongo_db, tmp_path: Path, stats, caplog: pytest.LogCaptureFixture,
) -> None:
    journal_dir = tmp_path / "journal" / mongo_db.name
    path, good, bad = _journal_with_bad_lines(journal_dir)
    caplog.set_level(logging.ERROR)
    _replay_and_write_on(mongo_uri, mongo_db.name, tmp_path, stats, "https://a.test/q/after")
    stored = {d["_id"] for d in mongo_db.articles.find({}, {"_id": 1})}
    assert stored == {*good, "https://a.test/q/after"}
    assert stats.get_value("newsspider/store/replayed") == len(good)
    assert stats.get_value("newsspider/store/journal_quarantined") == len(bad)
    # Moved aside byte for byte, out of the replay directory.
    quarantined = tmp_path / "journal" / "quarantine" / mongo_db.name / path.name
    assert quarantined.read_bytes() == b"".join(line + b"\n" for line in bad.values())
    assert not list(journal_dir.glob("*.jsonl"))
    # One ERROR per record, naming its file and line.
    for number in bad:
        assert re.search(rf"{re.escape(str(path))} line {number} unreadable", caplog.text), number
    assert str(quarantined) in caplog.text


def test_a_record_that_parses_but_cannot_be_written_is_quarantined_alone(
    mongo_uri: str, mongo_db, tmp_path: Path, stats, caplog: pytest.LogCaptureFixture,
) -> None:
    journal_dir = tmp_path / "journal" / mongo_db.name
    journal_dir.mkdir(parents=True)
    # A simhash beyond 64 bits: JSON reads it, BSON cannot encode it (OverflowError).
    doc = article("https://a.test/w/huge", "正文 huge")
    doc["simhash"] = 2**70
    bad = dumps(Op(ARTICLE, doc, datetime(2024, 6, 1, tzinfo=UTC)).to_record()).encode()
    lines = [record(f"https://a.test/w/{i}") for i in range(3)] + [bad, record("https://a.test/w/3")]
    path = journal_dir / "00000000000000000002-1-cafebabe.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    caplog.set_level(logging.ERROR)
    _replay_and_write_on(mongo_uri, mongo_db.name, tmp_path, stats, "https://a.test/w/after")
    stored = {d["_id"] for d in mongo_db.articles.find({}, {"_id": 1})}
    assert stored == {*(f"https://a.test/w/{i}" for i in range(4)), "https://a.test/w/after"}
    quarantined = (tmp_path / "journal" / "quarantine" / mongo_db.name / path.name).read_bytes()
    assert quarantined.count(b"\n") == 1 and b"https://a.test/w/huge" in quarantined
    assert "could not be written (OverflowError" in caplog.text
    assert stats.get_value("newsspider/store/journal_quarantined") == 1
    assert not path.exists()


def test_a_replay_cut_by_an_outage_does_not_quarantine_twice(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal" / "db")
    path, good, bad = _journal_with_bad_lines(journal.directory)
    for _ in range(2):  # the second pass: the file as the interrupted replay left it
        ((seen, ops),) = list(journal.replayable(Op.from_record))
        assert seen == path and [op.doc["url"] for op in ops] == good
    assert journal.quarantined == len(bad)
    assert (journal.quarantine / path.name).read_bytes().count(b"\n") == len(bad)


def test_a_quarantine_that_cannot_be_written_leaves_the_file_in_place(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    journal = Journal(tmp_path / "journal" / "db")
    path, _good, _bad = _journal_with_bad_lines(journal.directory)
    (tmp_path / "journal" / "quarantine").write_text("a file where the folder should be")
    before = path.read_bytes()
    caplog.set_level(logging.ERROR)
    assert list(journal.replayable(Op.from_record)) == []
    assert path.read_bytes() == before  # nothing replayed, nothing deleted
    assert "left in place" in caplog.text
    assert journal.count() == before.count(b"\n") + 1  # still counted as journaled


# -- 2. a writer thread that dies ------------------------------------------------


def test_a_dying_writer_raises_the_alarm_and_journals_everything(
    mongo_uri: str, mongo_db, tmp_path: Path, stats, caplog: pytest.LogCaptureFixture,
) -> None:
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    alarms: list[str] = []
    journal = Journal(tmp_path / "journal" / mongo_db.name)
    writer = StoreWriter(client[mongo_db.name], journal, batch_size=5, flush_seconds=60,
                         stats=stats, on_alarm=alarms.append)
    writer.start()
    caplog.set_level(logging.ERROR)
    try:
        writer.put_blocking(Op(ARTICLE, article("https://a.test/d/0", "正文")))
        assert writer.flush(20)
        # A write the writer cannot even plan (a producer bug): its thread dies on it.
        writer.put_blocking(Op(ARTICLE, {"title": "no url"}))
        for i in range(1, 4):
            writer.put_blocking(Op(ARTICLE, article(f"https://a.test/d/{i}", "正文")))
        assert not writer.flush(5)
        wait_for(lambda: alarms, 10, "the alarm")
        assert alarms == [WRITER_DIED]
        assert "store writer thread died" in caplog.text and "KeyError" in caplog.text
        # Producers keep going: what they enqueue now is journaled on the spot.
        for i in range(4, 7):
            writer.put_blocking(Op(ARTICLE, article(f"https://a.test/d/{i}", "正文")))
    finally:
        journaled = writer.close(1)
        client.close()
    assert stats.get_value("newsspider/store/writer_died") == 1
    assert stats.get_value("newsspider/store/lost") is None
    assert journaled == 7  # the bad op, the three pending and the three after
    # The next run replays them; the one that killed the writer is quarantined.
    store = Store(uri=mongo_uri, database=mongo_db.name, data_dir=tmp_path)
    store.open()
    try:
        assert store.flush(20)
    finally:
        store.close()
    assert mongo_db.articles.count_documents({}) == 7
    assert store.journaled == 0 and journal.quarantine.is_dir()


def test_a_dying_writer_fails_the_crawl(mongo_uri: str, mongo_db, tmp_path: Path) -> None:
    items = [dict(article(f"https://a.test/c/{i}", f"第 {i} 篇的正文"),
                  published_at="2024-05-01T08:30:00+00:00") for i in range(12)]
    config, out = tmp_path / "crawl.json", tmp_path / "stats.json"
    config.write_text(json.dumps({
        "settings": {
            "MONGO_URI": mongo_uri, "MONGO_DATABASE": mongo_db.name, "NEWSSPIDER_DATA_DIR": str(tmp_path),
            "ITEM_PIPELINES": {"newsspider.pipelines.store.MongoStorePipeline": 500,
                               "crawl.MalformedWritePipeline": 450},
            "NEWSSPIDER_STORE_BATCH_SIZE": 2, "NEWSSPIDER_STORE_FLUSH_SECONDS": 0.05,
        },
        "batches": [items[:4], items[4:]], "pause": 1.0,
    }), encoding="utf-8")
    done = subprocess.run([sys.executable, str(DRIVER), str(config), str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    stats = json.loads(out.read_text())
    assert stats["finish_reason"] == WRITER_DIED, done.stderr[-3000:]
    assert stats["newsspider/store/writer_died"] == 1
    assert stats["newsspider/monitor/failed/store_writes"] == 1
    assert "ERROR: store writer thread died" in done.stderr
    assert "monitor check store_writes failed" in done.stderr
    assert crawl_exit_code(stats) == 1
    # Every item the spider yielded is in the store or in the journal: none vanished.
    stored = mongo_db.articles.count_documents({})
    journaled = Journal(tmp_path / "journal" / mongo_db.name).count()
    assert stats.get("newsspider/store/lost", 0) == 0
    assert stored + journaled >= stats["item_scraped_count"] + 1  # + the malformed write


# -- 3. the store lost while the journal cannot be written ----------------------


def _stat(log: str, key: str) -> int:
    found = re.findall(rf"'{re.escape(key)}': (\d+)", log)
    return int(found[-1]) if found else 0


def test_store_lost_and_journal_unwritable_stops_early_and_exits_non_zero(tmp_path: Path) -> None:
    server = EmbeddedStore(tmp_path / "nx")
    uri = server.start()
    db_name = f"lost_{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "journal").write_text("a file where the journal directory should be\n")
    client: MongoClient = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=2000)
    log = tmp_path / "crawl.log"
    # Slow pages stretch the crawl: plenty is left to crawl when the store goes.
    plan = FaultPlan(0.5, kinds=("slow",), seed=11, slow_seconds=1.0, targets=("article",))
    settings = {**LIVE_STORE, "CONCURRENT_REQUESTS_PER_DOMAIN": "2",
                "NEWSSPIDER_STORE_SERVER_TIMEOUT": "0.5", "NEWSSPIDER_STORE_RETRY_MAX_DELAY": "0.5",
                "NEWSSPIDER_STORE_CLOSE_TIMEOUT": "2"}
    try:
        with ReplicaServer(scenario=Scenario.generated(120, per_page=20, seed=2101),
                           faults=plan) as rep:
            proc = spawn_crawl(uri, db_name, data_dir, log, "ofweek",
                               f"start_url={rep.listing_url}", "max_pages=10", settings=settings)
            try:
                wait_for(lambda: client[db_name].articles.count_documents({}) >= 5, 90,
                         f"first stored articles; log: {tail(log)}")
                server.kill()
                code = proc.wait(120)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
            fetched = sum(rep.hits[p] for s in rep.scenario.listed_articles for p in s.page_paths)
        text = log.read_text(errors="replace")
        assert code == 1, tail(log)
        assert f"Closing spider ({JOURNAL_UNWRITABLE})" in text
        assert fetched < 100  # stopped early, not after crawling all 120
        assert "its journal" in text and "cannot be written" in text
        lost = _stat(text, "newsspider/store/lost")
        assert lost > 0 and re.search(r"ERROR: \d+ writes lost", text)
        # The checks ran after the final flush: they saw the loss.
        assert text.index("writes lost") < text.index("monitor check store_writes failed")
        assert "all 5 checks passed" not in text
        # Nothing counted as stored that the store did not acknowledge.
        server = EmbeddedStore(tmp_path / "nx", port=server.port)
        server.start()
        stored = client[db_name].articles.count_documents({})
        assert _stat(text, "newsspider/store/inserted") <= stored
        assert stored + lost >= _stat(text, "item_scraped_count")
    finally:
        client.close()
        server.stop()


def test_the_journal_is_probed_when_an_outage_begins(tmp_path: Path, stats) -> None:
    server = EmbeddedStore(tmp_path / "nx")
    uri = server.start()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "journal").write_text("not a directory")
    store = Store(uri=uri, database="probe", data_dir=tmp_path / "data", stats=stats,
                  server_timeout=0.5, retry_max_delay=0.2, close_timeout=1.0, flush_seconds=0.05)
    alarms: list[str] = []
    try:
        store.open()
        assert store.writer is not None
        store.writer.on_alarm = alarms.append
        store.put_article_blocking(article("https://a.test/p/0", "正文"))
        assert store.flush(10)
        server.kill()
        store.put_article_blocking(article("https://a.test/p/1", "正文"))
        wait_for(lambda: alarms, 20, "the alarm")
        assert alarms == [JOURNAL_UNWRITABLE]
        assert stats.get_value("newsspider/store/journal_unwritable") == 1
        assert not store.flush(1.0)
        store.settle()  # what the store pipeline does when its final flush times out
        assert stats.get_value("newsspider/store/lost") == 1
        assert stats.get_value("newsspider/store/journaled") == 0
    finally:
        started = time.monotonic()
        store.close()
        assert time.monotonic() - started < 10
        server.stop()
    assert store.writer is None
