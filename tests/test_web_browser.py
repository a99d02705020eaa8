"""The dashboard in a real browser: headless Chromium (Playwright) against ``newsspider web``
on loopback, over a store filled by ``newsspider demo``.

Every page is opened, portal → run → article followed by clicking, what is
shown compared with the store, the console checked for errors, and an article
whose body carries scripts shown to run none of them.  Screenshots of each page
land in ``tests/artifacts/web/`` (ignored by git) — look at them.

Images a page asks for outside loopback are answered by the test with a
placeholder PNG (nothing leaves the machine); any other outside request fails
the test.  Without Chromium these tests skip, unless ``CI`` is set.
"""

from __future__ import annotations

import io
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from newsspider.runtime import CHROMIUM_ARGS
from newsspider.store.embedded import free_port
from newsspider.store.store import Store
from tests.conftest import REPO, chromium_or_skip
from tests.test_store_writer import article
from tests.webserver import WebServer, web_env

ARTIFACTS = REPO / "tests" / "artifacts" / "web"
TOKEN = "browser-test-token-0123456789abcdef"
HOSTILE_URL = "https://hostile.test/news/1.html"
HOSTILE_BODY = (
    "<p>正文第一段。</p>"
    "<script>window.__pwned = 'script'; alert('script')</script>"
    "<p><a href=\"javascript:window.__pwned='href';alert('href')\">点这里</a></p>"
    "<img src=\"https://img.hostile.test/a.png\" onerror=\"window.__pwned='onerror'\" alt=\"图\">"
    "<svg onload=\"window.__pwned='svg'\"></svg>"
    "<iframe srcdoc=\"<script>parent.__pwned='iframe'</script>\"></iframe>"
    "<p onclick=\"window.__pwned='click'\" style=\"background:url(javascript:alert(1))\">第二段</p>"
)


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_skip()


def _placeholder_png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 320), (221, 226, 234))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 639, 319), outline=(170, 178, 190), width=3)
    draw.line((0, 0, 639, 319), fill=(190, 196, 206), width=2)
    draw.line((0, 319, 639, 0), fill=(190, 196, 206), width=2)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@dataclass
class Store_:
    db: Any
    env: dict[str, str]
    demo_run: dict[str, Any]
    failed_run: dict[str, Any]
    coverage_run: dict[str, Any]


