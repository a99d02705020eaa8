"""IT之家 (www.ithome.com) as the replica serves it: the it.ithome.com list and articles.

* listing ``/``: ``#list > div.fl > ul.bl > li`` with ``div.c[data-ot]`` holding
  ``h2 > a.title`` and the abstract ``div.m`` (more items load by script);
* articles ``/0/<nnn>/<nnn>.htm``: ``div#con div.content`` with ``h1``,
  ``div.news_info`` (``span#pubtime_baidu`` ``2021/12/18 8:23:26``, ``span#source_baidu``
  ``来源：<a>IT之家</a>``, ``span#author_baidu``, ``span#editor_baidu``) and the body in
  ``div#paragraph``.

One article (corpus 34878392155) gets a Weibo video placeholder after its first
paragraph, in the markup IT之家 uses (``<a class="ithome_super_player" …><img></a>``
inside a ``data-vmark`` paragraph): none of the five posts carries one, and the
portal's BodyRules must drop it.  UTF-8.  Reads no settings, writes no stats.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from newsspider.replica.corpus import BEIJING
from newsspider.replica.sites.family import FamilySite, esc

if TYPE_CHECKING:
    from datetime import datetime

    from newsspider.replica.family import FamilyPost
    from newsspider.replica.model import ArticleSpec, Scenario

__all__ = ["VIDEO_PLACEHOLDER", "VIDEO_POST", "ITHome"]

VIDEO_POST = "34878392155"
VIDEO_PLACEHOLDER = (
    '<p data-vmark="c3bf" style="text-align: center;"><a class="ithome_super_player" '
    'contenteditable="false" target="_blank" data-timestamp="1630667710000" '
    'data-vpreview-url="https://f.video.weibocdn.com/replica/d1-chip-preview.mp4?label=mp4_720p" '
    'href="https://weibo.com/tv/show/1034:4677000000000001"><img '
    'src="https://img.ithome.com/newsuploadfiles/2021/9/video-preview-d1.jpg" w="640" h="360"></a></p>'
)

_HEAD = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8" />
<title>{title}</title>
<meta name="keywords" content="IT之家,IT资讯" />
<link rel="stylesheet" href="https://img.ithome.com/css/common.min.css" />
<script src="https://img.ithome.com/js/jquery.min.js"></script>
</head>
<body>
<div id="top"><div class="w1200"><a class="logo" href="https://www.ithome.com/"><img src="https://img.ithome.com/images/v2/logo.png" alt="IT之家" /></a>
<ul id="nav"><li><a href="https://www.ithome.com/">首页</a></li><li class="current"><a href="/">资讯</a></li><li><a href="https://soft.ithome.com/">软件</a></li><li><a href="https://win10.ithome.com/">Windows</a></li><li><a href="https://digi.ithome.com/">数码</a></li></ul>
</div></div>
"""

_FOOT = """<div id="footer"><div class="w1200">
<p><a href="https://www.ithome.com/about/" rel="nofollow">关于IT之家</a> | <a href="https://www.ithome.com/contact/" rel="nofollow">联系我们</a> | <a href="https://www.ithome.com/tougao/" rel="nofollow">投稿</a></p>
<p>Copyright &copy; 2022 IT之家 All Rights Reserved. 鲁ICP备12009373号</p>
</div></div>
<script src="https://img.ithome.com/js/lazyload.min.js"></script>
</body>
</html>
"""


class ITHome(FamilySite):
    name = "ithome"
    corpus_folder = "ithome"
    site_title = "IT 之家"
    listing_path = "/"
    date_format = "%Y-%m-%d %H:%M:%S"
    _listing_re = re.compile(r"^/$")
    _article_re = re.compile(r"^/0/\d{3}/\d{3}\.htm$")

    def article_path(self, post: FamilyPost, index: int) -> str:
        number = 580000 + int(post.post_id) % 99991
        return f"/0/{number // 1000}/{number % 1000:03d}.htm"

    def print_date(self, local: datetime) -> str:
        return f"{local.year}/{local.month}/{local.day} {local.hour}:{local.minute:02d}:{local.second:02d}"

    def byline(self, post: FamilyPost) -> str | None:
        return "IT之家"

    def served_body(self, post: FamilyPost) -> str:
        if post.post_id != VIDEO_POST:
            return post.body
        end = post.body.find("</p>") + len("</p>")
        return post.body[:end] + VIDEO_PLACEHOLDER + post.body[end:]

    def render_listing(self, scenario: Scenario, number: int, base_url: str) -> str:
        items = []
        for entry in self.page_entries(scenario, number):
            spec = entry.article
            stamp = spec.published_at.astimezone(BEIJING).isoformat()
            thumb = spec.images[0].url if spec.images else ""
            items.append(
                f'<li><a class="img" href="{esc(spec.path + entry.suffix)}" target="_blank">'
                f'<img src="{esc(thumb)}" /></a>\n'
                f'<div class="c" data-ot="{esc(stamp)}">\n'
                f'<h2><a class="title" href="{esc(spec.path + entry.suffix)}" target="_blank">{esc(spec.title)}</a></h2>\n'
                f'<div class="m">{esc(spec.summary)}</div>\n'
                '<div class="tags"><a href="https://www.ithome.com/tag/">IT资讯</a></div>\n'
                "</div></li>\n"
            )
        return (
            _HEAD.format(title="IT资讯 - IT之家")
            + '<div id="list" class="w1200 clearfix">\n<div class="fl">\n<ul class="bl">\n'
            + "".join(items)
            + '</ul>\n<a class="more" href="javascript:;" data-page="2">查看更多</a>\n</div>\n'
            + self._side(scenario)
            + "</div>\n" + _FOOT
        )

    @staticmethod
    def _side(scenario: Scenario) -> str:
        hot = "".join(
            f'<li><a href="{esc(spec.path)}" target="_blank">{esc(spec.title)}</a></li>\n'
            for spec in scenario.listed_articles[:4]
        )
        return f'<div class="fr"><div class="lst lst-2 hot-list"><div class="bx"><ul>\n{hot}</ul></div></div></div>\n'

    def render_article(self, scenario: Scenario, spec: ArticleSpec, page: int, base_url: str) -> str:
        return (
            _HEAD.format(title=f"{esc(spec.title)} - IT之家")
            + '<div id="dt" class="w1200 clearfix">\n<div class="fl content-left">\n'
            + '<div id="con"><div class="content">\n'
            + f'<div class="cv"><h1>{esc(spec.title)}</h1>\n'
            + '<div class="news_info">'
            + f'<span id="pubtime_baidu">{esc(spec.published)}</span>'
            + f'<span id="source_baidu">来源：<a href="https://www.ithome.com" target="_blank">{esc(spec.author or "")}</a></span>'
            + '<span id="author_baidu">作者：<strong>故渊</strong></span>'
            + '<span id="editor_baidu">责编：<strong>故渊</strong></span>'
            + "</div></div>\n"
            + f'<div class="post_content" id="paragraph">{spec.pages[page - 1]}</div>\n'
            + '<div class="shareto">分享到：<a href="javascript:;">微博</a></div>\n'
            + "</div></div>\n"
            + '<div id="rm-login"><a href="https://my.ruanmei.com/" rel="nofollow">登录</a>后发表评论</div>\n'
            + "</div>\n" + self._side(scenario) + "</div>\n" + _FOOT
        )

