"""Safe defaults (contract §5 of the brief): nothing that executes code on request, polite
crawling, and credentials that come from the environment and never reach a log line."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from newsspider.replica.server import ReplicaServer
from tests.conftest import REPO, scrapy_crawl, settings_free_env


@pytest.fixture(scope="module")
def replica_listing_url():
    with ReplicaServer() as server:
        yield server.listing_url


def _project_settings(env: dict[str, str] | None = None) -> dict:
    """The project settings as a fresh process sees them (settings.py reads the env at import)."""
    code = (
        "import json, os\n"
        "os.environ['SCRAPY_SETTINGS_MODULE'] = 'newsspider.settings'\n"
        "from scrapy.utils.project import get_project_settings\n"
        "s = get_project_settings()\n"
        "print(json.dumps({k: s[k] for k in ('TELNETCONSOLE_ENABLED', 'ROBOTSTXT_OBEY',"
        " 'AUTOTHROTTLE_ENABLED', 'CONCURRENT_REQUESTS', 'CONCURRENT_REQUESTS_PER_DOMAIN',"
        " 'USER_AGENT', 'REMOTE_CONTROL_ENABLED', 'CONCURRENT_ITEMS')}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                          env=settings_free_env(**(env or {})),
                          capture_output=True, text=True, timeout=60, check=True)
    import json

    return dict(json.loads(proc.stdout))


def test_polite_crawling_defaults() -> None:
    s = _project_settings()
    assert s["ROBOTSTXT_OBEY"] is True
    assert s["AUTOTHROTTLE_ENABLED"] is True
    assert 0 < int(s["CONCURRENT_REQUESTS_PER_DOMAIN"]) <= int(s["CONCURRENT_REQUESTS"])
    assert s["TELNETCONSOLE_ENABLED"] is False
    assert "newsspider" in s["USER_AGENT"] and "+http" in s["USER_AGENT"]  # a contact URL


def test_items_per_response_bounded_and_configurable() -> None:
    # Scrapy starts CONCURRENT_ITEMS asyncio tasks for every response's output.
    assert int(_project_settings()["CONCURRENT_ITEMS"]) == 8
    assert int(_project_settings({"CONCURRENT_ITEMS": "32"})["CONCURRENT_ITEMS"]) == 32


def test_user_agent_comes_from_the_environment() -> None:
    agent = "acme-news-bot/2.0 (+https://acme.example/bot)"
    assert _project_settings({"USER_AGENT": agent})["USER_AGENT"] == agent


@pytest.fixture(scope="module")
def secret_crawl(tmp_path_factory, replica_listing_url):
    """A real crawl with ``user:password@`` in MONGO_URI, pointing at a port nobody serves."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data_dir = tmp_path_factory.mktemp("data")
    secret_uri = f"mongodb://crawler:s3cretPW%21@127.0.0.1:{port}/?authSource=admin"
    _code, out, err = scrapy_crawl(
        secret_uri, "redaction_test", data_dir, "ofweek",
        f"start_url={replica_listing_url}", "max_pages=1",
        env={"NEWSSPIDER_STORE_START_TIMEOUT": "1", "NEWSSPIDER_STORE_SERVER_TIMEOUT": "1"},
        timeout=120,
    )
    return port, out + err, data_dir


def test_no_telnet_console_and_no_remote_control(secret_crawl) -> None:
    s = _project_settings()
    assert s["TELNETCONSOLE_ENABLED"] is False and s["REMOTE_CONTROL_ENABLED"] is False
    # What a real crawl actually enabled (Scrapy logs the list at start).
    _, logs, _ = secret_crawl
    enabled = logs.split("Enabled extensions:", 1)[1].split("]", 1)[0]
    assert "scrapy.extensions.corestats.CoreStats" in enabled  # the list is real
    assert "telnet" not in enabled.lower()
    assert "remote" not in enabled.lower()


def test_mongo_credentials_are_never_logged(secret_crawl) -> None:
    port, logs, data_dir = secret_crawl
    assert f"REDACTED@127.0.0.1:{port}" in logs, logs[-3000:]  # the URI was logged...
    for leak in ("s3cretPW", "crawler:"):
        assert leak not in logs  # ...without its credentials
    # Nor written anywhere (the journal of unwritten items is plain JSON).
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert b"s3cretPW" not in path.read_bytes(), path
