"""``newsspider web`` over HTTP on loopback: who may bind where, the token, the headers, read-only."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsspider.store.embedded import free_port
from newsspider.store.store import Store
from newsspider.web.server import exposure_error, is_loopback
from tests.conftest import REPO
from tests.test_store_writer import article
from tests.webserver import WebServer, web_env

TOKEN = "s3cret-token-for-tests-0123456789"
NEWSSPIDER = str(Path(sys.executable).with_name("newsspider"))


def _web(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NEWSSPIDER, "web", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.9.9.9", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False), ("192.168.1.10", False),
    ("dash.example.com", False),
])
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert (exposure_error(host, "") is None) is loopback
    assert exposure_error(host, TOKEN) is None


def test_any_other_host_without_a_token_exits_2(mongo_uri, mongo_db_name, tmp_path) -> None:
    env = web_env(mongo_uri, mongo_db_name, tmp_path)
    result = _web(env, "--host", "0.0.0.0", "--port", str(free_port()))
    assert result.returncode == 2, result
    assert "NEWSSPIDER_WEB_TOKEN" in result.stderr and "not a loopback address" in result.stderr
    short = _web({**env, "NEWSSPIDER_WEB_TOKEN": "short"}, "--port", str(free_port()))
    assert short.returncode == 2 and "at least 16" in short.stderr


def test_a_port_in_use_exits_2(mongo_uri, mongo_db_name, tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = _web(web_env(mongo_uri, mongo_db_name, tmp_path), "--port", str(port))
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr


@pytest.fixture
def stored(mongo_uri, mongo_db, tmp_path):
    """A few articles, a run and a reject, written by the store's writer."""
    store = Store(uri=mongo_uri, database=mongo_db.name, data_dir=tmp_path / "w")
    store.open()
    for i in range(3):
        store.put_article_blocking(article(f"https://a.test/n/{i}", f"正文 {i}", title=f"光伏 {i}"))
    started = datetime(2024, 5, 1, tzinfo=UTC)
    store.put_run_blocking({"_id": "run1", "portal": "ofweek", "started_at": started,
                            "finished_at": started, "finish_reason": "finished",
                            "stats": {"item_scraped_count": 3}})
    assert store.flush(30)
    store.close()
    return mongo_db


def _snapshot(db) -> dict[str, str]:
    """A hash of every document of every collection: what "nothing changed" means."""
    out = {}
    for name in sorted(db.list_collection_names()):
        docs = sorted(json.dumps(d, default=str, sort_keys=True) for d in db[name].find())
        out[name] = hashlib.sha256("\n".join(docs).encode()).hexdigest()
    return out


def test_pages_headers_and_read_only(stored, mongo_uri, tmp_path) -> None:
    before = _snapshot(stored)
    with WebServer(web_env(mongo_uri, stored.name, tmp_path)) as web:
        paths = ["/", "/runs", "/runs/run1", "/articles", "/articles?q=光伏",
                 "/article?url=" + urllib.parse.quote("https://a.test/n/1"), "/rejects",
                 "/runs?status=failed", "/articles?portal=ofweek&from=2024-01-01&to=2030-01-01"]
        for path in paths:
            reply = web.get(path)
            assert reply.status == 200, (path, reply.body[:500])
            csp = reply.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "script" not in csp, path
            assert reply.headers["referrer-policy"] == "no-referrer"
            assert reply.headers["x-content-type-options"] == "nosniff"
            assert reply.headers["x-frame-options"] == "DENY"
            assert "server" not in reply.headers
        assert "光伏 1" in web.get("/articles?q=光伏").body
        assert web.get("/runs/nope").status == 404
        assert web.get("/article?url=https://a.test/none").status == 404
        bad = web.get("/articles?from=2024-99-01")
        assert bad.status == 400 and "is not a date" in bad.body
        # No write on any method: only GET pages (and the login form) exist.
        assert web.get("/articles", data=b"x=1").status == 405
        # Served on loopback without a token: another Host (DNS rebinding) is refused.
        assert web.get("/", headers={"Host": "evil.example"}).status == 400
        assert web.get("/healthz").body == "ok\n"
    assert _snapshot(stored) == before


