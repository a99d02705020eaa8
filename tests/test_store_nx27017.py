"""nx-27017's differences from MongoDB (newsspider.store.nx27017), each shown on a real server.

These tests start their own nx-27017, whatever ``MONGO_URI`` says: they are about it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import ASCENDING, MongoClient
from pymongo.errors import OperationFailure

from newsspider.store.embedded import EmbeddedStore
from newsspider.store.nx27017 import date_lower_bound, date_operand, is_nx27017, keyset_index

BASE = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def nx_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    with EmbeddedStore(tmp_path_factory.mktemp("nx-quirks")) as server:
        client: MongoClient = MongoClient(server.uri, tz_aware=True)
        yield client["quirks"]
        client.close()


@pytest.fixture
def stamped(nx_db):
    """``updated_at`` at 0, 400 and 1000 ms past BASE, indexed."""
    collection = nx_db["stamped"]
    collection.drop()
    collection.insert_many(
        [{"_id": f"ms{ms:04d}", "updated_at": BASE + timedelta(milliseconds=ms)}
         for ms in (0, 400, 1000)]
    )
    collection.create_index([("updated_at", ASCENDING)])
    return collection


def ids(cursor) -> list[str]:
    return sorted(doc["_id"] for doc in cursor)


def test_the_server_is_recognised(nx_db) -> None:
    assert is_nx27017(nx_db)


def test_date_comparisons_drop_the_milliseconds(stamped) -> None:
    # MongoDB answers ms0400 and ms1000 here; nx-27017 compares whole seconds.
    assert ids(stamped.find({"updated_at": {"$gt": BASE}})) == ["ms1000"]
    assert ids(stamped.find({"updated_at": {"$gte": BASE + timedelta(milliseconds=400)}})) == [
        "ms0000", "ms0400", "ms1000"]
    # The workaround: the second's start as a $gte bound returns a superset on both servers.
    bound = date_lower_bound(BASE + timedelta(milliseconds=400))
    assert ids(stamped.find({"updated_at": {"$gte": bound}})) == ["ms0000", "ms0400", "ms1000"]
    # Sorting is exact to the millisecond.
    assert [d["_id"] for d in stamped.find({}, sort=[("updated_at", -1)])] == [
        "ms1000", "ms0400", "ms0000"]


def test_a_date_range_reads_every_document_though_explain_names_the_index(stamped, tmp_path: Path) -> None:
    plan = stamped.find({"updated_at": {"$gte": BASE}}).explain()["queryPlanner"]["winningPlan"]
    assert "USING INDEX" in str(plan)

    # What the server executes: the same find through neosqlite, the library nx-27017
    # serves every find with, on a database of the same shape, with SQLite's trace on.
    import neosqlite

    connection = neosqlite.Connection(str(tmp_path / "same.db"))
    collection = connection["stamped"]
    collection.insert_many(list(stamped.find({})))
    collection.create_index("updated_at")
    executed: list[str] = []
    connection.db.set_trace_callback(executed.append)
    found = list(collection.find({"updated_at": {"$gte": BASE}}).sort([("updated_at", 1)]))
    connection.db.set_trace_callback(None)
    assert len(found) == 3
    [select] = [sql for sql in executed if sql.startswith("SELECT") and "updated_at" in sql]
    assert "datetime(COALESCE(" in select
    steps = [row[3] for row in connection.db.execute("EXPLAIN QUERY PLAN " + select)]
    assert steps == ["SCAN stamped"], steps
    connection.close()


def test_no_id_in_a_compound_index(nx_db) -> None:
    stored = nx_db["compound_stored"]
    stored.insert_one({"_id": "a", "updated_at": BASE})
    with pytest.raises(OperationFailure, match="JSON path error"):
        stored.create_index([("updated_at", ASCENDING), ("_id", ASCENDING)])
    # Worse on a collection that does not exist yet: the index is accepted, and
    # from then on every insert fails.
    fresh = nx_db["compound_fresh"]
    fresh.create_index([("updated_at", ASCENDING), ("_id", ASCENDING)])
    with pytest.raises(OperationFailure, match="JSON path error"):
        fresh.insert_one({"_id": "a", "updated_at": BASE})

    model = keyset_index("updated_at", is_nx27017(nx_db))
    assert list(model.document["key"].items()) == [("updated_at", ASCENDING)]
    keyed = nx_db["compound_keyed"]
    keyed.create_indexes([model])
    keyed.insert_one({"_id": "a", "updated_at": BASE})
    assert keyed.find_one({"_id": "a"})["updated_at"] == BASE


def test_set_of_a_datetime_stores_a_string_and_date_operand_a_date(nx_db) -> None:
    collection = nx_db["set_dates"]
    collection.drop()
    collection.insert_many([{"_id": k, "at": BASE} for k in ("set", "operand", "plain")])
    later = BASE + timedelta(seconds=1, milliseconds=250)
    collection.update_one({"_id": "set"}, {"$set": {"at": later}})
    assert collection.find_one({"_id": "set"})["at"] == "2024-05-01 08:30:01.250000"
    collection.update_one({"_id": "operand"}, {"$set": {"at": date_operand(later, nx27017=True)}})
    assert collection.find_one({"_id": "operand"})["at"] == later
    ordered = collection.find({"at": {"$gte": BASE}}, sort=[("at", 1), ("_id", 1)])
    assert [d["_id"] for d in ordered if d["_id"] != "set"] == ["plain", "operand"]
    assert date_operand(later, nx27017=False) is later  # MongoDB: a plain $set


def test_current_date_breaks_every_sorted_date_filtered_query(nx_db) -> None:
    collection = nx_db["stamped_now"]
    collection.drop()
    collection.insert_many([{"_id": "inserted", "at": BASE}, {"_id": "current", "at": BASE}])
    collection.update_one({"_id": "current"}, {"$currentDate": {"at": True}})
    assert isinstance(collection.find_one({"_id": "current"})["at"], datetime)
    with pytest.raises(OperationFailure, match="offset-naive and offset-aware"):
        list(collection.find({"at": {"$gte": BASE}}, sort=[("at", 1)]))


def test_nx27017_answers_a_date_range_without_the_index_and_a_string_range_with_it(
        tmp_path: Path) -> None:
    """neosqlite (nx-27017's engine) sends a date range — and a range on a string that
    begins like a date — through SQLite's datetime(), with no ORDER BY and no LIMIT
    (every matching row is read and sorted in Python), and a range on any other
    string as an indexed json_extract range with ORDER BY … LIMIT.
    Read from the SQL its engine (neosqlite) executes: a server's ``explain`` reports
    another statement.  If this test fails, nx-27017 got better: the listing keys
    (newsspider.store.listing) could be dates again."""
    neosqlite = pytest.importorskip("neosqlite")
    conn = neosqlite.Connection(str(tmp_path / "quirk.db"))
    coll = conn["articles"]
    coll.create_index("published_at")
    coll.create_index("list_key")
    coll.insert_one({"_id": "a", "published_at": datetime(2024, 1, 1, tzinfo=UTC),
                     "list_key": "r:2024-01-01T00:00:00Z\x1fa"})
    statements: list[str] = []
    conn.db.set_trace_callback(statements.append)

    def sql_of(query: dict[str, Any], key: str) -> str:
        statements.clear()
        list(coll.find(query).sort(key, -1).limit(5))
        return next(s for s in statements if s.startswith("SELECT id, _id"))

    by_date = sql_of({"published_at": {"$lt": datetime(2024, 2, 1, tzinfo=UTC)}}, "published_at")
    assert "datetime(" in by_date and "ORDER BY" not in by_date and "LIMIT" not in by_date
    date_like = sql_of({"list_key": {"$lt": "2024-02-01T00:00:00Z\x1f"}}, "list_key")
    assert "datetime(" in date_like and "LIMIT" not in date_like
    by_key = sql_of({"list_key": {"$lt": "r:2024-02-01"}}, "list_key")
    assert "json_extract(data, '$.list_key') <" in by_key
    assert "ORDER BY" in by_key and "LIMIT" in by_key
    plan = conn.db.execute("EXPLAIN QUERY PLAN " + by_key.replace("?", "'x'")).fetchall()
    assert any("USING INDEX idx_articles_list_key" in str(row) for row in plan), plan
