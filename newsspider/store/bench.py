"""``bulk_vs_naive_store_ratio``: the bulk writer against one ``update_one`` per item.

Both sides make the same writes for ``n`` article-sized documents (about 4 KB
of Chinese body each) into their own fresh database, with the same indexes, on
the same server — each article and its four ``dedup_keys`` entries (the
near-duplicate index) and its ``article_keys`` rows (the dashboard's
listing keys): the naive side with one ``update_one({_id}, …, upsert=True)``
per document and key, the rows of one article in one ``insert_many``, the bulk side through
:class:`~newsspider.store.store.Store` — the same writer thread, revision
check and batching the crawl uses — timed from the first enqueue until
everything is flushed.  (Against article upserts alone, without the keys
the naive side skips, the bulk writer is about 0.8–0.9× on nx-27017: the
keys cost it as much as the naive side's round trips; see the README.)  ``make bench`` prints
``bulk_vs_naive_store_ratio``.

Reads no settings (arguments only), writes no stats.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo import MongoClient

from newsspider.store.listing import ARTICLE_KEYS, article_rows
from newsspider.store.store import ARTICLES, INDEXES, KEYSET_INDEXES, Store, index_model
from newsspider.store.writer import dedup_key_pushes

_PARAGRAPH = "物联网与人工智能的结合正在改变制造业的生产方式，企业纷纷加大投入。"


def sample_article(i: int) -> dict[str, Any]:
    text = "\n".join(f"{i} {k} {_PARAGRAPH * 3}" for k in range(12))
    url = f"https://bench.test/news/{i:08d}.html"
    return {
        "_id": url, "url": url, "fetched_url": url, "portal": "bench", "site_name": "基准",
        "channel": "新闻", "categories": ["新闻"], "title": f"基准文章 {i}", "author": None,
        "published_at": datetime(2024, 5, 1, tzinfo=UTC), "published_raw": "2024-05-01",
        "body_html": "".join(f"<p>{p}</p>" for p in text.split("\n")), "body_text": text,
        "summary": None, "lead_image": None, "images": [], "language": "zh",
        "content_hash": hashlib.sha256(text.encode()).hexdigest(),
        # A real SimHash spreads over all 64 bits (its bands are dedup_keys ids).
        "simhash": int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True),
    }


def _naive(client: MongoClient[dict[str, Any]], database: str, docs: list[dict[str, Any]]) -> float:
    articles = client[database][ARTICLES]
    # The same indexes the store keeps (its keyset one as nx-27017 has it): a like-for-like write.
    articles.create_indexes([index_model(spec) for spec in (*INDEXES[ARTICLES],
                                                            *KEYSET_INDEXES[ARTICLES])])
    client[database][ARTICLE_KEYS].create_indexes(
        [index_model(spec) for spec in INDEXES[ARTICLE_KEYS]])
    started = time.perf_counter()
    for doc in docs:
        now = datetime.now(UTC)
        articles.update_one(
            {"_id": doc["_id"]},
            {"$set": {**{k: v for k, v in doc.items() if k != "_id"}, "last_crawled_at": now},
             "$setOnInsert": {"first_seen_at": now, "alternate_urls": [], "revision": 1,
                              "schema_version": 1}},
            upsert=True,
        )
        # The same dedup-key writes the store makes for a new article, one round trip each.
        for push in dedup_key_pushes(doc["_id"], doc["simhash"]):
            client[database].dedup_keys.update_one(push["q"], push["u"], upsert=True)
        # And its listing keys (about 20 small rows), in one round trip.
        client[database][ARTICLE_KEYS].insert_many(
            list(article_rows({**doc, "first_seen_at": now}).values()), ordered=False)
    return time.perf_counter() - started


def _bulk(uri: str, database: str, docs: list[dict[str, Any]], batch_size: int,
          batch_transactions: bool) -> float:
    with tempfile.TemporaryDirectory(prefix="newsspider-bench-") as data_dir:
        store = Store(uri=uri, database=database, data_dir=data_dir, batch_size=batch_size,
                      flush_seconds=60.0, queue_size=max(1000, 2 * batch_size),
                      batch_transactions=batch_transactions)
        store.open()
        try:
            started = time.perf_counter()
            for doc in docs:
                store.put_article_blocking(doc)
            if not store.flush(600):
                raise RuntimeError("bulk writer did not finish within 600 s")
            return time.perf_counter() - started
        finally:
            store.close()


def measure_bulk_vs_naive(
    uri: str, n: int = 2000, batch_size: int = 200, rounds: int = 2,
    batch_transactions: bool = False,
) -> dict[str, Any]:
    """Items/s of both ways on the store at ``uri`` and their ratio (higher = bulk wins).

    The two sides alternate ``rounds`` times, each into a fresh database, and
    the best time of each counts: a busy machine slows both, not one.
    ``batch_transactions``: the writer commits once per batch, as it does on
    the embedded server a crawl's store starts (only for an nx-27017 that
    serves nothing else; see :mod:`newsspider.store.writer`).
    """
    docs = [sample_article(i) for i in range(n)]
    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    naive_times: list[float] = []
    bulk_times: list[float] = []
    try:
        for _ in range(rounds):
            tag = uuid.uuid4().hex[:8]
            naive_db, bulk_db = f"bench_naive_{tag}", f"bench_bulk_{tag}"
            try:
                naive_times.append(_naive(client, naive_db, docs))
                bulk_times.append(_bulk(uri, bulk_db, docs, batch_size, batch_transactions))
                stored = client[bulk_db].articles.count_documents({})
                if stored != n:
                    raise RuntimeError(f"bulk writer stored {stored} of {n} articles")
            finally:
                client.drop_database(naive_db)
                client.drop_database(bulk_db)
    finally:
        client.close()
    naive_s, bulk_s = min(naive_times), min(bulk_times)
    return {
        "n": n,
        "batch_size": batch_size,
        "batch_transactions": batch_transactions,
        "naive_items_per_s": round(n / naive_s, 1),
        "bulk_items_per_s": round(n / bulk_s, 1),
        "bulk_vs_naive_store_ratio": round(naive_s / bulk_s, 2),
    }


if __name__ == "__main__":
    import sys

    from newsspider.store.embedded import EmbeddedStore

    with tempfile.TemporaryDirectory() as tmp, EmbeddedStore(tmp) as server:
        sizes = [int(a) for a in sys.argv[1:]] or [200]
        for size in sizes:
            print(measure_bulk_vs_naive(server.uri, batch_size=size, batch_transactions=True))
