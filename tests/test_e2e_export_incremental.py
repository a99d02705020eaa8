"""Incremental exports end to end: real crawls of a replica, ``newsspider export`` processes.

* crawl, export with state, re-crawl with one revised and one new article (and a
  duplicate), export again: exactly those two come out;
* an export SIGKILLed midway, then resumed: the rest comes out, nothing twice;
* the scheduled pair "crawl, then ``export hexo --state``" three times on a portal of
  the aggregator family, the embedded store in a data directory, as a cron job runs it:
  plain incremental crawls, which see the revision because they revisit the articles
  stored recently (NEWSSPIDER_REVISIT_HOURS, docs/operations.md "Revisits"), then a
  fourth pair with nothing changed writes nothing.

The first test's re-crawls are full (``-a full=1``), which re-fetches every listed article.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsspider.export.hexo import post_filename
from newsspider.replica.family import family_scenario, load_family_posts
from newsspider.replica.server import ReplicaServer
from newsspider.store.store import Store
from tests.conftest import REPO
from tests.test_store_writer import article

NEWSSPIDER = str(Path(sys.executable).with_name("newsspider"))
NEW_BODY = "<p>{}：这是一篇全新的文章，内容与其他任何文章都不相同。</p><p>第二段写了{}的细节。</p>"
REVISED_BODY = "<p>编辑部更正了{}的全部内容，原文已被替换。</p><p>更正后的第二段。</p>"


def newsspider(*args: str, env: dict[str, str], timeout: float = 240, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([NEWSSPIDER, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False, **kw)


def snapshot(posts: Path) -> dict[str, tuple[int, int]]:
    """Post file → (inode, mtime_ns): a file written again (atomically) gets a new inode."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in posts.glob("*.md")}


def changes(before: dict, after: dict) -> tuple[set[str], set[str], set[str]]:
    """(added, rewritten, removed) post files between two snapshots."""
    added = set(after) - set(before)
    rewritten = {name for name in set(after) & set(before) if after[name] != before[name]}
    return added, rewritten, set(before) - set(after)


def plain(spec) -> bool:
    return not (spec.always_500 or spec.empty_body or spec.duplicate_of or spec.n_pages > 1)


# -- crawl, export, re-crawl, export -----------------------------------------------------


def test_after_a_recrawl_exactly_the_revised_and_the_new_article_come_out(
    run_crawl, mongo_uri, mongo_db, tmp_path
) -> None:
    env = {**os.environ, "MONGO_URI": mongo_uri, "MONGO_DATABASE": mongo_db.name}
    posts, hexo_state, jsonl_state = tmp_path / "posts", tmp_path / "hexo.state", tmp_path / "jsonl.state"

    def export() -> tuple[list[str], str]:
        hexo = newsspider("export", "hexo", "--out", str(posts), "--state", str(hexo_state), env=env)
        assert hexo.returncode == 0, hexo.stderr
        jsonl = newsspider("export", "jsonl", "--out", "-", "--state", str(jsonl_state), env=env)
        assert jsonl.returncode == 0, jsonl.stderr
        return [json.loads(line)["_id"] for line in jsonl.stdout.splitlines()], hexo.stderr

    with ReplicaServer() as replica:
        assert run_crawl("ofweek", f"start_url={replica.listing_url}").returncode == 0
        stored = mongo_db.articles.count_documents({})
        ids, _ = export()
        assert len(ids) == stored == len(snapshot(posts))
        first = snapshot(posts)

        # A full re-crawl that finds everything as stored: nothing changed, nothing out.
        updated = {d["_id"]: d["updated_at"] for d in mongo_db.articles.find({}, {"updated_at": 1})}
        assert run_crawl("ofweek", f"start_url={replica.listing_url}", "full=1").returncode == 0
        assert {d["_id"]: d["updated_at"] for d in mongo_db.articles.find({}, {"updated_at": 1})} == updated
        assert export()[0] == [] and snapshot(posts) == first

        revised, copy = [s for s in replica.scenario.listed_articles if plain(s)][:2]
        replica.edit_article(revised.path, REVISED_BODY.format(revised.title))
        new = replica.add_article("新发布的文章", NEW_BODY.format("新文章", "新文章"))
        replica.add_article("转载：" + copy.title, copy.body_html)  # an exact copy: merged
        result = run_crawl("ofweek", f"start_url={replica.listing_url}", "full=1")
        assert result.returncode == 0, result
        ids, hexo_log = export()

    urls = {replica.url(revised), replica.url(new), replica.url(copy)}
    assert sorted(ids) == sorted(urls)  # jsonl: the copy's target changed too (an alternate URL)
    added, rewritten, removed = changes(first, snapshot(posts))
    by_url = {u: post_filename(mongo_db.articles.find_one({"_id": u})) for u in urls}
    assert added == {by_url[replica.url(new)]}
    assert rewritten == {by_url[replica.url(revised)]} and removed == set()
    assert "(1 added, 1 rewritten, 1 unchanged)" in hexo_log  # the merge's post: same bytes
    assert mongo_db.articles.find_one({"_id": replica.url(revised)})["revision"] == 2


