"""OFweek (www.ofweek.com news, 高科技行业门户) as the replica serves it.

Mirrors the real layout that public scrapers (RSSHub ``lib/routes/ofweek``,
assorted Scrapy and Jsoup spiders) are written against:

* listing ``/CATList-8100-CHANGYIEXINWE.html``, page N at ``…-N.html``; items are
  ``div.list-left div.con-details`` with ``h3 > a[href][title]``, the abstract in
  ``p > span``, date and keywords in ``span.fb-tl``; pagination in ``div.page``
  (numbers, 上一页/下一页/尾页; no 下一页 on the last page);
* articles at ``[/<channel>]/YYYY-MM/ART-<code>-8120-<id>.html``, further pages at
  ``…_2.html``; everything under ``div.artical``: title in ``p.title`` (or ``h1``),
  ``div.time.fl`` in Beijing time, the source in one of ``div.source-name``,
  ``#laiyuan span`` ("来源：…") or ``#laiyuan_mp a span`` (member posts), the body
  in ``div#articleC.article_con``, and ``div.page#nextPage`` between pages.

Pages are GBK bytes declaring ``gb2312`` in a ``<meta http-equiv>``.

Reads no settings, writes no stats.
"""

from __future__ import annotations

import re
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from newsspider.replica.corpus import _IMG, expected_url, img_attrs
from newsspider.replica.model import ArticleSpec, ImageSpec
from newsspider.replica.sites import Route

if TYPE_CHECKING:
    from newsspider.replica.model import ListingEntry, Scenario

__all__ = ["CHANNELS", "REDESIGN", "OFweek"]

# channel path prefix -> (channel site name, ART code). "" is www.ofweek.com.
CHANNELS: dict[str, tuple[str, int]] = {
    "": ("OFweek维科网", 8420),
    "medical": ("OFweek医疗网", 11000),
    "solar": ("OFweek太阳能光伏网", 260009),
    "lighting": ("OFweek半导体照明网", 220001),
    "iot": ("OFweek物联网", 132001),
    "ee": ("OFweek电子工程网", 2800),
    "tele": ("OFweek通信网", 8320),
    "display": ("OFweek显示网", 3000),
    "auto": ("OFweek智能汽车网", 70116),
    "smarthome": ("OFweek智能家居网", 91000),
    "cloud": ("OFweek云计算网", 12000),
    "ess": ("OFweek储能网", 110007),
}

_LISTING = re.compile(r"^/CATList-8100-CHANGYIEXINWE(?:-(\d+))?\.html$")
_ARTICLE = re.compile(
    r"^(?P<stem>(?:/[a-z]+)?/\d{4}-\d{2}/ART-\d+-\d+-(?P<id>\d+))(?:_(?P<page>\d+))?\.html$"
)

