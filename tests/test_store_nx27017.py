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
from newsspider.store.nx27017 import (
    CONNECT_ERRORS,
    SEEN_ON,
    batch_transaction,
    date_lower_bound,
    date_operand,
    is_nx27017,
    keyset_index,
    stored_date,
)

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


def test_the_installed_release_is_the_one_the_differences_were_seen_on() -> None:
    from importlib.metadata import version

    assert version("nx-27017") == SEEN_ON, "re-check every difference below, then update SEEN_ON"


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


def test_build_info_names_the_process_not_the_release(nx_db) -> None:
    info = nx_db.client.admin.command("buildInfo")
    assert info["process"] == "nx_27017" and info["version"] == "7.0.0"


def test_add_to_set_on_a_missing_field_does_nothing(nx_db) -> None:
    collection = nx_db["add_to_set"]
    collection.drop()
    collection.insert_many([{"_id": "missing"}, {"_id": "empty", "urls": []}])
    for key in ("missing", "empty"):
        collection.update_one({"_id": key}, {"$addToSet": {"urls": {"$each": ["u"]}}})
    assert collection.find_one({"_id": "missing"}) == {"_id": "missing"}  # MongoDB: urls: ["u"]
    assert collection.find_one({"_id": "empty"})["urls"] == ["u"]  # the writer's way


def test_a_pushed_sub_document_is_stored_as_json_text(nx_db) -> None:
    collection = nx_db["pushed"]
    collection.drop()
    collection.insert_one({"_id": "k", "refs": []})
    collection.update_one({"_id": "k"}, {"$push": {"refs": {"a": 1}}})
    collection.update_one({"_id": "k"}, {"$push": {"refs": "123|https://x.test/a"}})
    assert collection.find_one({"_id": "k"})["refs"] == ['{"a":1}', "123|https://x.test/a"]


def test_replacing_a_document_holding_bytes_fails(nx_db) -> None:
    from pymongo.errors import WriteError

    from newsspider.store.values import json_safe

    collection = nx_db["bytes"]
    collection.drop()
    collection.insert_one({"_id": "r", "item": {"raw": b"\x00\x01"}})  # an insert works
    with pytest.raises(WriteError, match="bytes is not JSON serializable"):
        collection.replace_one({"_id": "r"}, {"_id": "r", "item": {"raw": b"\x00\x02"}}, upsert=True)
    collection.replace_one({"_id": "r"}, {"_id": "r", "item": json_safe({"raw": b"ok"})}, upsert=True)
    assert collection.find_one({"_id": "r"})["item"] == {"raw": "ok"}


def test_credentials_fail_the_handshake_as_a_key_error(nx_db) -> None:
    uri = "mongodb://user:secret@{}:{}/".format(*nx_db.client.address)
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=3000)
    try:
        with pytest.raises(CONNECT_ERRORS) as raised:
            client.admin.command("ping")
        assert isinstance(raised.value, KeyError)  # not a PyMongoError
    finally:
        client.close()


def test_an_abort_undoes_other_clients_writes(nx_db) -> None:
    collection = nx_db["aborted"]
    collection.drop()
    collection.insert_one({"_id": "before"})
    other: MongoClient = MongoClient("mongodb://{}:{}/".format(*nx_db.client.address))
    try:
        with nx_db.client.start_session() as session:
            session.start_transaction()
            collection.insert_one({"_id": "mine"}, session=session)
            other[nx_db.name]["aborted"].insert_one({"_id": "other client"})
            session.abort_transaction()
    finally:
        other.close()
    assert ids(collection.find()) == ["before"]  # MongoDB keeps "other client"


def test_a_find_of_a_new_collection_leaves_no_transaction_to_commit(nx_db) -> None:
    name = "never_seen"
    nx_db.drop_collection(name)
    with nx_db.client.start_session() as session:
        session.start_transaction()
        list(nx_db[name].find({"_id": {"$in": ["a"]}}, session=session))
        nx_db[name].insert_one({"_id": "a"}, session=session)
        with pytest.raises(OperationFailure, match="No session specified"):
            session.commit_transaction()
    assert ids(nx_db[name].find()) == ["a"]  # committed on its own


def test_batch_transaction_commits_also_after_a_failed_write(nx_db) -> None:
    collection = nx_db["batched"]
    collection.drop()
    collection.insert_one({"_id": "dup"})
    with pytest.raises(OperationFailure), batch_transaction(nx_db.client) as session:
        collection.insert_one({"_id": "kept"}, session=session)
        collection.insert_one({"_id": "dup"}, session=session)  # E11000
    with batch_transaction(nx_db.client) as session:  # the new-collection case commits too
        nx_db["batched_new"].drop()
        list(nx_db["batched_new"].find({}, session=session))
        nx_db["batched_new"].insert_one({"_id": "n"}, session=session)
    assert ids(collection.find()) == ["dup", "kept"]
    assert ids(nx_db["batched_new"].find()) == ["n"]


def test_a_string_date_written_by_set_reads_back_as_the_date(nx_db) -> None:
    collection = nx_db["string_dates"]
    collection.drop()
    collection.insert_one({"_id": "a", "at": BASE})
    later = BASE + timedelta(seconds=2, microseconds=5000)
    collection.update_one({"_id": "a"}, {"$set": {"at": later}})
    stored = collection.find_one({"_id": "a"})["at"]
    assert isinstance(stored, str)
    assert stored_date(stored) == later
    assert stored_date(BASE) == BASE and stored_date("not a date") is None and stored_date(None) is None


def test_a_scalar_in_on_an_indexed_field_reads_every_row_an_id_in_does_not(tmp_path: Path) -> None:
    """The SQL nx-27017's engine (neosqlite) runs: why every crawl lookup goes by ``_id``."""
    neosqlite = pytest.importorskip("neosqlite")
    connection = neosqlite.Connection(str(tmp_path / "lookups.db"))
    collection = connection["keys"]
    collection.create_index("portal")
    collection.insert_many([{"_id": f"u{i}", "portal": f"p{i % 3}"} for i in range(12)])
    executed: list[str] = []
    connection.db.set_trace_callback(executed.append)

    def plan(query: dict[str, Any]) -> list[str]:
        executed.clear()
        list(collection.find(query))
        [select] = [s for s in executed if s.startswith("SELECT id, _id")]
        return [row[3] for row in connection.db.execute("EXPLAIN QUERY PLAN " + select)]

    assert plan({"portal": {"$in": ["p1", "p2"]}})[0] == "SCAN keys"
    by_id = plan({"_id": {"$in": ["u1", "u2"]}})
    assert any("USING INDEX idx_keys_id" in step for step in by_id), by_id
    connection.db.set_trace_callback(None)
    connection.close()
