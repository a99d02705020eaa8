"""OFweek channel sites (ee., robot., medical.ofweek.com) as the replica serves them.

* listing ``/CATList-<code>-8100-<slug>.html``, page N at ``…-<slug>-N.html``:
  ``div.main_left > div.list_model > div.model_right.model_right2`` items (``h3 > a``,
  ``p > span`` abstract, ``span.date``), pager ``div.page`` with 下一页;
* articles ``/YYYY-MM/ART-<code>-2400-<id>.html``: ee and medical use the current
  template (``div.artical``: ``p.title``, ``div.time.fl``, ``div.source-name``,
  ``div#articleC`` wrapping ``div.TRS_Editor``); robot the older one
  (``div.article_left h1``, ``span.sdate``, ``#laiyuan span``, the body in ``div.TRS_Editor`` only).

Each channel publishes a third of the OFweek posts in ``data/ofweek/``.  GBK bytes
declaring gb2312, like www.  Reads no settings, writes no stats.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from newsspider.replica.sites.family import FamilySite, esc

if TYPE_CHECKING:
    from newsspider.replica.family import FamilyPost
    from newsspider.replica.model import ArticleSpec, Scenario

__all__ = ["EE", "Medical", "OFweekChannel", "Robot"]

_HEAD = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=gb2312" />
<title>{title}</title>
<link rel="stylesheet" type="text/css" href="https://www.ofweek.com/css/2019/channel.css" />
<script type="text/javascript" src="https://www.ofweek.com/js/jquery-1.8.3.min.js"></script>
</head>
<body>
<div class="top-bar"><div class="w1200"><span class="fl">{site}</span><span class="fr"><a href="https://www.ofweek.com/login.html" rel="nofollow">登录</a></span></div></div>
<div class="header"><div class="w1200"><a class="logo" href="/"><img src="https://www.ofweek.com/images/2019/logo_{slug}.png" alt="{site}" /></a>
<ul class="nav"><li><a href="/">首页</a></li><li class="on"><a href="{listing}">新闻</a></li><li><a href="/CATList-{code}-8300-{slug}.html">技术</a></li><li><a href="https://www.ofweek.com/" target="_blank">OFweek维科网</a></li></ul>
</div></div>
"""

_FOOT = """<div class="footer"><div class="w1200">
<p><a href="https://www.ofweek.com/about.html" rel="nofollow">关于我们</a> | <a href="https://www.ofweek.com/contact.html" rel="nofollow">联系我们</a></p>
<p>Copyright &copy; 2022 OFweek 维科网 All Rights Reserved. 粤ICP备06087881号</p>
</div></div>
</body>
</html>
"""


