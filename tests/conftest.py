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


def chromium_or_skip() -> str:
    """Debian's Chromium (``NEWSSPIDER_CHROMIUM`` or on PATH); skip without it, fail with ``CI`` set."""
    from scrapy.settings import Settings

    from newsspider.runtime import find_chromium

    found = find_chromium(Settings({"NEWSSPIDER_CHROMIUM": os.environ.get("NEWSSPIDER_CHROMIUM", "")}))
    if found is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI=true but Chromium is missing: apt-get install chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return found


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


class CrawlResult:
    def __init__(self, returncode: int, stdout: str, stderr: str, db) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.db = db

    def __repr__(self) -> str:
        return f"CrawlResult(rc={self.returncode}, stderr tail={self.stderr[-3000:]!r})"


def settings_free_env(**env: str) -> dict[str, str]:
    """This process's environment without any newsspider, Scrapy or plugin setting's variable, plus ``env``."""
    from newsspider import settings
    from newsspider.config import DECLARED

    assert settings.BOT_NAME and DECLARED  # settings imported: DECLARED names every setting
    drop = {*DECLARED, *(d.old for d in DECLARED.values() if d.old)}
    clean = {k: v for k, v in os.environ.items()
             if k not in drop and not k.startswith(("NEWSSPIDER_", "PLAYWRIGHT_"))}
    return {**clean, **env}


def crawl_command(spider: str, *args: str, settings: dict | None = None) -> list[str]:
    """``scrapy crawl <spider> -a … -s …`` as a user would type it (AutoThrottle off, INFO logs)."""
    import sys

    cmd = [str(Path(sys.executable).with_name("scrapy")), "crawl", spider]
    for arg in args:
        cmd += ["-a", arg]
    merged = {"AUTOTHROTTLE_ENABLED": "False", "LOG_LEVEL": "INFO", **(settings or {})}
    for name, value in merged.items():
        cmd += ["-s", f"{name}={value}"]
    return cmd


def crawl_env(mongo_uri: str, db_name: str, data_dir: Path) -> dict[str, str]:
    """The environment of a crawl into ``db_name`` with its own data directory."""
    return {
        **os.environ,
        "MONGO_URI": mongo_uri,
        "MONGO_DATABASE": db_name,
        "NEWSSPIDER_DATA_DIR": str(data_dir),
    }


def scrapy_crawl(
    mongo_uri: str,
    db_name: str,
    data_dir: Path,
    spider: str,
    *args: str,
    timeout: float = 240,
    env: dict | None = None,
    settings: dict | None = None,
) -> tuple[int, str, str]:
    """Run ``scrapy crawl <spider>`` as a user would: a subprocess, real store, real HTTP."""
    import subprocess

    proc = subprocess.run(
        crawl_command(spider, *args, settings=settings), cwd=REPO,
        env={**crawl_env(mongo_uri, db_name, data_dir), **(env or {})},
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def run_crawl(mongo_uri: str, mongo_db, tmp_path: Path):
    """``run_crawl(spider, "name=value", …, settings={…})`` into this test's database."""

    def run(spider: str, *args: str, **kwargs) -> CrawlResult:
        code, out, err = scrapy_crawl(
            mongo_uri, mongo_db.name, tmp_path / "data", spider, *args, **kwargs
        )
        return CrawlResult(code, out, err, mongo_db)

    return run
