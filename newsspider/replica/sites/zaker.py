"""ZAKER (www.myzaker.com) as the replica serves it: the 科技 channel and its articles.

* listing ``/channel/13``: ``div.content-block`` items with a protocol-relative
  ``.article-wrap > a`` link and ``.article-title``; the rest of the channel loads
  by script (one page);
* articles ``/article/<24 hex>``: ``div.article_header`` (``h1``, ``a.article-auther``
  with the source, ``span.time`` as ``YYYY-MM-DD HH:MM``), body in
  ``div.article_content > div``: images in ``div.img_box`` as
  ``<img class="lazy" data-original=REAL src=placeholder>``, exactly as ZAKER serves
  them before its lazy loader runs.

UTF-8.  Reads no settings, writes no stats.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from newsspider.replica.corpus import LOADING_GIF
from newsspider.replica.sites.family import FamilySite, esc

if TYPE_CHECKING:
    from newsspider.replica.family import FamilyPost
    from newsspider.replica.model import ArticleSpec, Scenario

__all__ = ["Zaker"]

_LAZY_SRC = re.compile(r'(<img\b[^>]*?data-original="[^"]*"[^>]*?\ssrc=")([^"]*)(")')

# Where the body opens with "<source> <month> 月 <day> 日消息", the source is the byline.
_SOURCES = {
    "34248927731": "IT之家",
    "34530684261": "品玩",
    "34882501866": "IT之家",
    "35192374369": "CSDN",
    "35226529344": "IT之家",
}

_HEAD = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<meta name="keywords" content="ZAKER,扎客,新闻,资讯">
<link rel="stylesheet" href="//zkres.myzaker.com/static/zaker_web2/css/common.css">
<script src="//zkres.myzaker.com/static/zaker_web2/js/jquery.min.js"></script>
</head>
<body>
<div class="header"><div class="main_width">
<a class="logo" href="//www.myzaker.com/"><img src="//zkres.myzaker.com/static/zaker_web2/img/logo.png" alt="ZAKER"></a>
<div class="nav">
<a class="nav_item" href="//www.myzaker.com/">首页</a>
<a class="nav_item" href="//www.myzaker.com/channel/660">热点</a>
<a class="nav_item nav_item_active" href="/channel/13">科技</a>
<a class="nav_item" href="//www.myzaker.com/channel/4">财经</a>
<a class="nav_item" href="//www.myzaker.com/channel/7">汽车</a>
</div>
<a class="download" href="//www.myzaker.com/download" rel="nofollow">下载 ZAKER 客户端</a>
</div></div>
"""

_FOOT = """<div class="footer"><div class="main_width">
<p><a href="//www.myzaker.com/about/" rel="nofollow">关于我们</a> | <a href="//www.myzaker.com/about/contact" rel="nofollow">联系我们</a> | <a href="//www.myzaker.com/about/copyright" rel="nofollow">版权声明</a></p>
<p>Copyright &copy; ZAKER 扎客 粤ICP备11064530号</p>
</div></div>
<script>$(function(){ $("img.lazy").each(function(){ $(this).attr("src", $(this).attr("data-original")).removeClass("opacity_0"); }); });</script>
</body>
</html>
"""


class Zaker(FamilySite):
    name = "zaker"
    corpus_folder = "zaker"
    site_title = "ZAKER"
    listing_path = "/channel/13"
    date_format = "%Y-%m-%d %H:%M"
    _listing_re = re.compile(r"^/channel/13$")
    _article_re = re.compile(r"^/article/[0-9a-f]{24}/?$")

    def article_path(self, post: FamilyPost, index: int) -> str:
        return f"/article/{self.hex_id(post)}"

    def byline(self, post: FamilyPost) -> str | None:
        return _SOURCES.get(post.post_id, "ZAKER")

    def served_body(self, post: FamilyPost) -> str:
        # The aggregator copied data-original into src; the page itself serves a placeholder.
        return _LAZY_SRC.sub(lambda m: m.group(1) + LOADING_GIF + m.group(3), post.body)

    def render_listing(self, scenario: Scenario, number: int, base_url: str) -> str:
        host = urlsplit(base_url).netloc
        blocks = []
        for entry in self.page_entries(scenario, number):
            spec = entry.article
            href = f"//{host}{spec.path}{entry.suffix}"
            thumb = spec.images[0].url if spec.images else ""
            blocks.append(
                '<div class="content-block">\n'
                '<div class="article-wrap">\n'
                f'<a href="{esc(href)}" target="_blank" title="{esc(spec.title)}">'
                f'<div class="article-img" style="background-image:url({esc(thumb)})"></div></a>\n'
                f'<p class="article-title">{esc(spec.title)}</p>\n'
                f'<p class="article-desc">{esc(spec.summary)}</p>\n'
                f'<div class="article-footer"><span class="subtitle">{esc(spec.author or "")}</span>'
                f'<span class="time">{esc(spec.published)}</span></div>\n'
                "</div>\n</div>\n"
            )
        return (
            _HEAD.format(title="科技频道-ZAKER新闻")
            + '<div class="main_width clearfix">\n<div class="main_left">\n'
            + '<div class="channel_title"><h2>科技</h2></div>\n'
            + '<div class="flow">\n' + "".join(blocks) + "</div>\n"
            + '<div class="loading_more" data-next="?next=1">加载更多</div>\n'
            + "</div>\n"
            + self._sidebar(scenario, host)
            + "</div>\n"
            + _FOOT
        )

    def _sidebar(self, scenario: Scenario, host: str) -> str:
        hot = "".join(
            f'<li><a href="//{host}{spec.path}" target="_blank">{esc(spec.title)}</a></li>\n'
            for spec in scenario.listed_articles[:3]
        )
        return (
            '<div class="main_right">\n<div class="hot_list"><h3>24小时热闻</h3><ul>\n'
            + hot
            + "</ul></div>\n"
            + '<div class="app_download"><img src="//zkres.myzaker.com/static/zaker_web2/img/qrcode.png" alt="扫码下载"></div>\n'
            + "</div>\n"
        )

    def render_article(self, scenario: Scenario, spec: ArticleSpec, page: int, base_url: str) -> str:
        host = urlsplit(base_url).netloc
        related = "".join(
            f'<a class="related_item" href="//{host}{other.path}" target="_blank">{esc(other.title)}</a>\n'
            for other in scenario.listed_articles[:4]
            if other.path != spec.path
        )
        return (
            _HEAD.format(title=f"{esc(spec.title)}_ZAKER新闻")
            + '<div class="main_width clearfix">\n<div class="main_left">\n'
            + '<div class="article_header">\n'
            + f"<h1>{esc(spec.title)}</h1>\n"
            + '<div class="article_tips">'
            + f'<a class="article-auther line" href="//www.myzaker.com/source/5a1b" target="_blank">{esc(spec.author or "")}</a>'
            + f'<span class="time">{esc(spec.published)}</span>'
            + '<span class="comment">评论</span></div>\n'
            + "</div>\n"
            + f'<div class="article_content">\n<div id="content">{spec.pages[page - 1]}</div>\n</div>\n'
            + '<div class="article_more"><a href="//www.myzaker.com/download" rel="nofollow">'
            + "打开 ZAKER 阅读更多精彩内容</a></div>\n"
            + '<div class="lebel-list"><a href="//www.myzaker.com/channel/13">科技</a></div>\n'
            + f'<div class="related"><h3>相关推荐</h3>\n{related}</div>\n'
            + "</div>\n"
            + self._sidebar(scenario, host)
            + "</div>\n"
            + _FOOT
        )
