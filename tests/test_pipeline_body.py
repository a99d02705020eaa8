"""BodyPipeline: the body stage on real corpus items, its one-parse function, and the old names.

``process_body`` against the two steps it combines on every corpus body; the
pipeline on real items (stats included); and the removed body-worker setting
and the two pipelines it replaced, given to a real crawl of the replica.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pymongo import MongoClient
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from newsspider.config import DeprecatedSettingWarning, rename_pipelines, warn_removed
from newsspider.models import validate_article
from newsspider.normalize.html import normalize_body, resolve_body
from newsspider.normalize.rules import BodyRules
from newsspider.normalize.text import content_hash, simhash64
from newsspider.pipelines.body import BodyPipeline, BodyRejected, process_body
from newsspider.replica.scenarios import generated_scenario
from newsspider.replica.server import ReplicaServer
from tests.conftest import scrapy_crawl
from tests.test_normalize_corpus import BASE_URLS, FILES, RULES, read_body

HERE = Path(__file__).resolve().parent
SEED = HERE / "fixtures" / "normalize" / "seed-post.md"
if not SEED.is_file():
    SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "seed-post.md"


def _crawler(settings: dict[str, Any] | None = None, rules: BodyRules | None = None) -> Any:
    crawler = get_crawler(settings_dict=settings or {})
    crawler.spider = SimpleNamespace(portal=SimpleNamespace(body_rules=rules) if rules else None)
    return crawler


def _item(raw: str) -> dict[str, Any]:
    return {
        "url": "https://www.ofweek.com/news/2022-08/ART-1.html",
        "fetched_url": "https://www.ofweek.com/news/2022-08/ART-1.html",
        "raw_body_html": raw,
        "summary": None,
    }


def _run(item: dict[str, Any], crawler: Any) -> dict[str, Any]:
    return BodyPipeline.from_crawler(crawler).process_item(item)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_process_body_is_both_steps_in_one_parse(path: Path) -> None:
    portal = path.parent.name
    rules = RULES.get(portal)
    html, base = read_body(path), BASE_URLS[portal]
    body = process_body(html, base, rules)
    resolved = resolve_body(html, base, rules)
    normalized = normalize_body(resolved.html, base, rules)
    assert body.images == resolved.images
    assert (body.html, body.text) == (normalized.html, normalized.text)
    assert body.content_hash == content_hash(normalized.text)
    assert body.simhash == simhash64(normalized.text)


def test_a_body_too_deep_is_rejected_with_its_reason() -> None:
    with pytest.raises(BodyRejected) as raised:
        process_body("<div>" * 3000 + "x", "https://a.example/")
    assert raised.value.reason == "too_deep"
    crawler = _crawler()
    item = _run(_item("<div>" * 3000 + "x"), crawler)
    assert item["_errors"][0]["field"] == "body_html" and "body_html" not in item
    assert crawler.stats.get_value("newsspider/body/failed/too_deep") == 1


def test_seed_item_through_the_body_stage() -> None:
    raw = re.sub(r"\A\s*---\n.*?\n---\s*\n", "", SEED.read_text(encoding="utf-8"), flags=re.DOTALL)
    crawler = _crawler(rules=BodyRules(unwrap=("span.hrefStyle",)))
    item = _run(_item(raw), crawler)
    assert item["raw_body_html"] == raw  # raw kept beside normalized
    assert len(item["images"]) == 6
    assert item["lead_image"].startswith("http://images.ofweek.com/Upload/News/2022-08/31/yuanchen/")
    assert item["images"][0]["src"].startswith("https://cors.zfour.workers.dev/?")
    assert "<a " not in item["body_html"] and "style=" not in item["body_html"]
    assert item["content_hash"] == content_hash(item["body_text"])
    assert isinstance(item["simhash"], int) and -(2**63) <= item["simhash"] < 2**63
    assert item["summary"].startswith("8月31日") and len(item["summary"]) <= 200
    stats = crawler.stats.get_stats()
    assert stats["newsspider/body/items"] == 1
    assert stats["newsspider/body/images"] == 6
    assert stats["newsspider/body/images_rewritten"] == 6
    assert stats["newsspider/body/unwrapped"] == 2
    assert stats["newsspider/body/summary_filled"] == 1


def test_existing_summary_kept_and_lazy_image_resolved() -> None:
    crawler = _crawler()
    item = _item('<p>text <img data-src="/a.jpg" src="/loading.gif"></p>')
    item["summary"] = "from the listing"
    item = _run(item, crawler)
    assert item["summary"] == "from the listing"
    assert item["images"] == [{"url": "https://www.ofweek.com/a.jpg", "src": "/loading.gif", "alt": ""}]


@pytest.mark.parametrize("raw", ["", "<script>only()</script>", "<div> \u3000 </div><p>&nbsp;</p>"])
def test_empty_body_normalizes_to_empty_text_for_the_validator_to_reject(raw: str) -> None:
    crawler = _crawler()
    item = _run(_item(raw), crawler)
    assert item["body_text"] == ""
    assert "_errors" not in item
    assert crawler.stats.get_value("newsspider/body/empty") == 1
    _, errors = validate_article(item)
    assert {"field": "body_text", "message": "article body is empty"} in errors


def test_missing_body_is_rejected_with_a_reason() -> None:
    crawler = _crawler()
    item = _run({"url": "https://x.example/"}, crawler)
    assert item["_errors"] == [{"field": "body_html", "message": "the article has no body HTML"}]
    assert crawler.stats.get_value("newsspider/body/failed/no_body") == 1


def test_items_already_rejected_pass_through_untouched() -> None:
    crawler = _crawler()
    errors = [{"field": "fetch", "message": "HTTP 500"}]
    item = {"url": "https://x.example/", "raw_body_html": "", "_errors": list(errors)}
    item = _run(item, crawler)
    assert item["_errors"] == errors
    assert "body_html" not in item


def test_user_proxy_setting() -> None:
    crawler = _crawler({"NEWSSPIDER_IMAGE_PROXIES": "img.cdn.example/r?src"})
    item = _run(_item('<p>x<img src="https://img.cdn.example/r?src=https://o.example/1.png"></p>'), crawler)
    assert item["images"][0]["url"] == "https://o.example/1.png"


def test_bad_proxy_setting_fails_at_start() -> None:
    with pytest.raises(ValueError, match="NEWSSPIDER_IMAGE_PROXIES"):
        BodyPipeline.from_crawler(_crawler({"NEWSSPIDER_IMAGE_PROXIES": "no-question-mark"}))


# -- the old names: NEWSSPIDER_BODY_WORKERS and the two pipelines BodyPipeline replaced --

OLD_IMAGES = "newsspider.pipelines.images.ImageResolvePipeline"
OLD_NORMALIZE = "newsspider.pipelines.normalize.NormalizePipeline"
BODY = "newsspider.pipelines.body.BodyPipeline"


@pytest.mark.parametrize(("given", "expected"), [
    ({OLD_IMAGES: 100, OLD_NORMALIZE: 200, "x.Validate": 300}, {BODY: 100, "x.Validate": 300}),
    ({OLD_NORMALIZE: 150}, {BODY: 150}),
    ({BODY: 120, OLD_IMAGES: 100}, {BODY: 120}),  # the successor listed itself: its order kept
    ({OLD_IMAGES: None, OLD_NORMALIZE: 200}, {BODY: 200}),
    ({OLD_IMAGES: None}, {}),
])
def test_old_pipeline_paths_are_replaced_by_the_body_stage(given: dict, expected: dict) -> None:
    settings = Settings({"ITEM_PIPELINES": given})
    with pytest.warns(DeprecatedSettingWarning, match="is no longer a pipeline"):
        rename_pipelines(settings)
    assert settings.getdict("ITEM_PIPELINES") == expected


def test_a_removed_setting_is_ignored_with_a_warning_naming_it() -> None:
    import newsspider.settings  # noqa: F401 -- where the removed settings are declared
    with pytest.warns(DeprecatedSettingWarning, match="NEWSSPIDER_BODY_WORKERS is no longer used"):
        warn_removed(Settings({"NEWSSPIDER_BODY_WORKERS": "2"}))


@pytest.fixture(scope="module")
def replica():
    with ReplicaServer(scenario=generated_scenario(100, per_page=50)) as server:
        yield server


_VOLATILE = ("first_seen_at", "last_crawled_at", "updated_at", "crawled_at")


def _articles(client: MongoClient, db_name: str) -> dict[str, dict]:
    return {doc["_id"]: {k: v for k, v in doc.items() if k not in _VOLATILE}
            for doc in client[db_name].articles.find()}


def test_a_crawl_given_the_old_names_warns_and_stores_what_the_default_crawl_stores(
    replica: ReplicaServer, mongo_uri: str, tmp_path: Path
) -> None:
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    names = {kind: f"body_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("default", "old")}
    old_pipelines = json.dumps({
        OLD_IMAGES: 100, OLD_NORMALIZE: 200, "newsspider.pipelines.validate.ValidatePipeline": 300,
        "newsspider.pipelines.dedup.DedupPipeline": 400, "newsspider.pipelines.store.MongoStorePipeline": 500,
    })
    try:
        code, _, err = scrapy_crawl(mongo_uri, names["default"], tmp_path / "default", "ofweek",
                                    f"start_url={replica.listing_url}", "max_pages=2")
        assert code == 0, err[-3000:]
        code, _, err = scrapy_crawl(
            mongo_uri, names["old"], tmp_path / "old", "ofweek", f"start_url={replica.listing_url}",
            "max_pages=2", env={"NEWSSPIDER_BODY_WORKERS": "2"},
            settings={"ITEM_PIPELINES": old_pipelines, "NEWSSPIDER_GC_THRESHOLD": "0"},
        )
        assert code == 0, err[-3000:]
        assert "NEWSSPIDER_BODY_WORKERS is no longer used and is ignored" in err  # environment
        assert "NEWSSPIDER_GC_THRESHOLD is no longer used and is ignored" in err  # -s
        assert f"{OLD_IMAGES} is no longer a pipeline; {BODY} does its work" in err
        assert f"{OLD_NORMALIZE} is no longer a pipeline" in err
        assert "'newsspider/body/items': 100" in err
        default, old = _articles(client, names["default"]), _articles(client, names["old"])
        assert len(default) == 100
        assert old == default
    finally:
        for name in names.values():
            client.drop_database(name)
        client.close()
