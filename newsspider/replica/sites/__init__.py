"""Portal layouts the replica can serve, one module per portal.

A site is the URL scheme and the markup of one portal; it knows nothing about
HTTP, faults or caching (the server) nor about which articles exist (the
scenario). To add a portal, write ``sites/<portal>.py`` with a class that
satisfies :class:`Site` and a scenario builder that uses it.

Reads no settings, writes no stats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from newsspider.replica.model import ArticleSpec, ImageSpec, Scenario

__all__ = ["Route", "Site"]


@dataclass(frozen=True, slots=True)
class Route:
    """What a request path is: a listing page, or page ``number`` of an article."""

    kind: str  # "listing" | "article"
    number: int = 1  # listing page number, or article page number
    article_path: str = ""  # first-page path of the article (kind "article")


class Site(Protocol):
    name: str
    encoding: str  # how pages are encoded, e.g. "gbk"
    charset_meta: str  # the exact <meta> charset declaration in every page
    listing_path: str  # first listing page

    def listing_page_path(self, number: int) -> str: ...

    def route(self, path: str) -> Route | None: ...

    def render_listing(self, scenario: Scenario, number: int, base_url: str) -> str: ...

    def render_article(
        self, scenario: Scenario, spec: ArticleSpec, page: int, base_url: str
    ) -> str: ...

    def render_error(self, status: int) -> str: ...

    def images_of(self, body_html: str) -> tuple[ImageSpec, ...]: ...
