"""Incremental exports against the real store: --changed-since, --state, every format.

Articles are written by the store's own writer (as a crawl writes them), so
``updated_at`` is what the writer makes of new, revised, merged and unchanged articles.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from newsspider.export.cli import add_export_parser, run_export
from newsspider.export.hexo import post_filename, write_hexo
from newsspider.export.jsonl import export_jsonl
from newsspider.export.rss import export_rss
from newsspider.export.source import CHANGE_ORDER, ChangeKey, Window, iter_changes
from newsspider.export.state import ExportState, StateError
from newsspider.store.nx27017 import is_nx27017
from newsspider.store.store import Store
from newsspider.store.writer import MERGE, Op
from tests.test_store_writer import article

BASE = dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.UTC)


def url(n: int) -> str:
    return f"https://a.test/news/{n:04d}.html"


@pytest.fixture
def store(mongo_uri: str, mongo_db, tmp_path: Path) -> Iterator[Store]:
    store = Store(uri=mongo_uri, database=mongo_db.name, data_dir=tmp_path / "data",
                  batch_size=50, flush_seconds=60.0)
    store.open()
    yield store
    store.close()


def write(store: Store, *docs: dict[str, Any], merges: dict[str, list[str]] | None = None) -> None:
    for doc in docs:
        store.put_article_blocking(doc)
    for target, urls in (merges or {}).items():
        assert store.writer is not None
        store.writer.put_blocking(Op(MERGE, {"target": target, "urls": urls}))
    assert store.flush(10)


def jsonl_ids(path: Path) -> list[str]:
    return [json.loads(line)["_id"] for line in path.read_text(encoding="utf-8").splitlines()]


def rss_links(path: Path) -> list[str]:
    return [link.text for link in etree.parse(str(path)).iterfind("channel/item/link")]


def files(directory: Path) -> dict[str, tuple[int, int]]:
    """Post name → (inode, mtime_ns): which files a run created or rewrote."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in directory.glob("*.md")}


# -- the changed-since query ---------------------------------------------------------


def test_changes_come_in_updated_at_then_id_order_to_the_millisecond(mongo_db) -> None:
    # Ties on updated_at (one writer batch shares one time) and stamps within one second,
    # where nx-27017 compares whole seconds.
    stamps = {"c": 0, "a": 0, "b": 250, "e": 250, "d": 999, "f": 1000}
    mongo_db.articles.insert_many(
        [{"_id": k, "updated_at": BASE + dt.timedelta(milliseconds=ms)} for k, ms in stamps.items()]
    )
    every = list(iter_changes(mongo_db, Window()))
    assert [d["_id"] for d in every] == ["a", "c", "b", "e", "d", "f"]
    since = list(iter_changes(mongo_db, Window(BASE + dt.timedelta(milliseconds=250))))
    assert [d["_id"] for d in since] == ["b", "e", "d", "f"]
    # The versions a window already exported are skipped: a keyset resume after "b".
    resumed = Window(BASE + dt.timedelta(milliseconds=250), {"b": BASE + dt.timedelta(milliseconds=250)})
    assert [d["_id"] for d in iter_changes(mongo_db, resumed, limit=2)] == ["e", "d"]


def test_the_changed_since_query_uses_the_keyset_index_on_mongodb(mongo_db, store) -> None:
    if is_nx27017(mongo_db):
        pytest.skip("nx-27017 reads every document for a date range: tests/test_store_nx27017.py")
    plan = mongo_db.articles.find({"updated_at": {"$gte": BASE}}).sort(CHANGE_ORDER).explain()
    text = json.dumps(plan["queryPlanner"]["winningPlan"], default=str)
    assert "IXSCAN" in text and "updated_at_1__id_1" in text and '"SORT"' not in text


# -- state: every format -----------------------------------------------------------