# -- killed midway, resumed ----------------------------------------------------------------

N_ARTICLES = 1200


@pytest.fixture
def many(mongo_uri, mongo_db, tmp_path) -> dict[str, str]:
    store = Store(uri=mongo_uri, database=mongo_db.name, data_dir=tmp_path / "data", batch_size=400)
    store.open()
    try:
        start = datetime(2024, 1, 1, tzinfo=UTC)
        for n in range(N_ARTICLES):
            store.put_article_blocking(article(
                f"https://a.test/many/{n:05d}.html", f"第 {n} 篇文章的正文，编号 {n * 7919}。",
                published_at=start + timedelta(minutes=n)))
    finally:
        store.close()
    assert mongo_db.articles.count_documents({}) == N_ARTICLES
    return {**os.environ, "MONGO_URI": mongo_uri, "MONGO_DATABASE": mongo_db.name}


def kill_at(proc: subprocess.Popen, progress, at_least: int) -> None:
    """SIGKILL the export once ``progress()`` reaches ``at_least`` (the caller checks that
    it was midway: the output is not complete)."""
    deadline = time.monotonic() + 120
    while progress() < at_least:
        assert proc.poll() is None, "the export finished before it could be killed"
        assert time.monotonic() < deadline, "the export made no progress"
    proc.kill()
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def test_a_hexo_export_killed_midway_resumes_and_writes_no_post_twice(many, tmp_path) -> None:
    posts, state = tmp_path / "posts", tmp_path / "hexo.state"
    command = [NEWSSPIDER, "export", "hexo", "--out", str(posts), "--state", str(state),
               "--batch-size", "1"]
    proc = subprocess.Popen(command, cwd=REPO, env=many, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    kill_at(proc, lambda: time.sleep(0.01) or (len(list(posts.glob("*.md"))) if posts.exists() else 0),
            150)
    before = snapshot(posts)
    assert len(before) < N_ARTICLES, "the export finished before it was killed"
    assert (tmp_path / "hexo.state.progress").exists()  # the killed run's record

    resumed = newsspider("export", "hexo", "--out", str(posts), "--state", str(state), env=many)
    assert resumed.returncode == 0, resumed.stderr
    after = snapshot(posts)
    assert len(after) == N_ARTICLES
    added, rewritten, removed = changes(before, after)
    assert rewritten == set() and removed == set()  # no post written twice
    assert len(added) == N_ARTICLES - len(before)
    # The post being written at the kill may have been renamed in place but not recorded:
    # it is rendered again, found identical, and not written.
    counts = resumed.stderr.rsplit("(", 1)[1]
    unchanged = int(counts.split(" unchanged")[0].rsplit(" ", 1)[1])
    assert unchanged <= 1, resumed.stderr
    assert not (tmp_path / "hexo.state.progress").exists()
    again = newsspider("export", "hexo", "--out", str(posts), "--state", str(state), env=many)
    assert "exported 0 posts" in again.stderr and snapshot(posts) == after


def test_a_jsonl_export_to_stdout_killed_midway_resumes_with_the_rest(many, tmp_path) -> None:
    state = tmp_path / "jsonl.state"
    command = [NEWSSPIDER, "export", "jsonl", "--out", "-", "--state", str(state), "--batch-size", "1"]
    proc = subprocess.Popen(command, cwd=REPO, env=many, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    lines: list[bytes] = []
    kill_at(proc, lambda: lines.append(proc.stdout.readline()) or len(lines), 150)
    lines += proc.stdout.read().splitlines(keepends=True)  # what it wrote before the kill
    delivered = [json.loads(line)["_id"] for line in lines if line.endswith(b"\n")]  # a cut line is not
    assert len(delivered) < N_ARTICLES, "the export finished before it was killed"

    resumed = newsspider("export", "jsonl", "--out", "-", "--state", str(state), env=many)
    assert resumed.returncode == 0, resumed.stderr
    rest = [json.loads(line)["_id"] for line in resumed.stdout.splitlines()]
    assert sorted(set(delivered) | set(rest)) == sorted(f"https://a.test/many/{n:05d}.html"
                                                        for n in range(N_ARTICLES))
    # At most the line being written at the kill comes twice (out, not yet recorded).
    assert len(delivered) + len(rest) - N_ARTICLES <= 1
    assert len(set(delivered)) == len(delivered) and len(set(rest)) == len(rest)


# -- the scheduled pair, three times -----------------------------------------------------

PORTAL = "woshipm"  # the aggregator family's 人人都是产品经理 layout


def add_post(replica: ReplicaServer, number: int) -> str:
    """Publish a new post on the family replica (its own layout, path and date); its URL."""
    site = replica.scenario.site
    template = load_family_posts(site.corpus_folder)[0]
    post = dataclasses.replace(
        template, post_id=str(990_000_000 + number), title=f"新文章第 {number} 篇",
        date=datetime.now(UTC).replace(second=0, microsecond=0),
        body=NEW_BODY.format(f"新文章 {number}", f"编号 {number}"),
    )
    spec = site.spec(post, len(replica.scenario.articles))
    replica.scenario.add(spec)
    replica._invalidate()
    return replica.url(spec)


def test_done_when_a_scheduled_crawl_and_hexo_export_three_times(tmp_path) -> None:
    """Every post written once, then exactly the revised one rewritten and the new one added."""
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URI",)}
    env.update(NEWSSPIDER_DATA_DIR=str(tmp_path / "data"), MONGO_DATABASE="scheduled")
    posts, state = tmp_path / "posts", tmp_path / "hexo.state"

    with ReplicaServer(scenario=family_scenario(PORTAL)) as replica:
        def scheduled_pair() -> str:
            # A plain incremental crawl, as scheduled: no -a full=1.
            crawl = newsspider("crawl", "--quiet", PORTAL, "-a", f"start_url={replica.listing_url}",
                               "-s", "AUTOTHROTTLE_ENABLED=False", env=env)
            assert crawl.returncode == 0, crawl.stderr[-3000:]
            export = newsspider("export", "hexo", "--out", str(posts), "--state", str(state), env=env)
            assert export.returncode == 0, export.stderr
            return export.stderr

        listed = [s for s in replica.scenario.listed_articles if plain(s)]
        scheduled_pair()
        history = [snapshot(posts)]
        assert len(history[0]) == len(replica.scenario.listed_articles) >= 5
        for run, revised in ((2, listed[1]), (3, listed[3])):
            replica.edit_article(revised.path, REVISED_BODY.format(f"{revised.title}（第 {run} 次）"))
            add_post(replica, run)
            scheduled_pair()
            history.append(snapshot(posts))
            added, rewritten, removed = changes(history[-2], history[-1])
            assert len(added) == 1 and len(rewritten) == 1 and removed == set(), (run, added, rewritten)
            [rewritten_name] = rewritten
            assert "更正了" in (posts / rewritten_name).read_text(encoding="utf-8")
            assert revised.title in (posts / rewritten_name).read_text(encoding="utf-8")
            [added_name] = added
            assert f"新文章第 {run} 篇" in (posts / added_name).read_text(encoding="utf-8")
        assert len(history[-1]) == len(history[0]) + 2
        # Every other post was written exactly once, in the first run.
        rewritten_ever = {n for h0, h1 in itertools.pairwise(history) for n in changes(h0, h1)[1]}
        untouched = set(history[0]) - rewritten_ever
        assert all(history[-1][name] == history[0][name] for name in untouched)
        assert len(untouched) == len(history[0]) - 2
        # Nothing changed on the portal: the pair writes nothing (the revisits find it as stored).
        log = scheduled_pair()
        assert snapshot(posts) == history[-1] and "exported 0 posts" in log, log
