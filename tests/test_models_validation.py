"""The validation boundary: what passes, and the field-level reasons for what does not."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from newsspider.models import SCHEMA_VERSION, validate_article


def good_item(**changes: object) -> dict:
    text = "第一段。\n第二段。"
    item = {
        "url": "https://www.ofweek.com/2022-08/ART-1.html",
        "fetched_url": "https://www.ofweek.com/2022-08/ART-1.html?utm_source=rss",
        "portal": "ofweek",
        "site_name": "高科技行业门户",
        "channel": "新闻",
        "categories": ["新媒体", "高科技行业门户", "新闻"],
        "language": "zh",
        "title": "  标题\n ",
        "author": "OFweek医疗网",
        "published_raw": "2022-08-31 15:58",
        "published_at": datetime(2022, 8, 31, 7, 58, tzinfo=UTC),
        "raw_body_html": "<div><p>第一段。</p><p>第二段。</p></div>",
        "body_html": "<p>第一段。</p><p>第二段。</p>",
        "body_text": text,
        "summary": None,
        "images": [{"url": "http://images.ofweek.com/a.png", "src": "/a.png", "alt": ""}],
        "lead_image": None,
        "content_hash": hashlib.sha256(text.encode()).hexdigest(),
        "simhash": -123456789,
        "pages": 1,
    }
    item.update(changes)
    return item


def fields(errors: list[dict]) -> set[str]:
    return {e["field"] for e in errors}


def test_a_good_item_becomes_a_document() -> None:
    article, errors = validate_article(good_item())
    assert errors == []
    assert article is not None
    doc = article.to_document()
    assert doc["_id"] == doc["url"] == "https://www.ofweek.com/2022-08/ART-1.html"
    assert doc["title"] == "标题"
    assert doc["lead_image"] == "http://images.ofweek.com/a.png"
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["revision"] == 1
    assert doc["alternate_urls"] == []
    assert "first_seen_at" not in doc  # bookkeeping is the writer's


def test_published_at_is_converted_to_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    article, _ = validate_article(
        good_item(published_at=datetime(2022, 8, 31, 15, 58, tzinfo=beijing))
    )
    assert article is not None
    assert article.published_at == datetime(2022, 8, 31, 7, 58, tzinfo=UTC)
    assert article.published_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("changes", "field", "needle"),
    [
        ({"title": "   "}, "title", "title is empty"),
        ({"body_text": " \n ", "content_hash": hashlib.sha256(b" \n ").hexdigest()},
         "body_text", "body is empty"),
        ({"published_at": None, "published_raw": "昨天"}, "published_at", "could not parse"),
        ({"published_at": None, "published_raw": ""}, "published_raw", "no publication date"),
        ({"published_at": datetime(2022, 1, 1)}, "published_at", "timezone"),
        ({"url": "ftp://x/y"}, "url", "http"),
        ({"content_hash": "abc"}, "content_hash", "pattern"),
        ({"simhash": 2**64}, "simhash", "less than or equal"),
        ({"categories": []}, "categories", ""),
        ({"images": [{"url": "data:image/png;base64,xx", "src": "x"}]}, "images.0.url", "http"),
    ],
)
def test_invalid_items_give_field_level_reasons(changes: dict, field: str, needle: str) -> None:
    article, errors = validate_article(good_item(**changes))
    assert article is None
    assert field in fields(errors), errors
    message = next(e["message"] for e in errors if e["field"] == field)
    assert needle in message


def test_missing_title_is_reported_as_missing() -> None:
    item = good_item()
    del item["title"]
    article, errors = validate_article(item)
    assert article is None
    assert {"field": "title", "message": "missing"} in errors


def test_content_hash_must_match_body_text() -> None:
    article, errors = validate_article(good_item(content_hash="0" * 64))
    assert article is None
    assert any("content_hash" in e["message"] for e in errors)