class OFweekChannel(FamilySite):
    """One OFweek channel site; subclasses set slug, code, site title and template."""

    corpus_folder = "ofweek"
    encoding = "gbk"
    charset = "gb2312"
    charset_meta = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312" />'
    per_page = 3
    slug: str
    code: int
    offset: int
    old_template: bool = False

    def __init__(self) -> None:
        self.listing_path = f"/CATList-{self.code}-8100-{self.slug}.html"
        self._listing_re = re.compile(
            rf"^/CATList-{self.code}-8100-{self.slug}(?:-(?P<n>\d+))?\.html$"
        )
        self._article_re = re.compile(rf"^/\d{{4}}-\d{{2}}/ART-{self.code}-2400-\d+\.html$")

    def select(self, posts: tuple[FamilyPost, ...]) -> tuple[FamilyPost, ...]:
        return posts[self.offset::3]

    def listing_page_path(self, number: int) -> str:
        if number <= 1:
            return self.listing_path
        return f"/CATList-{self.code}-8100-{self.slug}-{number}.html"

    def article_id(self, post: FamilyPost, index: int) -> int:
        return 30600000 + int(post.post_id) % 99991

    def article_path(self, post: FamilyPost, index: int) -> str:
        month = self.published(post)[0][:7]
        return f"/{month}/ART-{self.code}-2400-{self.article_id(post, index)}.html"

    def byline(self, post: FamilyPost) -> str | None:
        return self.site_title

    def _head(self, title: str) -> str:
        return _HEAD.format(
            title=title, site=esc(self.site_title), slug=self.slug, code=self.code,
            listing=self.listing_path,
        )

    def render_listing(self, scenario: Scenario, number: int, base_url: str) -> str:
        items = "".join(
            '<div class="list_model">\n'
            f'<div class="model_left"><a href="{esc(entry.article.path)}" target="_blank">'
            f'<img src="{esc(entry.article.images[0].url if entry.article.images else "")}" /></a></div>\n'
            '<div class="model_right model_right2">\n'
            f'<h3><a href="{esc(entry.article.path + entry.suffix)}" target="_blank" title="{esc(entry.article.title)}">'
            f"{esc(entry.article.title)}</a></h3>\n"
            f"<p><span>{esc(entry.article.summary)}</span></p>\n"
            f'<div class="tag"><span class="date">{esc(entry.article.published)}</span></div>\n'
            "</div>\n</div>\n"
            for entry in self.page_entries(scenario, number)
        )
        return (
            self._head(f"新闻-{esc(self.site_title)}" + (f"-第{number}页" if number > 1 else ""))
            + '<div class="main w1200 clearfix">\n<div class="main_left">\n'
            + items
            + self._pager(number, scenario.n_listing_pages)
            + "</div>\n" + self._side(scenario) + "</div>\n" + _FOOT
        )

    def _pager(self, number: int, n_pages: int) -> str:
        links = []
        if number > 1:
            links.append(f'<a href="{self.listing_page_path(number - 1)}">上一页</a>')
        for page in range(1, n_pages + 1):
            links.append(
                f'<span class="current">{page}</span>' if page == number
                else f'<a href="{self.listing_page_path(page)}">{page}</a>'
            )
        if number < n_pages:
            links.append(f'<a class="next" href="{self.listing_page_path(number + 1)}">下一页</a>')
        return '<div class="page">' + " ".join(links) + "</div>\n"

    @staticmethod
    def _side(scenario: Scenario) -> str:
        hot = "".join(
            f'<li><a href="{esc(spec.path)}" target="_blank">{esc(spec.title)}</a></li>\n'
            for spec in scenario.listed_articles[:3]
        )
        return f'<div class="main_right"><div class="hot"><h3>热门排行</h3><ul>\n{hot}</ul></div></div>\n'

    def render_article(self, scenario: Scenario, spec: ArticleSpec, page: int, base_url: str) -> str:
        body = spec.pages[page - 1]
        if self.old_template:
            article = (
                '<div class="article_left">\n'
                f"<h1>{esc(spec.title)}</h1>\n"
                f'<div class="simple"><span class="sdate">{esc(spec.published)}</span>'
                f'<span id="laiyuan"><span>来源：{esc(spec.author or "")}</span></span></div>\n'
                f'<div class="TRS_Editor">{body}</div>\n'
                "</div>\n"
            )
        else:
            article = (
                '<div class="artical-left">\n<div class="artical">\n'
                f'<p class="title">{esc(spec.title)}</p>\n'
                '<div class="artical-relative clearfix">'
                f'<div class="time fl">{esc(spec.published)}</div>'
                f'<div class="source-name">{esc(spec.author or "")}</div></div>\n'
                f'<div class="artical-content"><div id="articleC" class="article_con">'
                f'<div class="TRS_Editor">{body}</div></div></div>\n'
                "</div>\n</div>\n"
            )
        return (
            self._head(f"{esc(spec.title)}-{esc(self.site_title)}")
            + '<div class="main w1200 clearfix">\n'
            + '<div class="position">当前位置：<a href="/">首页</a> &gt; '
            + f'<a href="{self.listing_path}">新闻</a> &gt; 正文</div>\n'
            + article + self._side(scenario) + "</div>\n" + _FOOT
        )


class EE(OFweekChannel):
    name = "ofweek_ee"
    slug = "ee"
    code = 2800
    offset = 0
    site_title = "OFweek电子工程网"


class Robot(OFweekChannel):
    name = "ofweek_robot"
    slug = "robot"
    code = 8321200
    offset = 1
    site_title = "OFweek机器人网"
    old_template = True


class Medical(OFweekChannel):
    name = "ofweek_medical"
    slug = "medical"
    code = 11000
    offset = 2
    site_title = "OFweek医疗网"
