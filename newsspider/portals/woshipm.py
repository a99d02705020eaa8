"""人人都是产品经理 (www.woshipm.com): the 产品设计 category, ``/category/pd``.

The feeds RSSHub builds (``/woshipm/latest``, ``/popular``) read a JSON API
(``/__api/v1/stream-list``); the same articles are listed as HTML on WordPress
category pages, which is what is walked here: ``div.postlist-item`` with
``h2.post-title > a[title]`` and the abstract in ``p.des``; page N at
``/category/pd/page/N`` (``a.next.page-numbers``).  Articles: title
``div.article--header h2`` (``h1`` on newer pages), author ``div.author a.name``,
the date ``time`` (``2022-02-24``: a date only, Beijing), body
``div.article--content`` (``div.grap`` on older pages).

Body traps: the donation footer ``div.support-author`` (a button with an inline
``<svg>`` and "赞赏") is inside the body and goes; the byline paragraph
("本文由 @… 原创发布于人人都是产品经理") is article text and stays.

Categories follow the corpus front matter (``新媒体 / 人人都是产品经理 / 最新文章``).
"""

from __future__ import annotations

from newsspider.normalize.rules import BodyRules
from newsspider.portals.base import ArticleRules, ListingRules, define
from newsspider.urls import CanonicalRules

PORTAL = define(
    __name__,
    name="woshipm",
    site_name="人人都是产品经理",
    channel="最新文章",
    categories=["新媒体", "人人都是产品经理", "最新文章"],
    start_urls=["https://www.woshipm.com/category/pd"],
    allowed_domains=["woshipm.com"],
    encoding="utf-8",
    timezone="Asia/Shanghai",
    max_pages=3,
    listing=ListingRules(
        items=["div.postlist-item", "div.article-list article"],
        link=["h2.post-title > a::attr(href)", "h2 a::attr(href)"],
        title=["h2.post-title > a::attr(title)", "h2.post-title > a", "h2 a"],
        summary=["p.des", "p"],
        date=["time", "span.time"],
        next_page=["a.next.page-numbers::attr(href)", "link[rel='next']::attr(href)"],
        page_url="{stem}/page/{n}",
    ),
    article=ArticleRules(
        title=["div.article--header h1", "div.article--header h2", "h1", "h2.article--title"],
        body=["div.article--content", "div.grap"],
        published=["div.article--header time", "div.meta--sup time", "time"],
        author=["div.article--header div.author a.name", "a.author", "div.author a"],
        date_formats=["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    ),
    body_rules=BodyRules(drop=("div.support-author", "div.article--copyright")),
    canonical=CanonicalRules(
        domains=("woshipm.com",),
        scheme="https",
        host_aliases=(("woshipm.com", "www.woshipm.com"),),
    ),
    description="人人都是产品经理 产品设计",
)
