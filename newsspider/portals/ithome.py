"""IT之家 (www.ithome.com) IT 资讯: the ``it.ithome.com`` list.

Layout (RSSHub ``lib/routes/ithome``): the list page keeps items in
``#list > div.fl > ul > li``, each ``div.c`` with ``h2 > a`` (title and link), an
abstract in ``div.m`` and the time in ``data-ot``; more items load by script, so
one page is walked.  Articles (``/0/593/123.htm``): ``div#con div.content``, title
``h1``, ``span#pubtime_baidu`` (``2021/12/18 8:23:26``, Beijing), source
``span#source_baidu`` (``来源：IT之家``), body ``div#paragraph``.

Body traps: every paragraph carries ``data-vmark`` (dropped by the sanitizer with
all attributes); ``a.s_tag`` links the site's own tag pages from inside words
(kept as text); Weibo video placeholders ``a.ithome_super_player`` wrap a preview
image that is not an article image (dropped); code blocks can hold Cloudflare
e-mail obfuscation (``a.__cf_email__``, decoded by the normalizer).

Categories follow the corpus front matter (``新媒体 / IT 之家 / 分类资讯``).
"""

from __future__ import annotations

from newsspider.normalize.rules import BodyRules
from newsspider.portals.base import ArticleRules, ListingRules, define
from newsspider.urls import CanonicalRules

PORTAL = define(
    __name__,
    name="ithome",
    site_name="IT 之家",
    channel="分类资讯",
    categories=["新媒体", "IT 之家", "分类资讯"],
    start_urls=["https://it.ithome.com/"],
    allowed_domains=["ithome.com"],
    encoding="utf-8",
    timezone="Asia/Shanghai",
    max_pages=1,
    listing=ListingRules(
        items=["#list > div.fl > ul > li", "#list li"],
        link=["div > h2 > a::attr(href)", "h2 a::attr(href)"],
        title=["div > h2 > a", "h2 a"],
        summary=["div.m"],
        date=["div.c::attr(data-ot)"],
    ),
    article=ArticleRules(
        title=["div#con div.content h1", "h1"],
        body=["div#con div#paragraph", "div#paragraph"],
        published=["span#pubtime_baidu", "#pubtime_baidu"],
        author=["span#source_baidu", "#source_baidu", "span#author_baidu"],
        # Article pages print "2021/12/18 8:23:26"; list items carry ISO "…T08:23:26+08:00".
        published_regex=r"\d{4}[-/]\d{1,2}[-/]\d{1,2}(?:[\sT]+\d{1,2}:\d{2}(?::\d{2})?)?",
        date_formats=["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    ),
    body_rules=BodyRules(
        unwrap=("a.s_tag",),
        drop=("a.ithome_super_player", "p.ad-tips", "div.tougao-user"),
    ),
    canonical=CanonicalRules(
        domains=("ithome.com",),
        scheme="https",
        host_aliases=(("ithome.com", "www.ithome.com"),),
    ),
    description="IT之家 IT 资讯",
)
