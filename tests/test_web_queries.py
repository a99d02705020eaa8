"""The dashboard's reads against the real store: keyset pages, filters, title search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newsspider.store.store import Store
from newsspider.store.writer import REJECT, Op
from newsspider.web import queries
from newsspider.web.queries import QueryError, article_filter
from tests.test_store_writer import article

BASE = datetime(2024, 3, 1, tzinfo=UTC)
WORDS = ["光伏", "芯片", "电池", "Apple M4"]


def _title(i: int) -> str:
    return f"第{i}篇：{WORDS[i % 4]}新闻 {'华为' if i % 3 == 0 else '小米'}"


@pytest.fixture(scope="module")
def filled(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory):
    """130 articles of two portals, every 7th on the same minute as the one before (ties),
    six runs and three rejects, written through the store's writer as a crawl would."""
    from pymongo import MongoClient

    name = "t_webq"
    store = Store(uri=mongo_uri, database=name, data_dir=tmp_path_factory.mktemp("d"),
                  batch_size=40)
    store.open()
    docs = []
    for i in range(130):
        minute = i - 1 if i % 7 == 0 and i else i
        doc = article(f"https://p{i % 2}.test/n/{i:04d}", f"正文 {i}", title=_title(i),
                      portal=f"portal{i % 2}", published_at=BASE + timedelta(hours=minute * 5))
        docs.append(doc)
        store.put_article_blocking(doc)
    for r in range(6):
        started = BASE + timedelta(days=r)
        store.put_run_blocking({
            "_id": f"run{r}", "portal": f"portal{r % 2}", "started_at": started,
            "finished_at": started + timedelta(minutes=3), "finish_reason": "finished",
            "stats": {"item_scraped_count": 10 + r},
            "checks": {"passed": r != 3, "failed": ["min_items"] if r == 3 else []},
        })
    for j, field in enumerate(("fetch", "body_text", "fetch")):
        store.writer.put_blocking(Op(REJECT, {
            "url": f"https://p0.test/bad/{j}", "portal": "portal0",
            "errors": [{"field": field, "message": f"broken {j}"}], "item": {"x": j}}))
    assert store.flush(60)
    store.close()
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    try:
        yield client[name], docs
    finally:
        client.drop_database(name)
        client.close()


def _order(docs: list[dict[str, Any]]) -> list[str]:
    return [d["url"] for d in sorted(docs, key=lambda d: (d["published_at"], d["url"]), reverse=True)]


def _walk(db: Any, filt: Any, limit: int = 50) -> list[list[str]]:
    pages, before = [], None
    while True:
        page = queries.articles_page(db, filt, before=before, limit=limit)
        pages.append([item["article"]["_id"] for item in page.items])
        if page.older is None:
            return pages
        before = page.older


def test_pages_walk_every_article_once_newest_first(filled) -> None:
    db, docs = filled
    pages = _walk(db, article_filter())
    assert [len(p) for p in pages] == [50, 50, 30]
    assert [u for p in pages for u in p] == _order(docs)


def test_newer_page_leads_back(filled) -> None:
    db, _ = filled
    first = queries.articles_page(db, article_filter(), limit=20)
    second = queries.articles_page(db, article_filter(), before=first.older, limit=20)
    assert second.newer is not None
    back = queries.articles_page(db, article_filter(), after=second.newer, limit=20)
    assert [i["key"] for i in back.items] == [i["key"] for i in first.items]
    assert back.newer is None and back.older == first.older


def test_portal_and_date_filters(filled) -> None:
    db, docs = filled
    pages = _walk(db, article_filter(portal="portal1"))
    assert [u for p in pages for u in p] == _order([d for d in docs if d["portal"] == "portal1"])
    start, end = "2024-03-05", "2024-03-09"
    expected = [d for d in docs if start <= f"{d['published_at']:%Y-%m-%d}" <= end]
    assert expected
    pages = _walk(db, article_filter(start=start, end=end), limit=7)
    assert [u for p in pages for u in p] == _order(expected)


def test_arrived_order_follows_first_seen(filled) -> None:
    db, docs = filled
    page = queries.articles_page(db, article_filter(sort="arrived"), limit=200)
    # Keys hold whole seconds; within one second the URL orders them.
    seen = [(item["article"]["first_seen_at"].replace(microsecond=0), item["article"]["_id"])
            for item in page.items]
    assert len(seen) == len(docs) and seen == sorted(seen, reverse=True)


