"""What a portal is: a declaration, validated when it is loaded.

A portal module builds one :class:`Portal` (listing URLs and pagination,
selectors with ordered fallbacks, encoding, timezone, categories, body and
canonical-URL rules, whether pages need a browser).  Each portal becomes a
Scrapy spider of the same name (``newsspider.spiders.portals``); extraction
(``newsspider.extract``) reads the selectors, never the spider.

Selectors are parsel selectors: CSS by default (``h3 > a::attr(href)``,
``div.time::text``), XPath when they start with ``/``, ``(`` or ``./``.
Every selector list is tried in order; the first that yields a non-empty
value wins.
"""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parsel import Selector
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from newsspider.normalize.rules import BodyRules
from newsspider.urls import CanonicalRules

_PROBE = Selector(text="<html><body><p>probe</p></body></html>")


def is_xpath(selector: str) -> bool:
    return selector.startswith(("/", "(", "./"))


def _check_selector(selector: str) -> str:
    selector = selector.strip()
    if not selector:
        raise ValueError("empty selector")
    try:
        if is_xpath(selector):
            _PROBE.xpath(selector)
        else:
            _PROBE.css(selector)
    except (ValueError, SyntaxError) as exc:  # parsel raises ValueError for bad CSS/XPath
        raise ValueError(f"invalid selector {selector!r}: {exc}") from exc
    return selector


def _check_regex(pattern: str | None) -> str | None:
    if pattern is None:
        return None
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from exc
    return pattern


Sel = Annotated[str, AfterValidator(_check_selector)]
Selectors = Annotated[list[Sel], Field(min_length=1)]
Regex = Annotated[str | None, AfterValidator(_check_regex)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListingRules(_Strict):
    """Where a listing page keeps its items and its next page."""

    # Each item's container; the first selector that matches anything wins.
    items: Selectors
    # Inside an item: the article link (an href), the title, the abstract, the date text.
    link: Selectors
    title: list[Sel] = Field(default_factory=list)
    summary: list[Sel] = Field(default_factory=list)
    date: list[Sel] = Field(default_factory=list)
    # The next listing page's link (href); tried before ``page_url``.
    next_page: list[Sel] = Field(default_factory=list)
    # The pagination block: when present without a next link, this is the last page.
    pagination: list[Sel] = Field(default_factory=list)
    # Page N's URL from page 1's when the page has no pagination block at all,
    # e.g. ``{stem}-{n}.html`` (stem: page 1's URL without ``.html``).
    page_url: str | None = None

    @field_validator("page_url")
    @classmethod
    def _page_url(cls, value: str | None) -> str | None:
        if value is not None and "{n}" not in value:
            raise ValueError(f"page_url must contain '{{n}}': {value!r}")
        return value


class ArticleRules(_Strict):
    """Where an article page keeps its fields."""

    title: Selectors
    body: Selectors
    published: Selectors
    # The date inside the published text (first match), then parsed with ``date_formats``.
    published_regex: Regex = r"\d{4}-\d{1,2}-\d{1,2}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?"
    date_formats: list[str] = Field(
        default_factory=lambda: ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
    )
    author: list[Sel] = Field(default_factory=list)
    # Removed from the author text: labels such as "来源：" or "作者:".
    author_strip: Regex = r"^\s*(?:来源|来自|作者|文章来源|出处|编辑|责编)\s*[:：]\s*"
    # Links to the following page of a multi-page article.
    next_page: list[Sel] = Field(default_factory=list)
    # Multi-page articles: a page of the article may not link outside this URL pattern.
    page_url_regex: Regex = None


class Portal(_Strict):
    """One portal declaration; ``name`` is the spider name."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    site_name: Annotated[str, Field(min_length=1)]
    channel: str
    categories: Annotated[list[str], Field(min_length=1)]
    start_urls: Annotated[list[str], Field(min_length=1)]
    allowed_domains: list[str] = Field(default_factory=list)
    language: str = "zh"
    # Pages without a charset declaration (or with a wrong one) are decoded with this.
    encoding: str | None = None
    timezone: str = "Asia/Shanghai"
    max_pages: Annotated[int, Field(ge=1)] = 5
    listing: ListingRules
    article: ArticleRules
    body_rules: BodyRules = BodyRules()
    canonical: CanonicalRules = CanonicalRules()
    # Pages need a browser (scrapy-playwright) even without ``-a render=js``.
    render_js: bool = False
    description: str = ""
    # Coverage floors: {coverage key: least share of a run's stored articles}, e.g.
    # {"author": 0.9}; a run below one fails its drift check (newsspider.monitor.checks).
    expect: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(default_factory=dict)
    # The module that declares the portal (set by define(); named in drift messages).
    module: str = ""

    @field_validator("start_urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"start URL is not absolute http(s): {url!r}")
        return value

    @field_validator("expect")
    @classmethod
    def _expect(cls, value: dict[str, float]) -> dict[str, float]:
        from newsspider.monitor.coverage import COVERAGE_KEYS

        unknown = sorted(set(value) - set(COVERAGE_KEYS))
        if unknown:
            raise ValueError(
                f"unknown coverage field(s) {', '.join(unknown)}; known: {', '.join(COVERAGE_KEYS)}"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import codecs

        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _domains(self) -> Portal:
        if not self.allowed_domains:
            from urllib.parse import urlsplit

            hosts = sorted({urlsplit(u).hostname or "" for u in self.start_urls} - {""})
            object.__setattr__(self, "allowed_domains", hosts)
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class PortalDefinitionError(ValueError):
    """A portal module declares something invalid; the message names the module and field."""


def define(module: str, **fields: object) -> Portal:
    """Build a :class:`Portal`, turning pydantic errors into one readable message."""
    fields.setdefault("module", module)
    try:
        return Portal(**fields)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
        raise PortalDefinitionError(
            f"portal definition {module} is invalid:\n" + "\n".join(lines)
        ) from exc
