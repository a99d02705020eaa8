"""Issue 4 at crawl level: each article once, cheap re-crawls, revisions, no false merges.

Real crawls (subprocesses) of the replica into the real store; the replica's
hit counter says which pages a run fetched.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from newsspider.normalize.html import normalize_body
from newsspider.normalize.text import hamming, simhash64
from newsspider.replica.server import ReplicaServer

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
ARTICLE_PATHS = ("/ART-",)


def article_hits(replica: ReplicaServer) -> dict[str, int]:
    return {p: n for p, n in replica.hits.items() if any(m in p for m in ARTICLE_PATHS)}


# These tests pin what an incremental run skips: with revisits off, every stored article.
# (Revisits — a just-stored article is due on the next run — are tests/test_e2e_revisit.py.)
# What such a run yields is mostly the replica's always-failing pages again: repeated
# rejects, which the health check's reject share leaves out, so the crawl still exits 0.
NO_REVISITS = {"NEWSSPIDER_REVISIT_HOURS": "0"}


def snapshot(db) -> dict[str, dict]:
    return {doc["_id"]: doc for doc in db.articles.find({})}


@pytest.fixture
def replica():
    with ReplicaServer() as server:
        yield server


def test_second_run_fetches_no_stored_article_and_changes_nothing(replica, run_crawl) -> None:
    first = run_crawl("ofweek", f"start_url={replica.listing_url}", settings=NO_REVISITS)
    assert first.returncode == 0, first
    before = snapshot(first.db)
    assert len(before) >= 20

    replica.reset_hits()
    second = run_crawl("ofweek", f"start_url={replica.listing_url}", settings=NO_REVISITS)
    assert second.returncode == 0, second
    assert article_hits(replica) == {}, "a stored article page was fetched again"
    assert replica.hits[replica.scenario.site.listing_path] == 1  # listings are always refetched
    assert snapshot(second.db) == before
    assert second.db.runs.count_documents({}) == 2


def test_new_article_is_the_only_one_fetched_and_full_refetches_everything(
    replica, run_crawl
) -> None:
    assert run_crawl("ofweek", f"start_url={replica.listing_url}", settings=NO_REVISITS).returncode == 0
    fresh = replica.add_article("新发布的文章", "<p>这是一篇全新的文章，刚刚发布。</p><p>第二段。</p>")
    replica.reset_hits()
    result = run_crawl("ofweek", f"start_url={replica.listing_url}", settings=NO_REVISITS)
    assert result.returncode == 0, result
    # Rejected pages (the 500 one, the empty one) are tried again; a merged duplicate is not.
    retried = {replica.scenario.find(p).path for p in article_hits(replica)} - {fresh.path}
    assert all(
        s.always_500 or s.empty_body for s in map(replica.scenario.find, retried)
    ), retried
    assert article_hits(replica)[fresh.path] == 1
    assert result.db.articles.find_one({"_id": replica.url(fresh)})["title"] == "新发布的文章"

    replica.reset_hits()
    assert run_crawl("ofweek", f"start_url={replica.listing_url}", "full=1").returncode == 0
    assert len(article_hits(replica)) >= 25


def test_changed_article_gets_revision_two_and_keeps_the_old_body(replica, run_crawl) -> None:
    assert run_crawl("ofweek", f"start_url={replica.listing_url}").returncode == 0
    spec = next(s for s in replica.scenario.listed_articles
                if not (s.always_500 or s.empty_body or s.duplicate_of or s.n_pages > 1))
    url = replica.url(spec)
    result = run_crawl("ofweek", f"start_url={replica.listing_url}")
    old = result.db.articles.find_one({"_id": url})
    assert old["revision"] == 1

    replica.edit_article(spec.path, "<p>编辑部更正了这篇文章的全部内容。</p>")
    result = run_crawl("ofweek", f"start_url={replica.listing_url}", "full=1")
    assert result.returncode == 0, result
    new = result.db.articles.find_one({"_id": url})
    assert new["revision"] == 2
    assert new["body_text"] == "编辑部更正了这篇文章的全部内容。"
    assert new["updated_at"] > old["last_crawled_at"]
    assert new["first_seen_at"] == old["first_seen_at"]
    saved = result.db.article_revisions.find_one({"_id": f"{url}#r1"})
    assert saved is not None and saved["body_text"] == old["body_text"]
    # Every other article was unchanged: still revision 1.
    assert result.db.articles.count_documents({"revision": {"$gt": 1}}) == 1


def corpus_texts() -> dict[str, str]:
    texts = {}
    for path in sorted(CORPUS.glob("*/*.md")):
        body = path.read_text(encoding="utf-8").split("---", 2)[2]
        texts[f"{path.parent.name}/{path.stem}"] = normalize_body(body, "https://example.com/").text
    return texts


def test_no_false_merge_among_the_corpus_and_the_republished_pair_merges() -> None:
    texts = corpus_texts()
    hashes = {name: simhash64(text) for name, text in texts.items()}
    pair = ("ofweek/34260173494", "ofweek/34893407152")
    for a, b in itertools.combinations(sorted(hashes), 2):
        distance = hamming(hashes[a], hashes[b])
        if {a, b} == set(pair):
            assert distance <= 3
        else:
            assert distance > 3, (a, b, distance)


def test_edited_copy_is_merged_by_simhash_at_the_default_distance(replica, run_crawl) -> None:
    """A copy with a few characters changed is a near duplicate (Hamming ≤ 3), merged."""
    assert run_crawl("ofweek", f"start_url={replica.listing_url}").returncode == 0
    spec = next(s for s in replica.scenario.listed_articles
                if s.corpus_id == "34559744658")
    body = spec.body_html.replace("。", "！", 1)
    copy = replica.add_article("转载：" + spec.title, body)
    result = run_crawl("ofweek", f"start_url={replica.listing_url}")
    assert result.returncode == 0, result
    assert result.db.articles.find_one({"_id": replica.url(copy)}) is None
    original = result.db.articles.find_one({"_id": replica.url(spec)})
    assert replica.url(copy) in original["alternate_urls"]
