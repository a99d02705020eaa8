"""cnBeta (www.cnbeta.com) latest news: the home page list.

Layout (RSSHub ``lib/routes/cnbeta``): the home page's ``div.items-area`` holds
``div.item`` entries, link and title in ``dl dt a``, abstract in ``dl dd p``; later
batches come from a JSON endpoint (``/home/more``), so only the first page is
walked.  Articles (``/articles/<section>/<id>.htm``): title ``header.title h1``,
``div.meta`` with the time first (``2021年12月17日 08:20``, Beijing) and the source
in ``span.source`` (``稿源：…``); the body is ``div.article-summary`` (its ``<p>``)
followed by ``div.article-content`` — both inside ``div.cnbeta-article-body``,
which is what is stored, minus the topic badge (``div.topic``) and the shopping
banner (``div.article-global``).

Body traps: affiliate links (``<a data-link="1" href="https://c.duomai.com/track.php?…">``,
``microsoft.pvxt.net``) keep their word and lose the link; the bilibili player is a
protocol-less ``<iframe src="//player.bilibili.com/…">`` (dropped with every iframe
by the generic rules); one body has Cloudflare-obfuscated e-mail
(``span.__cf_email__``, decoded by the normalizer).
"""

from __future__ import annotations

from newsspider.normalize.rules import BodyRules
from newsspider.portals.base import ArticleRules, ListingRules, define
from newsspider.urls import CanonicalRules

PORTAL = define(
    __name__,
    name="cnbeta",
    site_name="cnBeta",
    channel="最新",
    categories=["新媒体", "cnBeta", "最新"],
    start_urls=["https://www.cnbeta.com/"],
    allowed_domains=["cnbeta.com"],
    encoding="utf-8",
    timezone="Asia/Shanghai",
    # Page 2+ is JSON (/home/more); the HTML home page is the only listing page.
    max_pages=1,
    listing=ListingRules(
        items=["div.items-area div.item", "div.item"],
        link=["dl dt a::attr(href)", "dt a::attr(href)"],
        title=["dl dt a", "dt a"],
        summary=["dl dd p", "dd p"],
        date=["ul.status li:first-child", "ul.status li"],
    ),
    article=ArticleRules(
        title=["header.title h1", "div.cnbeta-article h1", "h1"],
        body=["div.cnbeta-article-body", "div.article-content"],
        published=["header.title div.meta > span:first-child", "div.meta span"],
        author=["header.title div.meta span.source", "span.source"],
        # "2021年12月17日 08:20" is kept as printed; the date parser folds 年/月/日.
        published_regex=r"\d{4}(?:-|年)\d{1,2}(?:-|月)\d{1,2}日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?",
        author_strip=r"^\s*(?:稿源|来源|作者)\s*[:：]\s*",
    ),
    body_rules=BodyRules(
        # Affiliate links: the word stays, the tracking link goes.
        unwrap=("a[data-link]",),
        drop=("div.topic", "div.article-topic", "div.article-global"),
    ),
    canonical=CanonicalRules(
        domains=("cnbeta.com", "cnbeta.com.tw"),
        scheme="https",
        host_aliases=(
            ("cnbeta.com", "www.cnbeta.com"),
            ("cnbeta.com.tw", "www.cnbeta.com.tw"),
        ),
    ),
    description="cnBeta 最新资讯",
)