def test_state_exports_new_revised_and_merged_once_in_every_format(store, mongo_db, tmp_path) -> None:
    write(store, *(article(url(n), f"第 {n} 篇的正文。") for n in range(5)))
    state = {fmt: tmp_path / f"{fmt}.state" for fmt in ("hexo", "jsonl", "rss")}
    posts = tmp_path / "posts"

    first = write_hexo(mongo_db, posts, state=state["hexo"])
    assert (first.posts, first.added) == (5, 5)
    assert export_jsonl(mongo_db, tmp_path / "1.jsonl", state=state["jsonl"]) == 5
    assert export_rss(mongo_db, tmp_path / "1.xml", state=state["rss"]) == 5
    before = files(posts)

    # Nothing changed: nothing comes out, nothing is touched.
    assert write_hexo(mongo_db, posts, state=state["hexo"]).posts == 0
    assert export_jsonl(mongo_db, tmp_path / "empty.jsonl", state=state["jsonl"]) == 0
    assert files(posts) == before

    # A re-crawl: 0 revised, 5 new, 1 merged into 3 (a duplicate's URL), the rest as stored.
    write(store, *(article(url(n), f"第 {n} 篇的正文。") for n in (1, 2, 3, 4)),
          article(url(0), "第 0 篇改过的正文。"), article(url(5), "新的一篇。"),
          merges={url(3): ["https://b.test/copy-of-3"]})
    second = write_hexo(mongo_db, posts, state=state["hexo"])
    assert (second.posts, second.added, second.rewritten, second.unchanged) == (3, 1, 1, 1)
    after = files(posts)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {post_filename(mongo_db.articles.find_one({"_id": url(n)})) for n in (0, 5)}
    assert len(after) == 6  # the duplicate's URL is no post

    assert export_jsonl(mongo_db, tmp_path / "2.jsonl", state=state["jsonl"]) == 3
    assert sorted(jsonl_ids(tmp_path / "2.jsonl")) == [url(0), url(3), url(5)]
    assert export_rss(mongo_db, tmp_path / "2.xml", state=state["rss"]) == 3
    assert sorted(rss_links(tmp_path / "2.xml")) == [url(0), url(3), url(5)]
    for fmt in ("hexo", "jsonl", "rss"):
        saved = json.loads(state[fmt].read_text(encoding="utf-8"))
        assert saved["exported"] == 8 and saved["export"] == fmt
        assert saved["position"]["_id"] in {url(0), url(3), url(5)}


def test_changed_since_without_state(store, mongo_db, tmp_path) -> None:
    write(store, article(url(1), "一。"), article(url(2), "二。"))
    cut = dt.datetime.now(dt.UTC)
    write(store, article(url(3), "三。"), article(url(1), "一，改了。"))
    out = tmp_path / "changed.jsonl"
    assert export_jsonl(mongo_db, out, changed_since=cut.isoformat()) == 2
    assert sorted(jsonl_ids(out)) == [url(1), url(3)]
    assert export_jsonl(mongo_db, out, changed_since=dt.datetime.now(dt.UTC) + dt.timedelta(1)) == 0


def test_a_late_write_within_the_lookback_is_exported_once(store, mongo_db, tmp_path) -> None:
    """A write that lands after the export read past its updated_at (another crawl's batch
    committed late, a lagging clock) is picked up by the next export, once."""
    write(store, article(url(1), "一。"))
    state, out = tmp_path / "s.state", tmp_path / "out.jsonl"
    assert export_jsonl(mongo_db, out, state=state) == 1
    position = ChangeKey.of(mongo_db.articles.find_one({"_id": url(1)}))
    late = dict(article(url(2), "迟到的一篇。"), updated_at=position.updated_at - dt.timedelta(seconds=30),
                revision=1, first_seen_at=BASE, last_crawled_at=BASE, alternate_urls=[])
    mongo_db.articles.insert_one(late)
    too_late = dict(late, _id=url(3), url=url(3),
                    updated_at=position.updated_at - dt.timedelta(minutes=6))
    mongo_db.articles.insert_one(too_late)
    assert export_jsonl(mongo_db, out, state=state) == 1
    assert jsonl_ids(out) == [url(2)]
    assert export_jsonl(mongo_db, out, state=state) == 0


def test_an_export_long_after_the_last_change_rereads_nothing(mongo_db, tmp_path) -> None:
    old = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    mongo_db.articles.insert_one(dict(article(url(1), "一。"), updated_at=old))
    state = tmp_path / "s.state"
    assert export_jsonl(mongo_db, tmp_path / "out.jsonl", state=state) == 1
    filters = {"portal": None, "since": None}
    with ExportState.open(state, export="jsonl", filters=filters, streamed=False) as opened:
        window = opened.window()
    # Written an hour before this export read: nothing can still be in flight before it.
    assert window.lower == old and window.exported == {url(1): old}


def test_changed_since_starts_a_new_state_and_is_then_ignored(store, mongo_db, tmp_path) -> None:
    write(store, article(url(1), "一。"))
    cut = dt.datetime.now(dt.UTC)
    write(store, article(url(2), "二。"))
    state, out = tmp_path / "s.state", tmp_path / "out.jsonl"
    assert export_jsonl(mongo_db, out, state=state, changed_since=cut) == 1
    write(store, article(url(3), "三。"))
    assert export_jsonl(mongo_db, out, state=state, changed_since=cut) == 1
    assert jsonl_ids(out) == [url(3)]


def test_limit_with_state_continues_next_time(store, mongo_db, tmp_path) -> None:
    write(store, *(article(url(n), f"第 {n} 篇。") for n in range(7)))
    state, out = tmp_path / "s.state", tmp_path / "out.jsonl"
    seen: list[str] = []
    for expected in (3, 3, 1, 0):
        assert export_jsonl(mongo_db, out, state=state, limit=3) == expected
        seen += jsonl_ids(out)
    assert sorted(seen) == [url(n) for n in range(7)]


