"""What the aggregator-family layouts share: URL routing by pattern, ground truth, images.

A :class:`FamilySite` is a :class:`~newsspider.replica.sites.Site` whose pages are
rendered by the subclass (``sites/zaker.py``, ``sites/cnbeta.py`` …); this base
turns a corpus post into an :class:`ArticleSpec` (the time printed the portal's
way and the same instant in UTC, the byline, the body as served), routes paths
with two regexes, and lists body images.

Reads no settings, writes no stats.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING

from newsspider.replica.corpus import _IMG, BEIJING, img_attrs, split_blocks
from newsspider.replica.model import ArticleSpec, ImageSpec
from newsspider.replica.sites import Route

if TYPE_CHECKING:
    from newsspider.replica.family import FamilyPost
    from newsspider.replica.model import ListingEntry, Scenario

__all__ = ["FamilySite", "esc"]


def esc(text: str) -> str:
    return escape(text, quote=True)


class FamilySite:
    """Base for one portal's layout; subclasses set the class attributes and render pages."""

    name: str
    corpus_folder: str
    site_title: str
    listing_path: str
    encoding: str = "utf-8"
    charset: str = "utf-8"
    charset_meta: str = '<meta charset="utf-8">'
    per_page: int = 20
    # How the article page prints its time (Beijing) and to what precision.
    date_format: str = "%Y-%m-%d %H:%M"
    _listing_re: re.Pattern[str]
    _article_re: re.Pattern[str]

    # --- URLs ---------------------------------------------------------
    def listing_page_path(self, number: int) -> str:
        return self.listing_path

    def article_path(self, post: FamilyPost, index: int) -> str:
        raise NotImplementedError

    def route(self, path: str) -> Route | None:
        listing = self._listing_re.match(path)
        if listing:
            number = listing.groupdict().get("n")
            return Route("listing", int(number or 1))
        if self._article_re.match(path):
            return Route("article", 1, path)
        return None

    # --- ground truth -------------------------------------------------
    def published(self, post: FamilyPost) -> tuple[str, datetime]:
        """The time as printed, and the instant it denotes (to the printed precision)."""
        local = post.date.astimezone(BEIJING)
        text = self.print_date(local)
        parsed = datetime.strptime(
            local.strftime(self.date_format), self.date_format
        ).replace(tzinfo=BEIJING)
        return text, parsed.astimezone(UTC)

    def print_date(self, local: datetime) -> str:
        return local.strftime(self.date_format)

    def byline(self, post: FamilyPost) -> str | None:
        return post.author

    def select(self, posts: tuple[FamilyPost, ...]) -> tuple[FamilyPost, ...]:
        """The posts this site publishes (all of its corpus folder by default)."""
        return posts

    def served_body(self, post: FamilyPost) -> str:
        return post.body

    def summary(self, post: FamilyPost, body: str) -> str:
        from newsspider.replica.family import text_of

        for block in split_blocks(body):
            text = text_of(block)
            if text:
                return text if len(text) <= 80 else text[:80] + "..."
        return ""

    def spec(self, post: FamilyPost, index: int) -> ArticleSpec:
        published, published_at = self.published(post)
        body = self.served_body(post)
        return ArticleSpec(
            id=self.article_id(post, index),
            path=self.article_path(post, index),
            title=post.title,
            published=published,
            published_at=published_at,
            author=self.byline(post),
            author_layout="byline",
            pages=(body,),
            summary=self.summary(post, body),
            site_name=self.site_title,
            images=self.images_of(body),
            corpus_id=post.post_id,
        )

    def article_id(self, post: FamilyPost, index: int) -> int:
        return int(post.post_id)

    @staticmethod
    def hex_id(post: FamilyPost, length: int = 24) -> str:
        return hashlib.blake2b(post.post_id.encode(), digest_size=16).hexdigest()[:length]

    # --- pages --------------------------------------------------------
    def render_listing(self, scenario: Scenario, number: int, base_url: str) -> str:
        raise NotImplementedError

    def render_article(
        self, scenario: Scenario, spec: ArticleSpec, page: int, base_url: str
    ) -> str:
        raise NotImplementedError

    def render_error(self, status: int) -> str:
        message = {404: "页面不存在", 500: "服务器错误"}.get(status, "出错了")
        return (
            f"<!DOCTYPE html>\n<html>\n<head>\n{self.charset_meta}\n"
            f"<title>{status} {message} - {esc(self.site_title)}</title>\n</head>\n"
            f'<body><div class="error"><h1>{status}</h1><p>{message}</p></div></body>\n</html>\n'
        )

    def images_of(self, body_html: str) -> tuple[ImageSpec, ...]:
        images: list[ImageSpec] = []
        for tag in _IMG.findall(body_html):
            attrs = img_attrs(tag)
            lazy = attrs.get("data-original") or None
            images.append(
                ImageSpec(
                    url=lazy or attrs.get("src", ""),
                    src=attrs.get("src", ""),
                    alt=attrs.get("alt", ""),
                    data_original=lazy,
                )
            )
        return tuple(images)

    @staticmethod
    def page_entries(scenario: Scenario, number: int) -> list[ListingEntry]:
        return scenario.listing_page(number)
