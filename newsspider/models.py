"""The validation boundary: the article document of CONTRACT §4 as pydantic v2 models.

``Article`` is what the store writes (bookkeeping fields are filled by the
writer); ``StoredArticle`` is the document as stored, bookkeeping included:
its JSON schema is ``docs/article.schema.json`` (:func:`article_json_schema`,
printed by ``newsspider schema``).  ``Reject`` is one document of the
``rejects`` collection.  Field errors are turned into ``[{field, message}]``
lists a user can act on.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from newsspider.dates import plausible

SCHEMA_VERSION = 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"not an absolute http(s) URL: {value[:200]!r}")
    return value


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetime without a timezone; expected UTC")
    return value.astimezone(UTC)


HttpUrl = Annotated[
    str,
    AfterValidator(_http_url),
    WithJsonSchema({"type": "string", "format": "uri", "pattern": "^https?://"}),
]
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
NonEmpty = Annotated[str, Field(min_length=1)]
ExtractedField = Literal["title", "published_at", "author", "body_html"]


class Image(BaseModel):
    """One body image: ``url`` resolved original, ``src`` as found in the page."""

    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)

    url: HttpUrl
    """The original image, resolved to an absolute URL (lazy and proxied sources undone)."""
    src: str
    """The ``src`` attribute as found in the page."""
    alt: str = ""
    """The ``alt`` text, empty when the page has none."""


class Article(BaseModel):
    """An article document, schema_version 1 (CONTRACT §4)."""

    model_config = ConfigDict(
        extra="ignore", str_strip_whitespace=False, use_attribute_docstrings=True
    )

    id: HttpUrl = Field(alias="_id")
    """The canonical article URL, the natural key (same as ``url``)."""
    url: HttpUrl
    """The canonical URL: no fragment or tracking parameters, the portal's own rules."""
    fetched_url: HttpUrl
    """The URL as fetched (e.g. with its tracking parameters)."""
    alternate_urls: list[HttpUrl] = Field(default_factory=list)
    """Other URLs whose content was the same or a near duplicate (merged into this one)."""
    portal: NonEmpty
    """The spider name, e.g. ``ofweek``."""
    site_name: NonEmpty
    """The site's name, e.g. ``高科技行业门户``."""
    channel: str
    """The portal's channel, e.g. ``新闻``."""
    categories: Annotated[list[NonEmpty], Field(min_length=1)]
    """e.g. ``["新媒体", "高科技行业门户", "新闻"]``."""
    title: str
    """Non-empty, runs of whitespace collapsed."""
    author: str | None = None
    """The byline or source as printed, e.g. ``OFweek医疗网``."""
    published_at: UtcDatetime
    """The publication time, converted to UTC."""
    published_raw: str
    """The date text as printed on the page."""
    body_html: str
    """The normalized body (an allow-list of tags, absolute URLs) of every page."""
    body_text: str
    """The body as plain text, paragraphs separated by ``\\n``."""
    summary: str | None = None
    """The listing abstract, else the first paragraph."""
    lead_image: HttpUrl | None = None
    """The first body image's resolved URL."""
    images: list[Image] = Field(default_factory=list)
    """Every body image, in order."""
    language: NonEmpty = "zh"
    """BCP-47 language tag."""
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    """Hex SHA-256 of ``body_text``."""
    simhash: int = Field(ge=INT64_MIN, le=INT64_MAX)
    """64-bit SimHash of ``body_text``, as a signed int64."""
    revision: int = Field(default=1, ge=1)
    """1, then +1 each time ``content_hash`` changes on a re-crawl."""
    first_seen_at: UtcDatetime | None = None
    """When the article was first crawled."""
    last_crawled_at: UtcDatetime | None = None
    """When the article was last crawled."""
    updated_at: UtcDatetime | None = None
    """When the stored article last changed: new, revised, another field changed, or an
    alternate URL added (not moved by a re-crawl that finds it as stored)."""
    schema_version: int = SCHEMA_VERSION
    """The document's schema version."""
    # Raw beside normalized: lets a normalizer bug be fixed without recrawling.
    raw_body_html: str | None = None
    """The body exactly as on the page(s), so a normalizer fix needs no re-crawl."""
    pages: int = Field(default=1, ge=1)
    """Pages the article was split over."""
    extraction: dict[ExtractedField, Literal["selectors", "auto"]] | None = None
    """How each of title, published_at, author and body_html was found: ``"selectors"``
    (the portal's declaration) or ``"auto"`` (automatic extraction, used when the
    declaration found nothing; ``newsspider.extract.heal``); absent for feed articles."""

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("title is empty")
        return value

    @field_validator("author", "summary")
    @classmethod
    def _optional_text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = " ".join(value.split())
        return value or None

    @field_validator("published_at")
    @classmethod
    def _plausible_date(cls, value: datetime) -> datetime:
        # The extractors already treat such dates as missing; this is the boundary's own guard.
        if not plausible(value):
            raise ValueError(
                f"{value.isoformat()} is outside 1970-01-01 … now + 2 days (newsspider.dates)")
        return value

    @field_validator("published_raw")
    @classmethod
    def _raw_date(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("no publication date on the page")
        return value.strip()

    @field_validator("body_text")
    @classmethod
    def _body(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("article body is empty")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Article:
        if self.id != self.url:
            raise ValueError(f"_id {self.id!r} differs from url {self.url!r}")
        digest = hashlib.sha256(self.body_text.encode("utf-8")).hexdigest()
        if digest != self.content_hash:
            raise ValueError("content_hash is not the SHA-256 of body_text")
        if self.lead_image is None and self.images:
            self.lead_image = self.images[0].url
        return self

    def to_document(self) -> dict[str, Any]:
        """The MongoDB document (``_id`` key, bookkeeping left to the writer when unset)."""
        doc = self.model_dump(by_alias=True, exclude_none=False)
        for key in ("first_seen_at", "last_crawled_at", "updated_at"):
            if doc.get(key) is None:
                doc.pop(key, None)
        for key in ("raw_body_html", "extraction"):
            if doc.get(key) is None:
                doc.pop(key, None)
        return doc


class StoredArticle(Article):
    """An article as the store holds it: the writer's bookkeeping is always there."""

    model_config = ConfigDict(title="Article", extra="allow")

    alternate_urls: list[HttpUrl]
    """Other URLs whose content was the same or a near duplicate (merged into this one)."""
    revision: int = Field(ge=1)
    """1, then +1 each time ``content_hash`` changes on a re-crawl."""
    first_seen_at: UtcDatetime
    """When the article was first crawled."""
    last_crawled_at: UtcDatetime
    """When the article was last crawled."""
    updated_at: UtcDatetime
    """When the stored article last changed: new, revised, another field changed, or an
    alternate URL added (not moved by a re-crawl that finds it as stored)."""
    schema_version: Literal[1]
    """The document's schema version."""


#: Where the generated schema lives in the repository (``newsspider schema > …``).
SCHEMA_FILE = "docs/article.schema.json"


def article_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of a stored article as JSON: dates as ISO 8601 strings, as
    ``export jsonl`` writes them (in MongoDB they are BSON dates)."""
    schema = _markdown_quotes(StoredArticle.model_json_schema(by_alias=True, mode="serialization"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": f"Generated from newsspider.models.StoredArticle: newsspider schema > {SCHEMA_FILE}",
        **schema,
        "description": (
            f"A newsspider article, schema_version {SCHEMA_VERSION}, as exported by "
            "`newsspider export jsonl` (in MongoDB, the date-time strings are BSON dates "
            "and `simhash` an int64)."
        ),
    }


def _markdown_quotes(node: Any) -> Any:
    # The docstrings quote code the reST way (``x``); a schema reader expects `x`.
    if isinstance(node, dict):
        return {key: _markdown_quotes(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_markdown_quotes(value) for value in node]
    return node.replace("``", "`") if isinstance(node, str) else node


def article_json_schema_text() -> str:
    """:func:`article_json_schema` as the bytes of ``docs/article.schema.json``."""
    return json.dumps(article_json_schema(), ensure_ascii=False, indent=2) + "\n"


class FieldError(BaseModel):
    field: str
    message: str


class Reject(BaseModel):
    """One ``rejects`` document: what failed, why, and the item as scraped."""

    url: str
    portal: str
    errors: list[FieldError]
    item: dict[str, Any]
    at: UtcDatetime


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """pydantic errors as ``[{field, message}]`` (``field`` is the dotted path)."""
    out = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in err["loc"]) or "item"
        if loc == "_id":
            loc = "url"
        message = err["msg"]
        message = message.removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "missing"
        out.append({"field": loc, "message": message})
    return out


def validate_article(item: dict[str, Any]) -> tuple[Article | None, list[dict[str, str]]]:
    """Validate a scraped item; returns the model, or ``None`` and the field errors."""
    data = dict(item)
    data.setdefault("_id", data.get("url"))
    try:
        return Article.model_validate(data), []
    except ValidationError as exc:
        errors = field_errors(exc)
    raw = item.get("published_raw")
    unparsed = item.get("published_at") is None and bool(raw)
    for error in errors:
        if error["field"] == "published_at" and unparsed:
            error["message"] = (f"could not parse the date {raw!r}, or it is outside "
                                "1970-01-01 … now + 2 days")
    return None, errors
