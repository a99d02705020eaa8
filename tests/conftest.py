"""Shared fixtures: a real store (nx-27017 process, or ``MONGO_URI``) per session.

Each test gets its own database name from :func:`mongo_db_name`, so tests never
see each other's documents, whether they run against nx-27017 or a real MongoDB.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from newsspider.store.embedded import EmbeddedStore

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MongoDB-protocol server: ``MONGO_URI`` when given, else nx-27017."""
    given = os.environ.get("MONGO_URI")
    if given:
        yield given
        return
    store = EmbeddedStore(tmp_path_factory.mktemp("nx-27017"))
    store.start()
    try:
        yield store.uri
    finally:
        store.stop()


@pytest.fixture
def mongo_db_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def mongo_client(mongo_uri: str) -> Iterator[MongoClient]:
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def mongo_db(mongo_client: MongoClient, mongo_db_name: str):
    db = mongo_client[mongo_db_name]
    yield db
    mongo_client.drop_database(mongo_db_name)
