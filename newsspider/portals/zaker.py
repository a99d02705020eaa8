"""ZAKER (www.myzaker.com) channel news: the 科技 channel list, ``/channel/13``.

Layout (RSSHub ``lib/routes/zaker``, the feeds the aggregator republished): a
channel page lists ``div.content-block`` items, each with the article link in
``.article-wrap > a`` (protocol-relative ``//www.myzaker.com/article/<24 hex>``)
and the title in ``.article-title``; more items load by script, so one page is
all there is to walk.  Article pages keep the body in ``div.article_content``'s
first ``div``, the source in ``a.article-auther`` and the time in ``span.time``.

Body traps: every image sits in ``div.img_box > div.content_img_div`` as
``<img class="lazy" data-original=REAL src=placeholder>``; the image resolver
prefers ``data-original`` (CONTRACT §5), so nothing is unwrapped here — the
wrappers are plain ``div``s the sanitizer flattens.  Text after an image box
is not in a ``<p>`` (the sanitizer makes it one).

Categories follow the corpus front matter (``新媒体 / ZAKER / channel``).
"""

from __future__ import annotations

from newsspider.normalize.rules import BodyRules
from newsspider.portals.base import ArticleRules, ListingRules, define
from newsspider.urls import CanonicalRules

PORTAL = define(
    __name__,
    name="zaker",
    site_name="ZAKER",
    channel="channel",
    categories=["新媒体", "ZAKER", "channel"],
    start_urls=["https://www.myzaker.com/channel/13"],
    allowed_domains=["myzaker.com"],
    encoding="utf-8",
    timezone="Asia/Shanghai",
    # The channel page shows one batch; the rest arrives by script.
    max_pages=1,
    listing=ListingRules(
        items=["div.content-block", "div.figure.flex-block"],
        link=[".article-wrap > a::attr(href)", "h2 a::attr(href)", "a::attr(href)"],
        title=[".article-title", "h2 a::attr(title)", "h2 a"],
        summary=[".article-desc"],
        date=[".article-footer span.time", "span.time"],
    ),
    article=ArticleRules(
        title=["div.article_header h1", "h1", "meta[property='og:title']::attr(content)"],
        body=["div.article_content > div", "div.article_content"],
        published=["div.article_header span.time", "span.time"],
        author=["div.article_header a.article-auther", "a.article-auther"],
    ),
    body_rules=BodyRules(drop=("div.article_more", "div.article_tips")),
    canonical=CanonicalRules(
        domains=("myzaker.com",),
        scheme="https",
        host_aliases=(("myzaker.com", "www.myzaker.com"),),
    ),
    description="ZAKER 科技频道",
)
