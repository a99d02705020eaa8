"""OFweek channel sites (ee.ofweek.com, robot.ofweek.com, medical.ofweek.com): their own lists.

Each channel lists its news at ``CATList-<channel code>-8100-<slug>.html`` (page N at
``…-<slug>-N.html``, the same ``-N`` rule as www); items are
``div.main_left div.list_model div.model_right`` (class ``model_right model_right2`` on
current pages) with ``h3 > a`` and the abstract in ``p > span``.  Articles share the
www article template (``div.artical``, ``div.time.fl``, ``div.source-name``), and older
channel templates keep the body in ``div.TRS_Editor`` and the title in
``div.article_left h1`` with ``span.sdate``: both are declared as fallbacks.

Categories follow the www portal's ``[family, site, channel]`` shape:
``["新媒体", "OFweek电子工程网", "新闻"]`` — 8100 in the list URL is the same
产业新闻 (news) code as www's ``CATList-8100-…``.

ee (2800) and robot (8321200) list URLs are the ones public scrapers use; the
medical code (11000) follows the same ``CATList-<ART code>-8100-<slug>`` rule and
was not seen in a public scraper.
"""

from __future__ import annotations

from newsspider.portals.base import ArticleRules, ListingRules, Portal, define
from newsspider.portals.ofweek import OFWEEK_BODY_RULES, OFWEEK_CANONICAL

CHANNEL_ARTICLE = ArticleRules(
    title=[
        "div.artical > p.title",
        "div.artical h1",
        "div.article_left h1",
        "p.title",
        "h1",
        "meta[property='og:title']::attr(content)",
    ],
    body=["div.artical #articleC", "#articleC", "div.TRS_Editor", "div.article_con"],
    published=[
        "div.artical div.time.fl",
        "div.time.fl",
        "span.sdate",
        "div.time",
        "meta[name='publishdate']::attr(content)",
    ],
    author=[
        "div.artical div.source-name",
        "div.source-name",
        "#laiyuan span",
        "#laiyuan",
        "#laiyuan_mp a span",
        "#laiyuan_mp a",
    ],
    next_page=[
        "#nextPage a[title='下一页']::attr(href)",
        "div.page a[title='下一页']::attr(href)",
        "//*[@id='nextPage']//a[normalize-space(.)='下一页']/@href",
        "//div[contains(@class,'page')]//a[normalize-space(.)='下一页']/@href",
    ],
    page_url_regex=r"_\d+\.html?$",
)

CHANNEL_LISTING = ListingRules(
    items=[
        "div.main_left div.list_model div.model_right",
        "div.list_model div.model_right",
        "div.list-left div.con-details",
    ],
    link=["h3 > a::attr(href)", "h3 a::attr(href)"],
    title=["h3 > a::attr(title)", "h3 > a", "h3 a"],
    summary=["p > span", "p"],
    date=["span.date", "div.tag span", "span.time"],
    next_page=[
        "//div[contains(@class,'page')]//a[normalize-space(.)='下一页']/@href",
        "div.page a.next::attr(href)",
    ],
    page_url="{stem}-{n}.html",
)


def channel(name: str, slug: str, code: int, site_name: str, description: str) -> Portal:
    """One OFweek channel site: same templates, its own host, list code and name."""
    return define(
        __name__,
        name=name,
        site_name=site_name,
        channel="新闻",
        categories=["新媒体", site_name, "新闻"],
        start_urls=[f"https://{slug}.ofweek.com/CATList-{code}-8100-{slug}.html"],
        allowed_domains=["ofweek.com"],
        encoding="gb18030",
        timezone="Asia/Shanghai",
        max_pages=5,
        listing=CHANNEL_LISTING,
        article=CHANNEL_ARTICLE,
        body_rules=OFWEEK_BODY_RULES,
        canonical=OFWEEK_CANONICAL,
        description=description,
    )


PORTALS = [
    channel("ofweek_ee", "ee", 2800, "OFweek电子工程网", "OFweek 电子工程网 产业新闻"),
    channel("ofweek_robot", "robot", 8321200, "OFweek机器人网", "OFweek 机器人网 产业新闻"),
    channel("ofweek_medical", "medical", 11000, "OFweek医疗网", "OFweek 医疗网 产业新闻"),
]
