"""Batch transactions: the writer on an embedded nx-27017 of its own commits once per batch.

These tests start their own nx-27017 (whatever ``MONGO_URI`` says): batch
transactions are only ever used on the embedded server a store started.
Restarting that server on the same data directory shows what was committed:
SQLite rolls back an open transaction when the server stops.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import AutoReconnect

from newsspider.store.embedded import EmbeddedStore
from newsspider.store.journal import Journal
from newsspider.store.store import Store
from newsspider.store.writer import ARTICLE, RUN, Op, StoreWriter, dedup_key_refs
from tests.test_store_writer import _Commands, article

DB = "tx"


class _Server:
    """One nx-27017 on a data directory that outlives it (restartable)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.server = EmbeddedStore(data_dir)
        self.server.start()

    def restart(self) -> None:
        self.server.stop()
        self.server = EmbeddedStore(self.data_dir)
        self.server.start()

    def client(self, **kw: Any) -> MongoClient:
        return MongoClient(self.server.uri, tz_aware=True, **kw)


@pytest.fixture
def nx(tmp_path: Path) -> Iterator[_Server]:
    server = _Server(tmp_path / "nx")
    yield server
    server.server.stop()


@pytest.fixture
def tx_writer(nx: _Server, tmp_path: Path) -> Iterator[tuple[StoreWriter, _Commands]]:
    listener = _Commands()
    client = nx.client(event_listeners=[listener])
    writer = StoreWriter(client[DB], Journal(tmp_path / "journal"), batch_size=2, flush_seconds=60,
                         batch_transactions=True)
    writer.start()
    yield writer, listener
    writer.close(5)
    client.close()


def _stored(nx: _Server, collection: str) -> dict[str, Any]:
    client = nx.client()
    try:
        return {doc["_id"]: doc for doc in client[DB][collection].find()}
    finally:
        client.close()


def test_each_batch_is_one_committed_transaction(nx, tx_writer) -> None:
    writer, listener = tx_writer
    docs = [article(f"https://a.test/tx/{i:06d}", body=f"第{i}篇的正文，各不相同。") for i in range(4)]
    for doc in docs[:2]:
        writer.put_blocking(Op(ARTICLE, doc))
    assert writer.flush(5)
    for doc in docs[2:]:
        writer.put_blocking(Op(ARTICLE, doc))
    assert writer.flush(5)

    names = [e.command_name for e in listener.seen]
    assert names.count("commitTransaction") == 2 and "abortTransaction" not in names
    # Every read and write of a batch runs in its transaction: same session, same txnNumber.
    data = [e.command for e in listener.seen if e.command_name in ("find", "insert", "update")]
    assert data and all(c.get("autocommit") is False and "txnNumber" in c for c in data)
    assert len({(c["lsid"]["id"], c["txnNumber"]) for c in data}) == 2

    writer.close(5)
    nx.restart()  # only committed writes survive
    assert sorted(_stored(nx, "articles")) == [d["url"] for d in docs]
    keys = _stored(nx, "dedup_keys")
    for doc in docs:
        for key, ref in dedup_key_refs(doc["url"], doc["simhash"]):
            assert ref in keys[key]["refs"]


def test_a_failed_write_in_a_batch_never_rolls_back_other_writes(nx, tx_writer) -> None:
    writer, listener = tx_writer
    peer = nx.client()
    body = "两个进程同时写入的正文。"
    mine = article("https://a.test/tx/mine", body=body)
    their_key, their_ref = dedup_key_refs("https://a.test/tx/theirs", mine["simhash"])[0]

    writer.put_blocking(Op(ARTICLE, article("https://a.test/tx/first", body="先写的一篇。")))
    assert writer.flush(5)  # dedup_keys was empty at this writer's first keys: no existence queries
    # A peer's key appears unseen: this batch's insert of it fails (E11000) inside the
    # transaction, and the writer pushes to it instead.
    peer[DB].dedup_keys.insert_one({"_id": their_key, "refs": [their_ref]})
    original = writer._write_dedup_keys

    def with_a_peer_write_meanwhile(planned: Any) -> None:
        if not planned or failed:
            return original(planned)
        # Written while the batch's transaction is open, on the server's one SQLite connection.
        peer[DB].runs.insert_one({"_id": "peer-run", "portal": "peer"})
        original(planned)
        failed.append(True)  # then the batch fails: it is retried, nothing rolled back
        raise AutoReconnect("connection lost after the keys were written")

    failed: list[bool] = []

    writer._write_dedup_keys = with_a_peer_write_meanwhile  # type: ignore[method-assign]
    writer.put_blocking(Op(ARTICLE, mine))
    writer.put_blocking(Op(ARTICLE, article("https://a.test/bad/00001", body="坏的", images=[object()])))
    assert writer.flush(5)
    writer.put_blocking(Op(RUN, {"_id": "my-run", "portal": "ofweek"}))
    assert writer.flush(5)
    writer.close(5)
    peer.close()

    nx.restart()
    assert sorted(_stored(nx, "articles")) == ["https://a.test/tx/first", "https://a.test/tx/mine"]
    # The batch failed on the refused document, then on the lost connection (after its
    # keys), and was written again: the peer's write made meanwhile is kept.
    assert failed
    assert sorted(_stored(nx, "runs")) == ["my-run", "peer-run"]
    keys = _stored(nx, "dedup_keys")
    assert keys[their_key]["refs"] == [their_ref, dedup_key_refs(mine["url"], mine["simhash"])[0][1]]
    assert "abortTransaction" not in [e.command_name for e in listener.seen]


def test_only_a_store_that_started_its_server_uses_batch_transactions(tmp_path: Path) -> None:
    embedded = Store(uri="", database=DB, data_dir=tmp_path / "own")
    embedded.open()
    try:
        assert embedded.writer is not None and embedded.writer.batch_transactions
        given = Store(uri=embedded.uri, database=DB, data_dir=tmp_path / "given")
        given.open()
        try:
            assert given.writer is not None and not given.writer.batch_transactions
        finally:
            given.close()
    finally:
        embedded.close()