def test_title_search_finds_exactly_the_matching_titles(filled) -> None:
    db, docs = filled
    for q in ("光伏", "华为 光伏", "apple", "M4 小米", "芯片新闻"):
        words = q.casefold().split()
        expected = _order([d for d in docs if all(w in d["title"].casefold() for w in words)])
        assert expected, q
        assert [u for p in _walk(db, article_filter(q=q), limit=9) for u in p] == expected, q
    portal0 = _walk(db, article_filter(q="华为", portal="portal0"))
    assert [u for p in portal0 for u in p] == _order(
        [d for d in docs if "华为" in d["title"] and d["portal"] == "portal0"])


def test_title_search_reads_a_bounded_number_of_rows_per_page(filled, monkeypatch) -> None:
    db, docs = filled
    monkeypatch.setattr(queries, "SEARCH_BUDGET", 12)
    monkeypatch.setattr(queries, "SEARCH_BATCH", 5)
    monkeypatch.setattr(queries, "SEARCH_PROBE", 4)
    # 华为 is on a third of the titles, 电池 on a quarter (the sparser: its rows are read).
    filt = article_filter(q="华为 电池")
    found, before, pages = [], None, 0
    while True:
        page = queries.search_page(db, filt, before=before)
        assert page.examined <= 12 + 4  # the budget, and the other token's probe
        found += [i["article"]["_id"] for i in page.items]
        pages += 1
        if page.older is None:
            break
        assert page.note.startswith("searched 1")
        before = page.older
    assert pages > 1
    assert found == _order([d for d in docs if "华为" in d["title"] and "电池" in d["title"]])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"q": "光"}, "two Chinese"),
    ({"start": "2024-13-01"}, "from:"),
    ({"end": "yesterday"}, "to:"),
    ({"sort": "random"}, "sort:"),
    ({"q": "光伏", "sort": "arrived"}, "publication date"),
])
def test_bad_filters_say_why(filled, kwargs, message) -> None:
    db, _ = filled
    with pytest.raises(QueryError, match=message):
        queries.articles_page(db, article_filter(**kwargs))


def test_runs_rejects_and_portals(filled) -> None:
    db, _ = filled
    assert queries.portal_names(db) == ["portal0", "portal1"]
    page = queries.runs_page(db, limit=4)
    assert [d["_id"] for d in page.items] == ["run5", "run4", "run3", "run2"]
    older = queries.runs_page(db, before=page.older, limit=4)
    assert [d["_id"] for d in older.items] == ["run1", "run0"] and older.older is None
    assert [d["_id"] for d in queries.runs_page(db, status="failed").items] == ["run3"]
    assert [d["_id"] for d in queries.runs_page(db, portal="portal0").items] == ["run4", "run2", "run0"]
    assert [d["_id"] for d in queries.runs_page(db, start="2024-03-02", end="2024-03-03").items] == [
        "run2", "run1"]
    assert [d["_id"] for d in queries.recent_runs(db, "portal1")] == ["run5", "run3", "run1"]
    assert queries.run_neighbours(db, queries.run(db, "run2")) == ("run4", "run0")
    assert queries.reject_reasons(db) == ["body_text", "fetch"]
    fetch = queries.rejects_page(db, reason="fetch")
    assert [d["url"] for d in fetch.items] == ["https://p0.test/bad/2", "https://p0.test/bad/0"]
    assert "item" not in fetch.items[0]
    assert queries.keys_complete(db)


def test_a_tied_minute_is_no_problem_for_keyset(filled) -> None:
    db, docs = filled
    ties = {d["published_at"] for d in docs if sum(e["published_at"] == d["published_at"]
                                                    for e in docs) > 1}
    assert ties  # the fixture has some
    pages = _walk(db, article_filter(), limit=1)
    assert len(pages) == len(docs) and len({p[0] for p in pages}) == len(docs)


def test_revisions_and_aliases(mongo_uri: str, mongo_db, tmp_path: Path) -> None:
    store = Store(uri=mongo_uri, database=mongo_db.name, data_dir=tmp_path)
    store.open()
    url = "https://a.test/rev"
    for n in range(3):
        store.put_article_blocking(article(url, f"第{n}版正文。"))
    assert store.flush(30)
    store.close()
    doc = queries.article(mongo_db, url)
    assert doc["revision"] == 3
    assert [r["revision"] for r in queries.revisions(mongo_db, doc)] == [1, 2]
    mongo_db.url_aliases.insert_one({"_id": "https://a.test/dup", "article": url})
    assert queries.alias_target(mongo_db, "https://a.test/dup") == url
    assert queries.alias_target(mongo_db, "https://a.test/none") is None
