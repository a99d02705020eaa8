"""Dockone (dockone.io, WeCenter): the weekly site's article list, ``weekly.dockone.io``.

Layout (RSSHub ``lib/routes/dockone/weekly``): ``div.aw-common-list`` holds
``div.article`` entries (WeCenter's ``aw-item``), title and link in
``div.aw-question-content > h4 > a``, the poster in ``a.aw-user-name``; the pager is
``div.page-control ul.pagination`` (``&gt;`` links the next page).  Articles
(``/article/<id>``): ``div.aw-question-detail`` with the title in ``div.mod-head h1``,
the body in ``div.content`` (``markitup-box``), and the time in the footer meta
(``2021-10-28 14:08``, Beijing).

Body traps: code is ``<pre class="prettyprint">`` with the XML/HTML it shows left
unescaped (``<groupId>…</groupId>``, ``<base>``): a parser makes elements of them;
the normalizer turns them back into text inside ``<pre>``.  Paragraphs are
``<br>``-separated text, images sit in ``div.aw-upload-img-list`` lightbox links.

Categories follow the corpus front matter (``编程 / Dockone / 周报``).
"""

from __future__ import annotations

from newsspider.normalize.rules import BodyRules
from newsspider.portals.base import ArticleRules, ListingRules, define
from newsspider.urls import CanonicalRules

PORTAL = define(
    __name__,
    name="dockone",
    site_name="Dockone",
    channel="周报",
    categories=["编程", "Dockone", "周报"],
    start_urls=["https://weekly.dockone.io/"],
    allowed_domains=["dockone.io"],
    encoding="utf-8",
    timezone="Asia/Shanghai",
    max_pages=3,
    listing=ListingRules(
        items=["div.aw-common-list div.article", "div.aw-common-list div.aw-item"],
        link=["div.aw-question-content > h4 > a::attr(href)", "h4 a::attr(href)"],
        title=["div.aw-question-content > h4 > a", "h4 a"],
        summary=["div.aw-question-content p.markitup-box", "div.markitup-box"],
        date=["div.aw-question-content span.text-color-999"],
        next_page=[
            "//div[contains(@class,'page-control')]//a[normalize-space(.)='>']/@href",
        ],
    ),
    article=ArticleRules(
        title=["div.aw-question-detail div.mod-head h1", "h1"],
        body=["div.aw-question-detail div.content", "div.markitup-box"],
        published=[
            "div.aw-question-detail div.mod-footer div.meta span.text-color-999",
            "div.meta span",
        ],
        author=["div.aw-side-bar a.aw-user-name", "a.aw-user-name"],
    ),
    body_rules=BodyRules(drop=("div.aw-question-detail-meta",)),
    canonical=CanonicalRules(
        domains=("dockone.io",),
        scheme="https",
        host_aliases=(("www.dockone.io", "dockone.io"),),
    ),
    description="Dockone 周报",
)