_HEAD = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=gb2312" />
<title>{title}</title>
<meta name="keywords" content="{keywords}" />
<meta name="description" content="{description}" />
<link rel="stylesheet" type="text/css" href="https://www.ofweek.com/css/2019/common.css" />
<script type="text/javascript" src="https://www.ofweek.com/js/jquery-1.8.3.min.js"></script>
<script type="text/javascript">
var _hmt = _hmt || [];
(function() {{ var hm = document.createElement("script"); hm.src = "https://hm.baidu.com/hm.js?0f2b3e1d"; var s = document.getElementsByTagName("script")[0]; s.parentNode.insertBefore(hm, s); }})();
</script>
</head>
<body>
<div class="top-bar"><div class="w1200"><span class="fl">OFweek维科网，高科技行业门户</span><span class="fr"><a href="https://www.ofweek.com/login.html" rel="nofollow">登录</a> | <a href="https://www.ofweek.com/register.html" rel="nofollow">注册</a></span></div></div>
<div class="header"><div class="w1200">
<a class="logo" href="https://www.ofweek.com/"><img src="https://www.ofweek.com/images/2019/logo.png" alt="OFweek" /></a>
<ul class="nav">
<li><a href="https://www.ofweek.com/">首页</a></li>
<li class="on"><a href="/CATList-8100-CHANGYIEXINWE.html">新闻</a></li>
<li><a href="https://medical.ofweek.com/" target="_blank">医疗</a></li>
<li><a href="https://solar.ofweek.com/" target="_blank">光伏</a></li>
<li><a href="https://ee.ofweek.com/" target="_blank">电子工程</a></li>
<li><a href="https://iot.ofweek.com/" target="_blank">物联网</a></li>
<li><a href="https://mp.ofweek.com/" target="_blank">维科号</a></li>
</ul>
<form class="search" action="https://www.ofweek.com/newquery.action" method="get"><input type="text" name="keywords" value="" /><input type="submit" value="搜索" /></form>
</div></div>
<div class="ad-banner"><script type="text/javascript">document.write('<a href="https://ad.ofweek.com/click?id=8100" target="_blank"><img src="https://img.ofweek.com/ad/2022/banner-1200x90.jpg" /></a>');</script></div>
"""

_FOOT = """<div class="footer"><div class="w1200">
<p><a href="https://www.ofweek.com/about.html" rel="nofollow">关于我们</a> | <a href="https://www.ofweek.com/contact.html" rel="nofollow">联系我们</a> | <a href="https://www.ofweek.com/map.html">网站地图</a> | <a href="https://www.ofweek.com/job.html" rel="nofollow">人才招聘</a></p>
<p>Copyright &copy; 2022 OFweek 维科网 All Rights Reserved. 粤ICP备06087881号</p>
</div></div>
<script type="text/javascript" src="https://www.ofweek.com/js/2019/common.js"></script>
<script type="text/javascript">$(function(){ $(".lazy").each(function(){ var s = $(this).attr("data-original"); if (s) { $(this).attr("src", s); } }); });</script>
</body>
</html>
"""


# A redesign of the article template (ReplicaServer.change_template): the body
# leaves #articleC (kept, empty) for a container with a new class, the source
# block is renamed in all three layouts, and the time moves into a new element.
REDESIGN: tuple[tuple[str, str], ...] = (
    (r'<div id="articleC" class="article_con">',
     '<div id="articleC" class="article_con"></div>\n<div class="detail-text">'),
    (r'<div class="time fl">([^<]*)</div>', r'<span class="pub-date">发布于 \1</span>'),
    (r'<div class="source-name">', '<div class="article-origin">来源：'),
    (r'<div id="laiyuan" class="fl">', '<div class="article-origin">'),
    (r'<div id="laiyuan_mp">', '<div class="article-origin">'),
)


class OFweek:
    """The OFweek news portal layout (see the module docstring)."""

    name = "ofweek"
    encoding = "gbk"
    charset_meta = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312" />'
    listing_path = "/CATList-8100-CHANGYIEXINWE.html"
    site_title = "高科技行业门户"

    # --- URLs ---------------------------------------------------------
    def listing_page_path(self, number: int) -> str:
        if number <= 1:
            return self.listing_path
        return f"/CATList-8100-CHANGYIEXINWE-{number}.html"

    @staticmethod
    def article_path(article_id: int, published: str, channel: str = "") -> str:
        """``published`` is the Beijing "YYYY-MM-DD HH:MM"; the path carries its month."""
        code = CHANNELS[channel][1]
        prefix = f"/{channel}" if channel else ""
        return f"{prefix}/{published[:7]}/ART-{code}-8120-{article_id}.html"

    @staticmethod
    def article_id_of(path: str) -> int | None:
        match = _ARTICLE.match(path)
        return int(match.group("id")) if match else None

    def route(self, path: str) -> Route | None:
        listing = _LISTING.match(path)
        if listing:
            return Route("listing", int(listing.group(1) or 1))
        article = _ARTICLE.match(path)
        if article:
            return Route(
                "article", int(article.group("page") or 1), article.group("stem") + ".html"
            )
        return None

    # --- pages --------------------------------------------------------
    def render_listing(self, scenario: Scenario, number: int, base_url: str) -> str:
        base = base_url.rstrip("/")
        n_pages = scenario.n_listing_pages
        entries = scenario.listing_page(number)
        # An ad inside div.list-left but outside any div.con-details: a precise
        # selector skips it, a greedy "every link in the list" one does not.
        middle = len(entries) // 2
        ad = (
            '<div class="list-ad"><a href="https://ad.ofweek.com/click?id=list" target="_blank">'
            '<img src="https://img.ofweek.com/ad/2022/list-860x90.jpg" alt="广告" /></a></div>\n'
        )
        parts = [self._listing_item(entry, base) for entry in entries]
        parts.insert(middle, ad)
        return (
            _HEAD.format(
                title=f"新闻-{self.site_title}-OFweek维科网"
                + (f"-第{number}页" if number > 1 else ""),
                keywords="高科技,新闻,OFweek",
                description="OFweek维科网新闻频道，报道高科技行业最新资讯。",
            )
            + '<div class="main w1200 clearfix">\n'
            + '<div class="position">当前位置：<a href="https://www.ofweek.com/">OFweek维科网</a> &gt; 新闻</div>\n'
            + '<div class="list-left">\n<div class="list-title"><h2>产业新闻</h2></div>\n'
            + "".join(parts)
            + self._listing_pager(number, n_pages)
            + "</div>\n"
            + self._sidebar(scenario, base)
            + "</div>\n"
            + _FOOT
        )

    def _listing_item(self, entry: ListingEntry, base: str) -> str:
        spec = entry.article
        href = escape(spec.url(base) + entry.suffix)
        title = escape(spec.title)
        thumb = ""
        if spec.images:
            first = spec.image_urls(base)[0]
            thumb = (
                f'<div class="pic"><a href="{href}" target="_blank">'
                f'<img src="{escape(first)}" alt="{title}" /></a></div>\n'
            )
        keywords = " ".join(
            f'<a href="https://www.ofweek.com/tag-{quote(word)}.HTM" target="_blank">{escape(word)}</a>'
            for word in spec.keywords
        )
        return (
            '<div class="con-details">\n'
            + thumb
            + f'<h3><a href="{href}" target="_blank" title="{title}">{title}</a></h3>\n'
            + f"<p><span>{escape(spec.summary)}</span></p>\n"
            + f'<div class="tag"><span class="fb-tl">{spec.published}</span>'
            + f'<span class="fb-tl">关键词 {keywords}</span></div>\n'
            + "</div>\n"
        )

    def _listing_pager(self, number: int, n_pages: int) -> str:
        links: list[str] = []
        if number > 1:
            links.append(f'<a href="{self.listing_page_path(1)}">首页</a>')
            links.append(f'<a href="{self.listing_page_path(number - 1)}">上一页</a>')
        low = max(1, number - 4)
        high = min(n_pages, low + 9)
        for page in range(low, high + 1):
            if page == number:
                links.append(f'<span class="current">{page}</span>')
            else:
                links.append(f'<a href="{self.listing_page_path(page)}">{page}</a>')
        if number < n_pages:
            links.append(f'<a class="next" href="{self.listing_page_path(number + 1)}">下一页</a>')
            links.append(f'<a href="{self.listing_page_path(n_pages)}">尾页</a>')
        return '<div class="page">' + " ".join(links) + "</div>\n"

    def _sidebar(self, scenario: Scenario, base: str) -> str:
        """Hot-article lists outside div.list-left: links a crawl must not take as items."""
        hot = "".join(
            f'<li><a href="{escape(spec.url(base))}" target="_blank" title="{escape(spec.title)}">'
            f"{escape(spec.title)}</a></li>\n"
            for spec in scenario.sidebar
        )
        return (
            '<div class="list-right">\n'
            '<div class="ad-side"><a href="https://ad.ofweek.com/click?id=side" target="_blank">'
            '<img src="https://img.ofweek.com/ad/2022/side-300x250.jpg" /></a></div>\n'
            f'<div class="hot-list"><h3>热门资讯</h3><ul>\n{hot}</ul></div>\n'
            '<div class="hot-list"><h3>专题</h3><ul>\n'
            '<li><a href="https://www.ofweek.com/seminar/2022/" target="_blank">OFweek 2022 行业年会</a></li>\n'
            '<li><a href="https://mp.ofweek.com/" target="_blank">维科号：科技自媒体平台</a></li>\n'
            "</ul></div>\n</div>\n"
        )

    def render_article(
        self, scenario: Scenario, spec: ArticleSpec, page: int, base_url: str
    ) -> str:
        base = base_url.rstrip("/")
        title = escape(spec.title)
        if spec.title_layout == "h1":
            title_html = f"<h1>{title}</h1>"
        else:
            title_html = f'<p class="title">{title}</p>'
        body = spec.pages[page - 1]
        return (
            _HEAD.format(
                title=f"{title}-{escape(spec.site_name)}",
                keywords=escape(",".join(spec.keywords)),
                description=escape(spec.summary),
            )
            + '<div class="main w1200 clearfix">\n'
            + '<div class="position gray">当前位置：<a href="https://www.ofweek.com/">OFweek维科网</a>'
            + ' &gt; <a href="/CATList-8100-CHANGYIEXINWE.html">新闻</a> &gt; 正文</div>\n'
            + '<div class="artical-left">\n<div class="artical">\n'
            + title_html
            + "\n"
            + '<div class="artical-relative clearfix">\n'
            + f'<div class="time fl">{spec.published}</div>\n'
            + self._source(spec)
            + '<div class="fr share"><a href="javascript:void(0)" class="wx">微信</a>'
            + '<a href="javascript:void(0)" class="wb">微博</a></div>\n'
            + "</div>\n"
            + '<div class="artical-content">\n'
            + f'<div id="articleC" class="article_con">{body}</div>\n'
            + self._article_pager(spec, page)
            + "</div>\n"
            + self._tags(spec)
            + "</div>\n"
            + self._related(scenario, base)
            + "</div>\n"
            + self._sidebar(scenario, base)
            + "</div>\n"
            + _FOOT
        )

    @staticmethod
    def _source(spec: ArticleSpec) -> str:
        author = escape(spec.author or "")
        if spec.author_layout == "source-name":
            return f'<div class="source-name">{author}</div>\n'
        if spec.author_layout == "laiyuan":
            return f'<div id="laiyuan" class="fl"><span>来源：{author}</span></div>\n'
        if spec.author_layout == "laiyuan_mp":
            href = escape(spec.author_href or "https://mp.ofweek.com/")
            return (
                f'<div id="laiyuan_mp"><a href="{href}" target="_blank" title="{author}">'
                f"<span>{author}</span></a></div>\n"
            )
        return ""

    @staticmethod
    def _article_pager(spec: ArticleSpec, page: int) -> str:
        if spec.n_pages <= 1:
            return ""
        paths = spec.page_paths
        links: list[str] = []
        if page > 1:
            links.append(f'<a href="{paths[page - 2]}">上一页</a>')
        for number, path in enumerate(paths, start=1):
            if number == page:
                links.append(f'<span class="current">{number}</span>')
            else:
                links.append(f'<a href="{path}">{number}</a>')
        if page < spec.n_pages:
            links.append(f'<a class="next" href="{paths[page]}">下一页</a>')
        return '<div class="page" id="nextPage">' + " ".join(links) + "</div>\n"

    @staticmethod
    def _tags(spec: ArticleSpec) -> str:
        if not spec.keywords:
            return ""
        words = " ".join(
            f'<a href="https://www.ofweek.com/tag-{quote(word)}.HTM" target="_blank">{escape(word)}</a>'
            for word in spec.keywords
        )
        return f'<div class="tag">标签：{words}</div>\n'

    @staticmethod
    def _related(scenario: Scenario, base: str) -> str:
        items = "".join(
            f'<li><a href="{escape(spec.url(base))}" target="_blank">{escape(spec.title)}</a></li>\n'
            for spec in scenario.sidebar
        )
        return f'<div class="related"><h3>相关阅读</h3><ul>\n{items}</ul></div>\n'

    def render_error(self, status: int) -> str:
        message = {404: "您访问的页面不存在", 500: "服务器繁忙，请稍后再试"}.get(status, "出错了")
        return (
            "<!DOCTYPE html>\n<html>\n<head>\n"
            f"{self.charset_meta}\n<title>{status} - OFweek维科网</title>\n</head>\n"
            f'<body><div class="error"><h2>{status}</h2><p>{message}</p>'
            '<p><a href="https://www.ofweek.com/">返回首页</a></p></div></body>\n</html>\n'
        )

    def images_of(self, body_html: str) -> tuple[ImageSpec, ...]:
        images: list[ImageSpec] = []
        for tag in _IMG.findall(body_html):
            attrs = img_attrs(tag)
            images.append(
                ImageSpec(
                    url=expected_url(attrs),
                    src=attrs.get("src", ""),
                    alt=attrs.get("alt", ""),
                    data_original=attrs.get("data-original"),
                )
            )
        return tuple(images)