def test_token_bearer_and_login_form(stored, mongo_uri, tmp_path) -> None:
    env = web_env(mongo_uri, stored.name, tmp_path, NEWSSPIDER_WEB_TOKEN=TOKEN)
    with WebServer(env, host="0.0.0.0") as web:
        assert web.get("/runs").status == 401
        assert web.get("/runs", headers={"Authorization": "Bearer wrong-token-wrong-token"}).status == 401
        assert web.get("/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status == 200
        browser = web.get("/runs?portal=ofweek", headers={"Accept": "text/html"})
        assert browser.status == 303
        assert browser.headers["location"] == "/login?next=" + urllib.parse.quote(
            "/runs?portal=ofweek", safe="")
        assert web.get("/healthz").status == 200 and web.get("/static/app.css").status == 200
        login = web.get("/login")
        assert login.status == 200 and 'type="password"' in login.body
        wrong = web.get("/login", data=urllib.parse.urlencode({"token": "nope"}).encode())
        assert wrong.status == 401 and "wrong token" in wrong.body
        # An open redirect is not on offer: next must be a path on this site.
        ok = web.get("/login", data=urllib.parse.urlencode(
            {"token": TOKEN, "next": "//evil.example/x"}).encode())
        assert ok.status == 303 and ok.headers["location"] == "/"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
        session = cookie.split(";", 1)[0]
        assert web.get("/runs", headers={"Cookie": session}).status == 200
        assert web.get("/runs", headers={"Cookie": "newsspider_web=forged"}).status == 401
        # With a token the Host header does not matter (the token is the guard).
        assert web.get("/", headers={"Host": "dash.example", "Cookie": session}).status == 200


def test_reindex_then_serves_older_documents(mongo_uri, mongo_db, tmp_path) -> None:
    mongo_db.articles.insert_one(article("https://a.test/old", title="旧的文章",
                                         first_seen_at=datetime(2024, 1, 1, tzinfo=UTC)))
    env = web_env(mongo_uri, mongo_db.name, tmp_path)
    with WebServer(env) as web:
        body = web.get("/articles").body
        assert "newsspider web --reindex" in body and "旧的文章" not in body
    result = _web(env, "--reindex")
    assert result.returncode == 0 and "1 articles" in result.stdout, result
    with WebServer(env) as web:
        body = web.get("/articles").body
        assert "旧的文章" in body and "--reindex" not in body


def test_without_a_chosen_database_the_demo_is_shown(mongo_uri, tmp_path) -> None:
    from pymongo import MongoClient

    client: MongoClient = MongoClient(mongo_uri)
    demo = client["newsspider_demo"]
    if demo.articles.find_one() is not None or client["newsspider"].runs.find_one() is not None:
        pytest.skip("the session store already holds newsspider or newsspider_demo data")
    try:
        demo.runs.insert_one({"_id": "d1", "portal": "ofweek", "finish_reason": "finished",
                              "started_at": datetime(2024, 5, 1, tzinfo=UTC),
                              "list_key": "r:2024-05-01T00:00:00Z\x1fd1", "status": "ok"})
        env = web_env(mongo_uri, "x", tmp_path)
        env.pop("MONGO_DATABASE")
        with WebServer(env) as web:
            body = web.get("/").body
            assert "the demo's database" in body and 'id="portal-ofweek"' in body
            assert "holds no run or article yet" in body
    finally:
        client.drop_database("newsspider_demo")
        client.close()


def test_a_running_dashboard_sees_each_demo_crawl(tmp_path) -> None:
    """``newsspider web`` on the embedded store (its own nx-27017 process) while
    ``newsspider demo`` runs twice on the same data directory (another nx-27017
    process, which empties the demo database first): every page shows the latest
    crawl.  The demo drops collections, not the database: nx-27017 deletes a
    dropped database's file under the other process, and the demo's data was then
    lost (``disk I/O error`` reading it)."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URI", "NEWSSPIDER_WEB_TOKEN")}
    env.update(NEWSSPIDER_DATA_DIR=str(tmp_path), MONGO_DATABASE="newsspider_demo")
    with WebServer(env) as web:
        assert "No crawl in database" in web.get("/").body
        for _ in range(2):
            demo = subprocess.run([NEWSSPIDER, "demo", "-q"], cwd=REPO, env=env,
                                  capture_output=True, text=True, timeout=240, check=False)
            assert demo.returncode == 0, demo.stderr[-2000:]
            runs = web.get("/runs").body
            assert runs.count('class="badge ok"') == 1, runs[-2000:]
            assert web.get("/articles").body.count('class="title"') == 24
            assert web.get("/rejects").body.count('class="chip bad"') == 2
