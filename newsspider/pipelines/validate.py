"""The validation boundary: every item becomes an ``Article`` document, or a reject with reasons.

An item carrying ``_errors`` (a page that could not be fetched, a body that
could not be normalized) is rejected with those reasons; any other item is
validated by :class:`newsspider.models.Article`, and then measured: an
article document over ``NEWSSPIDER_MAX_DOCUMENT_BYTES`` (default: MongoDB's
16 MiB limit, less 64 KiB for the writer's bookkeeping) is rejected here
(field ``document``) — MongoDB would refuse it, nx-27017 would take it, and
the same crawl must end the same on both.  A reject is written to the
``rejects`` collection (``{url, portal, errors: [{field, message}], item, at}``)
and the item is dropped; the crawl goes on.

Settings: ``NEWSSPIDER_REJECT_MAX_FIELD`` (longest string kept in a reject's
``item``), ``NEWSSPIDER_MAX_DOCUMENT_BYTES``.  Stats: ``newsspider/validate/valid``, ``newsspider/validate/rejected``,
``newsspider/validate/rejected/<field>``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import bson
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from newsspider.models import validate_article
from newsspider.store.values import bson_key

logger = logging.getLogger(__name__)

#: MongoDB's largest document (BSON bytes).
MONGO_MAX_DOCUMENT = 16 * 1024 * 1024
#: The default limit: room for what the writer adds (bookkeeping, alternate URLs).
DEFAULT_MAX_DOCUMENT = MONGO_MAX_DOCUMENT - 64 * 1024
# Below this many characters a document cannot reach the limit (4 UTF-8 bytes per
# character at most, plus keys and small values): no need to encode it to know.
_SURELY_SMALL_SLACK = 1024 * 1024


def document_bytes(doc: Mapping[str, Any], limit: int) -> int | None:
    """The BSON size of ``doc`` when it may exceed ``limit``; None when it surely does not.

    Counting characters first keeps the BSON encoding (tens of microseconds)
    off every ordinary article.
    """
    chars = 0
    for value in doc.values():
        if isinstance(value, str):
            chars += len(value)
        elif isinstance(value, list):
            for entry in value:
                if isinstance(entry, str):
                    chars += len(entry)
                elif isinstance(entry, dict):
                    for v in entry.values():
                        if isinstance(v, str):
                            chars += len(v)
    if chars * 4 + _SURELY_SMALL_SLACK <= limit:
        return None
    return len(bson.encode(doc))


class RejectedItem(DropItem):
    """Dropped because it failed validation; ``errors`` says which fields and why."""

    def __init__(self, url: str, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        reasons = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(f"rejected {url}: {reasons}", log_level="INFO")


def _storable(value: Any) -> Any:
    """``value`` with every nested mapping key and integer one BSON accepts.

    A NUL byte in a key or an integer beyond 64 bits makes BSON refuse the
    whole document, and the reject is then lost (found by tests/test_fuzz.py):
    the copy of a bad item must never make its own reject unstorable.
    """
    if isinstance(value, Mapping):
        return {bson_key(str(k).replace("\x00", "\ufffd")): _storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return str(value)
    return value


def _as_scraped(item: dict[str, Any], max_len: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in item.items():
        if key.startswith("_") and key != "_errors":
            continue
        if isinstance(value, str) and len(value) > max_len:
            value = value[:max_len] + f"… [{len(value) - max_len} characters cut]"
        out[key.lstrip("_")] = value
    return _storable(out)


class ValidatePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.max_field = crawler.settings.getint("NEWSSPIDER_REJECT_MAX_FIELD", 262_144)
        self.max_document = crawler.settings.getint("NEWSSPIDER_MAX_DOCUMENT_BYTES",
                                                    DEFAULT_MAX_DOCUMENT)
        self.store: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        from newsspider.store.store import Store

        self.store = Store.for_crawler(self.crawler)

    def _inc(self, key: str) -> None:
        assert self.stats is not None
        self.stats.inc_value(f"newsspider/validate/{key}")

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        errors = item.get("_errors")
        if not errors:
            article, errors = validate_article(item)
            if article is not None:
                doc = article.to_document()
                size = document_bytes(doc, self.max_document)
                if size is None or size <= self.max_document:
                    self._inc("valid")
                    return doc
                errors = [{"field": "document", "message": (
                    f"the article document would be {size} bytes, over the {self.max_document} "
                    f"bytes a document may have (MongoDB refuses documents over "
                    f"{MONGO_MAX_DOCUMENT} bytes): body_html {len(doc['body_html'])} and "
                    f"raw_body_html {len(doc.get('raw_body_html') or '')} characters; "
                    "rejected before the store")}]
        await self._reject(item, errors)
        raise RejectedItem(str(item.get("url")), errors)

    async def _reject(self, item: dict[str, Any], errors: list[dict[str, str]]) -> None:
        self._inc("rejected")
        for field in dict.fromkeys(e["field"].split(".")[0] for e in errors):
            self._inc(f"rejected/{field}")
        doc = {
            "url": str(item.get("url") or item.get("fetched_url") or ""),
            "portal": str(item.get("portal") or ""),
            "errors": errors,
            "item": _as_scraped(item, self.max_field),
            "at": datetime.now(UTC),
        }
        logger.warning(
            "rejected %s: %s",
            doc["url"],
            "; ".join(f"{e['field']}: {e['message']}" for e in errors),
        )
        await self.store.add_reject(doc)
