"""Dockone (weekly.dockone.io, WeCenter) as the replica serves it.

* listing ``/``, page N at ``/sort_type-new__day-0__is_recommend-0__page-N``:
  ``div.aw-common-list`` with ``div.aw-item.article`` entries (``a.aw-user-name``,
  ``div.aw-question-content > h4 > a``, ``span.text-color-999`` time), pager
  ``div.page-control ul.pagination`` whose ``&gt;`` link is the next page;
* articles ``/article/<id>``: ``div.aw-question-detail`` (``div.mod-head h1``,
  ``div.mod-body div.content.markitup-box`` with the body, ``div.mod-footer div.meta``
  with the time ``YYYY-MM-DD HH:MM``) and the poster in the side bar.

Bodies hold ``<pre class="prettyprint">`` blocks with the XML/HTML they show left
unescaped, exactly as in the corpus.  UTF-8.  Reads no settings, writes no stats.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from newsspider.replica.sites.family import FamilySite, esc

if TYPE_CHECKING:
    from newsspider.replica.family import FamilyPost
    from newsspider.replica.model import ArticleSpec, Scenario

__all__ = ["Dockone"]

_HEAD = """<!DOCTYPE html>
<html>
<head>
<meta content="text/html;charset=utf-8" http-equiv="Content-Type" />
<title>{title}</title>
<link href="https://dockone.io/static/css/default/common.css" rel="stylesheet" type="text/css" />
<script src="https://dockone.io/static/js/jquery.2.js" type="text/javascript"></script>
</head>
<body>
<div class="aw-top-menu-wrap"><div class="container">
<div class="aw-logo"><a href="https://dockone.io/">DockOne.io</a></div>
<div class="aw-top-nav navbar"><ul class="nav navbar-nav"><li><a href="https://dockone.io/">发现</a></li><li><a class="active" href="/">周报</a></li><li><a href="https://dockone.io/topic/">话题</a></li></ul></div>
<div class="aw-user-nav"><a class="login" href="https://dockone.io/account/login/" rel="nofollow">登录</a></div>
</div></div>
"""

_FOOT = """<div class="aw-footer-wrap"><div class="aw-footer">
Copyright &copy; 2022 DockOne.io <a href="https://beian.miit.gov.cn/" rel="nofollow">京ICP备15031008号</a>
</div></div>
</body>
</html>
"""

_PAGE = "/sort_type-new__day-0__is_recommend-0__page-{n}"


class Dockone(FamilySite):
    name = "dockone"
    corpus_folder = "dockone"
    site_title = "Dockone"
    listing_path = "/"
    per_page = 2
    date_format = "%Y-%m-%d %H:%M"
    _listing_re = re.compile(r"^/(?:sort_type-new__day-0__is_recommend-0__page-(?P<n>\d+))?$")
    _article_re = re.compile(r"^/article/\d+$")

    def listing_page_path(self, number: int) -> str:
        return self.listing_path if number <= 1 else _PAGE.format(n=number)

    def article_id(self, post: FamilyPost, index: int) -> int:
        return 2434000 + int(post.post_id) % 997

    def article_path(self, post: FamilyPost, index: int) -> str:
        return f"/article/{self.article_id(post, index)}"

    def byline(self, post: FamilyPost) -> str | None:
        return "Dockone"

    def render_listing(self, scenario: Scenario, number: int, base_url: str) -> str:
        items = "".join(
            '<div class="aw-item article">\n'
            '<a class="aw-user-name hidden-xs" href="https://dockone.io/people/dockone" rel="nofollow">'
            '<img src="https://dockone.io/uploads/avatar/000/00/00/01_avatar_mid.jpg" alt="" /></a>\n'
            '<div class="aw-question-content">\n'
            f'<h4><a href="{esc(entry.article.path + entry.suffix)}">{esc(entry.article.title)}</a></h4>\n'
            f'<p><a class="aw-user-name" href="https://dockone.io/people/dockone">{esc(entry.article.author or "")}</a> '
            f'<span class="text-color-999">发表了文章 • 0 个评论 • 1024 次浏览 • {esc(entry.article.published)}</span></p>\n'
            "</div>\n</div>\n"
            for entry in self.page_entries(scenario, number)
        )
        return (
            _HEAD.format(title="DockOne.io 周报")
            + '<div class="aw-container-wrap"><div class="container"><div class="row">\n'
            + '<div class="col-sm-12 col-md-9 aw-main-content">\n'
            + '<div class="aw-mod aw-explore-list"><div class="mod-body"><div class="aw-common-list">\n'
            + items
            + "</div></div></div>\n"
            + self._pager(number, scenario.n_listing_pages)
            + "</div>\n" + self._side(scenario) + "</div></div></div>\n" + _FOOT
        )

    def _pager(self, number: int, n_pages: int) -> str:
        links = []
        if number > 1:
            links.append(f'<li><a href="{self.listing_page_path(1)}">&lt;&lt;</a></li>')
            links.append(f'<li><a href="{self.listing_page_path(number - 1)}">&lt;</a></li>')
        for page in range(1, n_pages + 1):
            if page == number:
                links.append(f'<li class="active"><a href="javascript:;">{page}</a></li>')
            else:
                links.append(f'<li><a href="{self.listing_page_path(page)}">{page}</a></li>')
        if number < n_pages:
            links.append(f'<li><a href="{self.listing_page_path(number + 1)}">&gt;</a></li>')
            links.append(f'<li><a href="{self.listing_page_path(n_pages)}">&gt;&gt;</a></li>')
        return '<div class="page-control"><ul class="pagination pull-right">' + "".join(links) + "</ul></div>\n"

    @staticmethod
    def _side(scenario: Scenario) -> str:
        hot = "".join(
            f'<li><a href="{esc(spec.path)}">{esc(spec.title)}</a></li>\n'
            for spec in scenario.listed_articles[:3]
        )
        return (
            '<div class="col-sm-12 col-md-3 aw-side-bar hidden-xs">\n'
            f'<div class="aw-mod"><div class="mod-head"><h3>热门文章</h3></div><ul>\n{hot}</ul></div>\n'
            "</div>\n"
        )

    def render_article(self, scenario: Scenario, spec: ArticleSpec, page: int, base_url: str) -> str:
        return (
            _HEAD.format(title=f"{esc(spec.title)} - DockOne.io")
            + '<div class="aw-container-wrap"><div class="container"><div class="row">\n'
            + '<div class="col-sm-12 col-md-9 aw-main-content">\n'
            + '<div class="aw-mod aw-question-detail">\n'
            + f'<div class="mod-head"><h1>{esc(spec.title)}</h1></div>\n'
            + f'<div class="mod-body"><div class="content markitup-box">{spec.pages[page - 1]}</div></div>\n'
            + '<div class="mod-footer"><div class="meta">'
            + f'<span class="text-color-999">{esc(spec.published)}</span>'
            + '<a class="text-color-999" href="javascript:;">举报</a></div></div>\n'
            + "</div>\n"
            + '<div class="aw-mod aw-question-comments"><div class="mod-head"><h2>0 个评论</h2></div></div>\n'
            + "</div>\n"
            + '<div class="col-sm-12 col-md-3 aw-side-bar hidden-xs">\n'
            + '<div class="aw-mod user-detail"><div class="mod-head"><h3>文章作者</h3></div><div class="mod-body">'
            + f'<a class="aw-user-name" href="https://dockone.io/people/dockone">{esc(spec.author or "")}</a></div></div>\n'
            + "</div>\n</div></div></div>\n" + _FOOT
        )
