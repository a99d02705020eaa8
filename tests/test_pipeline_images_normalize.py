"""ImageResolvePipeline and NormalizePipeline on real corpus items."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy.utils.test import get_crawler

from newsspider.models import validate_article
from newsspider.normalize.rules import BodyRules
from newsspider.normalize.text import content_hash
from newsspider.pipelines.images import ImageResolvePipeline
from newsspider.pipelines.normalize import NormalizePipeline

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
    item = asyncio.run(ImageResolvePipeline.from_crawler(crawler).process_item(item))
    return NormalizePipeline.from_crawler(crawler).process_item(item)


def test_seed_item_through_both_pipelines() -> None:
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
    assert stats["newsspider/images/found"] == 6
    assert stats["newsspider/images/rewritten"] == 6
    assert stats["newsspider/images/unwrapped"] == 2
    assert stats["newsspider/normalize/summary_filled"] == 1


def test_existing_summary_kept_and_normalize_alone_fills_images() -> None:
    crawler = _crawler()
    item = _item('<p>text <img data-src="/a.jpg" src="/loading.gif"></p>')
    item["summary"] = "from the listing"
    item = NormalizePipeline.from_crawler(crawler).process_item(item)
    assert item["summary"] == "from the listing"
    assert item["images"] == [{"url": "https://www.ofweek.com/a.jpg", "src": "/loading.gif", "alt": ""}]


@pytest.mark.parametrize("raw", ["", "<script>only()</script>", "<div> \u3000 </div><p>&nbsp;</p>"])
def test_empty_body_normalizes_to_empty_text_for_the_validator_to_reject(raw: str) -> None:
    crawler = _crawler()
    item = asyncio.run(ImageResolvePipeline.from_crawler(crawler).process_item(_item(raw)))
    item = NormalizePipeline.from_crawler(crawler).process_item(item)
    assert item["body_text"] == ""
    assert "_errors" not in item
    assert crawler.stats.get_value("newsspider/normalize/empty") == 1
    _, errors = validate_article(item)
    assert {"field": "body_text", "message": "article body is empty"} in errors


def test_missing_body_is_rejected_with_a_reason() -> None:
    crawler = _crawler()
    item = NormalizePipeline.from_crawler(crawler).process_item({"url": "https://x.example/"})
    assert item["_errors"] == [{"field": "body_html", "message": "the article has no body HTML"}]
    assert crawler.stats.get_value("newsspider/normalize/failed/no_body") == 1


def test_items_already_rejected_pass_through_untouched() -> None:
    crawler = _crawler()
    errors = [{"field": "fetch", "message": "HTTP 500"}]
    item = {"url": "https://x.example/", "raw_body_html": "", "_errors": list(errors)}
    item = asyncio.run(ImageResolvePipeline.from_crawler(crawler).process_item(item))
    item = NormalizePipeline.from_crawler(crawler).process_item(item)
    assert item["_errors"] == errors
    assert "body_html" not in item


def test_user_proxy_setting() -> None:
    crawler = _crawler({"NEWSSPIDER_IMAGE_PROXIES": "img.cdn.example/r?src"})
    item = _run(_item('<p>x<img src="https://img.cdn.example/r?src=https://o.example/1.png"></p>'), crawler)
    assert item["images"][0]["url"] == "https://o.example/1.png"


def test_bad_proxy_setting_fails_at_start() -> None:
    with pytest.raises(ValueError, match="NEWSSPIDER_IMAGE_PROXIES"):
        ImageResolvePipeline.from_crawler(_crawler({"NEWSSPIDER_IMAGE_PROXIES": "no-question-mark"}))