@pytest.fixture(scope="module")
def filled(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store_]:
    """``newsspider demo``, then a re-crawl of the same replica that fails a check, a run
    document with coverage as the portal-health monitor writes it (CONTRACT §3), and a
    hostile article (scripts in its body and title) stored twice (two revisions)."""
    from newsspider.replica.server import ReplicaServer

    name = "t_web_browser"
    data = tmp_path_factory.mktemp("data")
    env = web_env(mongo_uri, name, data)
    port = free_port()
    newsspider = str(Path(sys.executable).with_name("newsspider"))
    demo = subprocess.run([newsspider, "demo", "-q", "--port", str(port)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "newsspider web" in demo.stdout  # the demo says how to open the dashboard
    with ReplicaServer(port=port) as replica:
        again = subprocess.run(
            [newsspider, "crawl", "ofweek", "-q", "-a", f"start_url={replica.listing_url}",
             "-s", "NEWSSPIDER_MONITOR_MIN_ITEMS=1000", "-s", "AUTOTHROTTLE_ENABLED=false"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert again.returncode == 1, again.stderr[-3000:]  # min_items failed
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    db = client[name]
    demo_run, failed_run = list(db.runs.find({"portal": "ofweek"}).sort("started_at", 1))
    store = Store(uri=mongo_uri, database=name, data_dir=data / "extra")
    store.open()
    coverage_run = {
        "_id": "coverage-run", "portal": "ofweek", "finish_reason": "finished",
        "started_at": demo_run["started_at"] - timedelta(hours=3),
        "finished_at": demo_run["started_at"] - timedelta(hours=3) + timedelta(seconds=42),
        "worker": "web-test:1", "stats": {"item_scraped_count": 17, "log_count/ERROR": 0},
        "checks": {"passed": ["min_items", "finish_reason"],
                   "failed": [{"name": "coverage/author",
                               "message": "author coverage 0.45 is 0.5 below its baseline 0.95"}]},
        "coverage": {"author": 0.45, "published_at": 1.0, "summary": 0.8, "lead_image": 0.6,
                     "images": 0.7},
    }
    store.put_run_blocking(coverage_run)
    for n, body in enumerate((HOSTILE_BODY, HOSTILE_BODY + "<p>补充：修订后的第三段。</p>")):
        doc = article(HOSTILE_URL, body, title="<script>alert('title')</script>危险的标题",
                      portal="ofweek", raw_body_html=f"<div>{body}</div>")
        doc["body_text"] = f"正文第一段。\n点这里\n第二段{'。' * n}"
        store.put_article_blocking(doc)
        assert store.flush(30)
    store.close()
    try:
        yield Store_(db, env, demo_run, failed_run, coverage_run)
    finally:
        client.drop_database(name)
        client.close()


@dataclass
class Browser:
    page: Any
    base: str
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def goto(self, path: str) -> None:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, (path, response and response.status)


@pytest.fixture
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def _open(browser: Any, base: str) -> Browser:
    png = _placeholder_png()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    b = Browser(page, base)
    page.on("console", lambda m: b.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: b.errors.append(str(e)))

    def on_dialog(dialog: Any) -> None:
        b.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)

    def route(r: Any) -> None:
        if r.request.url.startswith(base):
            r.continue_()
        elif r.request.resource_type == "image":
            r.fulfill(status=200, content_type="image/png", body=png)
        else:
            b.outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return b


def test_pages_follow_portal_run_article_and_match_the_store(filled: Store_, browser: Any) -> None:
    db = filled.db
    with WebServer(filled.env) as web:
        b = _open(browser, web.url)
        # -- portals: the last run (the failed re-crawl) and its numbers -----------------
        b.goto("/")
        card = b.page.locator("#portal-ofweek")
        last = filled.failed_run
        assert card.locator(".badge").first.inner_text().lower() == "failed"
        assert card.locator("dd.items").inner_text() == f"{last['stats'].get('item_scraped_count', 0):,}"
        assert "min_items" in card.locator(".failed-checks").inner_text()
        assert card.locator("svg.sparkline rect").count() == 3  # three runs
        b.shot("portals")
        # -- portal → its runs → the demo's run -------------------------------------------
        card.locator("h2 a").click()
        b.page.wait_for_url("**/runs?portal=ofweek")
        rows = b.page.locator("table.runs tbody tr")
        assert rows.count() == db.runs.count_documents({"portal": "ofweek"}) == 3
        b.shot("runs")
        demo = filled.demo_run
        b.page.locator(f"a[href='/runs/{demo['_id']}']").click()
        b.page.wait_for_url(f"**/runs/{demo['_id']}")
        assert b.page.locator("h1 .badge").inner_text().lower() == "ok"
        assert b.page.locator("dd.finish-reason").inner_text() == demo["finish_reason"]
        assert b.page.locator("dd.items").inner_text() == f"{demo['stats']['item_scraped_count']:,}"
        statuses = b.page.locator("section:has(h2:text('Responses by status')) table.bars tr")
        assert statuses.count() == sum(1 for k in demo["stats"] if k.startswith(
            "downloader/response_status_count/"))
        b.shot("run")
        # -- run → the articles it stored → one article -------------------------------------
        b.page.locator("a.run-articles").click()
        b.page.wait_for_url("**/articles?**")
        links = b.page.locator("table.articles td.title a")
        # The link's window is the run's, in whole seconds: every ofweek article whose
        # first sighting falls in it (a write the store answered late is replayed, not
        # "inserted", so the stat alone undercounts on a loaded machine).
        lo = demo["started_at"].replace(microsecond=0)
        hi = demo["finished_at"].replace(microsecond=0) + timedelta(seconds=1)
        arrived = [d for d in db.articles.find({"portal": "ofweek"}, {"first_seen_at": 1})
                   if lo <= d["first_seen_at"] < hi]
        assert demo["stats"]["newsspider/store/inserted"] <= len(arrived)
        assert links.count() == len(arrived)
        b.shot("articles")
        first_title = links.first.inner_text()
        links.first.click()
        b.page.wait_for_url("**/article?url=**")
        url = urllib.parse.parse_qs(urllib.parse.urlsplit(b.page.url).query)["url"][0]
        doc = db.articles.find_one({"_id": url})
        assert doc is not None and doc["title"] == first_title
        assert b.page.locator("h1.article-title").inner_text() == doc["title"]
        assert b.page.locator("td.published-raw").inner_text() == doc["published_raw"]
        assert b.page.locator("table.images tbody tr, table.images tr:has(td)").count() == len(doc["images"])
        for n, image in enumerate(doc["images"]):
            row = b.page.locator("table.images tr:has(td)").nth(n)
            assert row.locator("td.src").inner_text() == image["src"]
            assert row.locator("td.url").inner_text() == image["url"]
        assert b.page.locator("article.body p").count() >= 1
        b.shot("article")
        # -- rejects: every one in the store, with its URL and messages ----------------------
        b.goto("/rejects")
        text = b.page.locator("table.rejects").inner_text()
        for reject in db.rejects.find():
            assert reject["url"] in text
            for error in reject["errors"]:
                assert error["message"] in text
        b.shot("rejects")
        # -- a title search -------------------------------------------------------------------
        query = doc["title"][:2]
        b.goto("/articles?q=" + urllib.parse.quote(query))
        titles = b.page.locator("table.articles td.title a").all_inner_texts()
        expected = [d["title"] for d in db.articles.find({}, {"title": 1}) if query in d["title"]]
        assert titles and sorted(titles) == sorted(expected)
        b.shot("search")
        # -- the run with coverage (the portal-health monitor's document) ---------------------
        b.goto(f"/runs/{filled.coverage_run['_id']}")
        coverage = b.page.locator("section:has(h2:text('Field coverage')) table.coverage").inner_text()
        assert "author" in coverage and "45 %" in coverage
        assert "below its baseline" in b.page.locator(".failed-checks").inner_text()
        b.shot("run-coverage")
        # -- empty states ----------------------------------------------------------------------
        b.goto("/articles?q=" + urllib.parse.quote("不存在的词语"))
        assert "No article matches" in b.page.inner_text("main")
        b.goto("/runs?status=ok&portal=nothing")
        assert "No runs match these filters" in b.page.inner_text("main")
        b.goto("/rejects?reason=nothing")
        assert "No rejects match" in b.page.inner_text("main")
        assert b.errors == [] and b.outside == [] and b.dialogs == []


def test_an_article_with_scripts_runs_none(filled: Store_, browser: Any) -> None:
    with WebServer(filled.env) as web:
        b = _open(browser, web.url)
        response = b.page.goto(web.url + "/article?url=" + urllib.parse.quote(HOSTILE_URL))
        assert response is not None and response.status == 200
        csp = response.headers["content-security-policy"]
        assert "script-src" not in csp and "default-src 'none'" in csp
        assert "img-src 'self' https://img.hostile.test;" in csp
        b.page.locator("article.body a").first.click()  # the javascript: link, made inert
        b.page.locator("article.body p").nth(1).click()
        b.page.wait_for_timeout(300)
        assert b.page.evaluate("typeof window.__pwned") == "undefined"
        assert b.dialogs == []
        body = b.page.locator("article.body")
        assert body.locator("script, iframe, svg, [onclick], [onerror], [style]").count() == 0
        assert body.locator("a[href^='javascript']").count() == 0
        image = body.locator("img")
        assert image.get_attribute("src") == "https://img.hostile.test/a.png"
        assert image.get_attribute("referrerpolicy") == "no-referrer"
        # The title and the raw source are text, not markup.
        assert b.page.locator("h1.article-title").inner_text() == "<script>alert('title')</script>危险的标题"
        b.page.locator("details.source summary").first.click()
        assert "<script>window.__pwned" in b.page.locator("details.source pre").first.inner_text()
        # Its second revision, with the diff of the body text.
        diff = b.page.locator("details.revision pre.diff").inner_text()
        assert "第二段。" in diff
        b.shot("article-hostile")
        assert b.page.evaluate("typeof window.__pwned") == "undefined"
        assert b.errors == [] and b.outside == [] and b.dialogs == []


def test_login_form_in_the_browser(filled: Store_, browser: Any) -> None:
    env = {**filled.env, "NEWSSPIDER_WEB_TOKEN": TOKEN}
    with WebServer(env, host="0.0.0.0") as web:
        b = _open(browser, web.url)
        b.page.goto(web.url + "/runs?portal=ofweek")
        b.page.wait_for_url("**/login?next=**")
        b.shot("login")
        b.page.fill("input[name=token]", "not-the-token-at-all")
        b.page.click("button[type=submit]")
        assert "wrong token" in b.page.inner_text("main")
        b.page.fill("input[name=token]", TOKEN)
        b.page.click("button[type=submit]")
        b.page.wait_for_url("**/runs?portal=ofweek")
        assert b.page.locator("table.runs tbody tr").count() == 3
        b.page.click("form.logout button")
        b.page.wait_for_url("**/login")
        b.page.goto(web.url + "/")
        b.page.wait_for_url("**/login?next=**")
        # "wrong token" answers 401, which Chromium logs as a failed resource: the only error.
        assert all("401" in e for e in b.errors), b.errors
        assert b.outside == [] and b.dialogs == []
