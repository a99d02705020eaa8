"""The validation boundary: the article document of CONTRACT §4 as pydantic v2 models.

``Article`` is what the store writes (bookkeeping fields are filled by the
writer); ``Reject`` is one document of the ``rejects`` collection.  Field
errors are turned into ``[{field, message}]`` lists a user can act on.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

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


HttpUrl = Annotated[str, AfterValidator(_http_url)]
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
NonEmpty = Annotated[str, Field(min_length=1)]


class Image(BaseModel):
    """One body image: ``url`` resolved original, ``src`` as found in the page."""

    model_config = ConfigDict(extra="allow")

    url: HttpUrl
    src: str
    alt: str = ""


class Article(BaseModel):
    """An article document, schema_version 1 (CONTRACT §4)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    id: HttpUrl = Field(alias="_id")
    url: HttpUrl
    fetched_url: HttpUrl
    alternate_urls: list[HttpUrl] = Field(default_factory=list)
    portal: NonEmpty
    site_name: NonEmpty
    channel: str
    categories: Annotated[list[NonEmpty], Field(min_length=1)]
    title: str
    author: str | None = None
    published_at: UtcDatetime
    published_raw: str
    body_html: str
    body_text: str
    summary: str | None = None
    lead_image: HttpUrl | None = None
    images: list[Image] = Field(default_factory=list)
    language: NonEmpty = "zh"
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    simhash: int = Field(ge=INT64_MIN, le=INT64_MAX)
    revision: int = Field(default=1, ge=1)
    first_seen_at: UtcDatetime | None = None
    last_crawled_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    schema_version: int = SCHEMA_VERSION
    # Raw beside normalized: lets a normalizer bug be fixed without recrawling.
    raw_body_html: str | None = None
    pages: int = Field(default=1, ge=1)

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
        if doc.get("raw_body_html") is None:
            doc.pop("raw_body_html", None)
        return doc


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
            error["message"] = f"could not parse the date {raw!r}"
    return None, errors
