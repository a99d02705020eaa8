"""Dedup + store pipelines in real crawls (a subprocess each, real nx-27017).

Crawl 1 yields, all in flight at once: an article, an exact copy and a near
copy of it under other URLs, and an unrelated article; then, after a pause,
another exact and near copy.  Crawl 2 (a new process: empty in-process index,
so only the store lookup can find duplicates) yields more copies, the first
article again (same URL: a revision check, not a duplicate) and a new one.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from newsspider.normalize.text import hamming, simhash64
from newsspider.pipelines.dedup import RecentIndex, _band_keys, _Entry

REPO = Path(__file__).resolve().parent.parent
DRIVER = Path(__file__).resolve().parent / "fixtures" / "store" / "crawl.py"


def body(seed: int, lines: int = 10) -> str:
    rnd = random.Random(seed)
    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 800)]
    return "\n".join("".join(rnd.choice(chars) for _ in range(60)) + "。" for _ in range(lines))


def near_copy(text: str, salt: int) -> str:
    """An edit of ``text`` whose SimHash is within 3 bits (checked, not assumed)."""
    for k in range(100 + salt * 40, len(text)):
        variant = text[:k] + "变" + text[k + 1:]
        if variant != text and hamming(simhash64(variant), simhash64(text)) <= 3:
            return variant
    raise AssertionError("no near copy found")


def item(url: str, text: str, fetched_url: str | None = None) -> dict[str, Any]:
    return {
        "_id": url, "url": url, "fetched_url": fetched_url or url, "portal": "fixture",
        "site_name": "站", "channel": "新闻", "categories": ["新闻"], "title": f"T {url}",
        "author": None, "published_at": "2024-05-01T08:30:00+00:00", "published_raw": "2024-05-01",
        "body_html": "".join(f"<p>{p}</p>" for p in text.split("\n")), "body_text": text,
        "summary": None, "lead_image": None, "images": [], "language": "zh",
        "content_hash": hashlib.sha256(text.encode()).hexdigest(), "simhash": simhash64(text),
    }


def crawl(tmp: Path, uri: str, db: str, batches: list[list[dict[str, Any]]], pause: float = 0.0,
          **settings: Any) -> dict[str, Any]:
    config = tmp / f"crawl-{len(list(tmp.glob('crawl-*.json')))}.json"
    out = config.with_suffix(".out")
    config.write_text(json.dumps({
        "settings": {"MONGO_URI": uri, "MONGO_DATABASE": db, "NEWSSPIDER_DATA_DIR": str(tmp),
                     "NEWSSPIDER_STORE_FLUSH_SECONDS": 0.2, **settings},
        "batches": batches, "pause": pause,
    }), encoding="utf-8")
    done = subprocess.run([sys.executable, str(DRIVER), str(config), str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return {"stats": json.loads(out.read_text(encoding="utf-8")), "log": done.stderr}


A, UNRELATED, LATER_NEW = body(1), body(2), body(3)
A_NEAR_1, A_NEAR_2, A_NEAR_3 = near_copy(A, 0), near_copy(A, 1), near_copy(A, 2)
U = "https://news.test/a/"


@pytest.fixture(scope="module")
def crawls(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("dedup")
    db = f"t_dedup_{tmp.name[-6:]}"
    first = crawl(tmp, mongo_uri, db, [
        [item(U + "1", A), item(U + "2", A, fetched_url=U + "2?from=rss"),
         item(U + "3", A_NEAR_1), item(U + "4", UNRELATED)],
        [item(U + "5", A), item(U + "6", A_NEAR_2)],
    ], pause=0.5)
    second = crawl(tmp, mongo_uri, db, [
        [item(U + "7", A)], [item(U + "8", A_NEAR_3)], [item(U + "1", A)], [item(U + "9", LATER_NEW)],
    ], pause=0.3)
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    try:
        yield {"first": first, "second": second, "db": client[db]}
    finally:
        client.drop_database(db)
        client.close()


def test_preconditions_are_what_the_test_claims() -> None:
    for near in (A_NEAR_1, A_NEAR_2, A_NEAR_3):
        assert near != A and hamming(simhash64(near), simhash64(A)) <= 3
    assert hamming(simhash64(UNRELATED), simhash64(A)) > 3


def test_in_flight_exact_and_near_copies_are_stored_once(crawls: dict[str, Any]) -> None:
    stats = crawls["first"]["stats"]
    assert stats["newsspider/dedup/exact"] == 2  # U2 (in flight with U1), U5 (later)
    assert stats["newsspider/dedup/near"] == 2  # U3 (in flight), U6 (later)
    assert stats["newsspider/store/inserted"] == 2  # U1 and the unrelated U4
    assert stats["item_scraped_count"] == 2
    assert "newsspider/validate/rejected" not in stats  # duplicates are not rejects


def test_store_has_one_article_with_every_alternate_url(crawls: dict[str, Any]) -> None:
    articles = crawls["db"].articles
    ids = sorted(d["_id"] for d in articles.find({}, {"_id": 1}))
    assert ids == [U + "1", U + "4", U + "9"]
    first = articles.find_one({"_id": U + "1"})
    assert sorted(first["alternate_urls"]) == sorted(
        [U + "2", U + "2?from=rss", U + "3", U + "5", U + "6", U + "7", U + "8"])
    assert articles.find_one({"_id": U + "4"})["alternate_urls"] == []


def test_next_run_finds_duplicates_in_the_store(crawls: dict[str, Any]) -> None:
    stats = crawls["second"]["stats"]
    assert stats["newsspider/dedup/exact"] == 1  # U7
    assert stats["newsspider/dedup/near"] == 1  # U8
    assert stats["newsspider/store/unchanged"] == 1  # U1 again: same URL is not a duplicate
    assert stats["newsspider/store/inserted"] == 1  # U9
    assert crawls["db"].articles.find_one({"_id": U + "1"})["revision"] == 1


def test_recent_index_is_bounded() -> None:
    index = RecentIndex(maxsize=100)
    for i in range(1000):
        text = f"文本 {i}"
        index.add(_Entry(f"u{i}", hashlib.sha256(text.encode()).digest(), simhash64(text)))
    assert len(index) == 100
    assert len(index._by_digest) == 100
    assert sum(len(v) for v in index._by_band.values()) == 400
    def digest(i: int) -> bytes:
        return hashlib.sha256(f"文本 {i}".encode()).digest()

    # Exact lookups only (distance -1): the evicted entry is gone, the recent one found.
    assert index.find("new", digest(0), simhash64("文本 0"), -1) is None
    hit = index.find("new", digest(999), simhash64("文本 999"), -1)
    assert hit is not None and hit[0].url == "u999" and hit[1] == "exact"


# --- the store lookup finds what the in-process index no longer holds ---

B1, B2, B3, B4 = body(11), body(12), body(13), body(14)
B1_NEAR = near_copy(B1, 0)
V = "https://news.test/b/"


def _bands(text: str) -> set[int]:
    return set(_band_keys(simhash64(text)))


@pytest.fixture(scope="module")
def evicted(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("bands")
    db = f"t_bands_{tmp.name[-6:]}"
    # An index of 2: V2 evicts V0, so V3 — a near copy of V0 — can only be
    # caught by the store lookup.
    evicting = crawl(tmp, mongo_uri, db, [
        [item(V + "0", B1)], [item(V + "1", B2), item(V + "2", B3)], [item(V + "3", B1_NEAR)],
    ], pause=0.6, NEWSSPIDER_DEDUP_INDEX_SIZE=2)
    # A new process: an empty index, so only the store can know V0 for V4.
    reopened = crawl(tmp, mongo_uri, db, [[item(V + "4", B1_NEAR), item(V + "5", B4)]])
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    try:
        yield {"evicting": evicting["stats"], "reopened": reopened["stats"], "db": client[db]}
    finally:
        client.drop_database(db)
        client.close()


def test_eviction_preconditions() -> None:
    others = [B2, B3, B4]
    assert all(not (_bands(B1) & _bands(other)) for other in others)
    assert _bands(B1) & _bands(B1_NEAR) and hamming(simhash64(B1), simhash64(B1_NEAR)) <= 3


def test_evicted_entries_are_found_by_the_store_lookup(evicted: dict[str, Any]) -> None:
    stats = evicted["evicting"]
    assert stats["newsspider/dedup/near"] == 1  # V3, found in the store
    assert stats["newsspider/store/inserted"] == 3
    assert "newsspider/dedup/lookup_filtered" not in stats  # the band filter is gone
    reopened = evicted["reopened"]
    assert reopened["newsspider/dedup/near"] == 1  # V4: known to the store only
    assert reopened["newsspider/store/inserted"] == 1
    assert sorted(evicted["db"].articles.find_one({"_id": V + "0"})["alternate_urls"]) == [
        V + "3", V + "4"]
