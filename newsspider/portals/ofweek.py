"""OFweek (高科技行业门户) news: www.ofweek.com's 产业新闻 list.

GBK pages declared gb2312; list at ``CATList-8100-CHANGYIEXINWE.html``, page N at
``CATList-8100-CHANGYIEXINWE-N.html``; articles under ``div.artical`` with the
body in ``#articleC``, Beijing time in ``div.time.fl`` and the source in one of
three layouts; long articles continue at ``…_2.html`` linked from ``div.page``.
"""

from __future__ import annotations

from newsspider.normalize.rules import BodyRules
from newsspider.portals.base import ArticleRules, ListingRules, define
from newsspider.urls import CanonicalRules

OFWEEK_BODY_RULES = BodyRules(
    # SEO links the portal injects into every body: keep the word, drop the link.
    unwrap=("span.hrefStyle",),
    drop=("div.page", "#nextPage", "div.artical-share", "div.statement"),
)

OFWEEK_CANONICAL = CanonicalRules(
    domains=("ofweek.com",),
    scheme="https",
    host_aliases=(("m.ofweek.com", "www.ofweek.com"), ("ofweek.com", "www.ofweek.com")),
    # Page 2… of a multi-page article is the same article as page 1.
    strip_page_suffix=r"_\d+(?=\.html?$)",
)

OFWEEK_ARTICLE = ArticleRules(
    title=[
        "div.artical > p.title",
        "div.artical h1",
        "p.title",
        "h1",
        "meta[property='og:title']::attr(content)",
    ],
    body=["div.artical #articleC", "#articleC", "div.article_con", "div.TRS_Editor"],
    published=[
        "div.artical div.time.fl",
        "div.time.fl",
        "div.time",
        ".sdate",
        "span.time",
        "meta[name='publishdate']::attr(content)",
    ],
    author=[
        "div.artical div.source-name",
        "div.source-name",
        "#laiyuan span",
        "#laiyuan",
        "#laiyuan_mp a span",
        "#laiyuan_mp a::attr(title)",
        "#laiyuan_mp",
    ],
    next_page=[
        "#nextPage a[title='下一页']::attr(href)",
        "div.page a[title='下一页']::attr(href)",
        "//div[contains(@class,'page')]//a[normalize-space(.)='下一页']/@href",
        "//*[@id='nextPage']//a[normalize-space(.)='下一页']/@href",
        # Older pages: #nextPage holds only the link to the following page.
        "#nextPage > a::attr(href)",
    ],
    page_url_regex=r"_\d+\.html?$",
)

PORTAL = define(
    __name__,
    name="ofweek",
    site_name="高科技行业门户",
    channel="新闻",
    categories=["新媒体", "高科技行业门户", "新闻"],
    start_urls=["https://www.ofweek.com/CATList-8100-CHANGYIEXINWE.html"],
    allowed_domains=["ofweek.com"],
    encoding="gb18030",
    timezone="Asia/Shanghai",
    max_pages=5,
    listing=ListingRules(
        items=["div.list-left div.con-details", "div.list-left li", "div.con-details"],
        link=["h3 > a::attr(href)", "h3 a::attr(href)", "a.tit::attr(href)"],
        title=["h3 > a::attr(title)", "h3 > a", "h3 a"],
        summary=["p span", "p"],
        date=["span.fb-tl", "div.tag span", "span.time"],
        next_page=[
            "//div[contains(@class,'page')]//a[normalize-space(.)='下一页']/@href",
            "div.page a.next::attr(href)",
        ],
        pagination=["div.page", "div.pages", "#pages"],
        page_url="{stem}-{n}.html",
    ),
    article=OFWEEK_ARTICLE,
    body_rules=OFWEEK_BODY_RULES,
    canonical=OFWEEK_CANONICAL,
    # Every OFweek article prints its source: a run where a fifth lack one has lost the byline.
    expect={"author": 0.8},
)