def test_rss_of_changes_ends_with_the_latest_change(store, mongo_db, tmp_path) -> None:
    write(store, article(url(1), "一。"), article(url(2), "二。"))
    out = tmp_path / "feed.xml"
    assert export_rss(mongo_db, out, state=tmp_path / "s.state") == 2
    channel = etree.parse(str(out)).find("channel")
    newest = max(d["updated_at"] for d in mongo_db.articles.find())
    assert channel[-1].tag == "lastBuildDate"
    assert channel[-1].text == newest.strftime("%a, %d %b %Y %H:%M:%S GMT")


# -- state: refusals and recovery ---------------------------------------------------


def test_a_state_file_is_one_consumers(store, mongo_db, tmp_path) -> None:
    write(store, article(url(1), "一。"))
    state = tmp_path / "s.state"
    export_jsonl(mongo_db, tmp_path / "a.jsonl", state=state, portal="ofweek")
    with pytest.raises(StateError, match="export jsonl"):
        export_rss(mongo_db, tmp_path / "a.xml", state=state, portal="ofweek")
    with pytest.raises(StateError, match="--portal ofweek"):
        export_jsonl(mongo_db, tmp_path / "a.jsonl", state=state)
    held = ExportState.open(state, export="jsonl", filters={"portal": "ofweek", "since": None},
                            streamed=False)
    with held, pytest.raises(StateError, match="another export"):
        export_jsonl(mongo_db, tmp_path / "a.jsonl", state=state, portal="ofweek")
    state.write_text("{not json", encoding="utf-8")
    with pytest.raises(StateError, match="cannot be read"):
        export_jsonl(mongo_db, tmp_path / "a.jsonl", state=state, portal="ofweek")
    assert state.read_text(encoding="utf-8") == "{not json"  # never overwritten


def test_cli_exits_2_on_a_bad_state_or_changed_since(store, mongo_db, tmp_path, capsys) -> None:
    import argparse

    root = argparse.ArgumentParser(prog="newsspider")
    add_export_parser(root.add_subparsers(dest="command", required=True))
    with pytest.raises(SystemExit) as bad:
        root.parse_args(["export", "jsonl", "--out", "-", "--changed-since", "last tuesday"])
    assert bad.value.code == 2 and "ISO 8601" in capsys.readouterr().err
    state = tmp_path / "s.state"
    state.write_text("[]", encoding="utf-8")
    args = root.parse_args(["export", "jsonl", "--out", str(tmp_path / "o.jsonl"), "--state", str(state)])
    assert run_export(args, mongo_db) == 2
    assert "not a newsspider export state file" in capsys.readouterr().err


def test_a_whole_file_export_interrupted_before_its_rename_is_exported_again(store, mongo_db, tmp_path) -> None:
    write(store, article(url(1), "一。"), article(url(2), "二。"))
    state, out = tmp_path / "s.state", tmp_path / "out.jsonl"
    filters = {"portal": None, "since": None}
    # Killed between the pending record and the rename: the output never appeared.
    with ExportState.open(state, export="jsonl", filters=filters, streamed=False) as opened:
        for doc in iter_changes(mongo_db, opened.window()):
            opened.record(doc)
        tmp = tmp_path / ".out.jsonl.tmp"
        tmp.write_text("partial\n", encoding="utf-8")
        opened.prepare_replace(tmp, out)
    assert export_jsonl(mongo_db, out, state=state) == 2

    # Killed between the rename and the commit: the output is in place, the move is kept.
    write(store, article(url(3), "三。"))
    with ExportState.open(state, export="jsonl", filters=filters, streamed=False) as opened:
        for doc in iter_changes(mongo_db, opened.window()):
            opened.record(doc)
        tmp = tmp_path / ".out.jsonl.tmp2"
        tmp.write_text(json.dumps({"_id": url(3)}) + "\n", encoding="utf-8")
        opened.prepare_replace(tmp, out)
        tmp.replace(out)
    assert export_jsonl(mongo_db, tmp_path / "next.jsonl", state=state) == 0


def test_a_progress_log_cut_mid_line_resumes_after_the_last_whole_line(store, mongo_db, tmp_path) -> None:
    write(store, *(article(url(n), f"第 {n} 篇。") for n in range(3)))
    state = tmp_path / "s.state"
    docs = list(iter_changes(mongo_db, Window()))
    lines = [json.dumps([ChangeKey.of(d).updated_at.isoformat(), d["_id"]]) for d in docs[:2]]
    (tmp_path / "s.state.progress").write_text(lines[0] + "\n" + lines[1][:9], encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert export_jsonl(mongo_db, out, state=state) == 2
    assert jsonl_ids(out) == [d["_id"] for d in docs[1:]]
    assert not (tmp_path / "s.state.progress").exists()
