"""人人都是产品经理 (www.woshipm.com) as the replica serves it: a WordPress category.

* listing ``/category/pd``, page N at ``/category/pd/page/N``: ``div.postlist-item``
  entries (``h2.post-title > a[title]``, ``p.des`` abstract, ``time``), WordPress
  pagination with ``a.next.page-numbers``;
* articles ``/pd/<post id>.html``: ``div.article--header`` (``h2`` title, ``div.author
  a.name``, ``time`` with the date only) and the body ``div.article--content.grap``,
  which ends with the donation box ``div.support-author`` (inline ``<svg>``, "赞赏").

The post id is the one in the body's donation button (``data-post-id``) when there
is one; the byline is the author named in "本文由 @… 原创发布于人人都是产品经理".
UTF-8.  Reads no settings, writes no stats.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from newsspider.replica.sites.family import FamilySite, esc

if TYPE_CHECKING:
    from newsspider.replica.family import FamilyPost
    from newsspider.replica.model import ArticleSpec, Scenario

__all__ = ["Woshipm"]

_POST_ID = re.compile(r'data-post-id="(\d+)"')
_AUTHOR = re.compile(r"本文由\s*@\s*([^<]+?)\s*原创发布于人人都是产品经理")

_HEAD = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="UTF-8">
<title>{title}</title>
<link rel="stylesheet" href="https://www.woshipm.com/wp-content/themes/wpm/css/main.css" type="text/css" media="all">
<link rel="alternate" type="application/rss+xml" title="人人都是产品经理 &raquo; Feed" href="https://www.woshipm.com/feed">
</head>
<body class="archive category">
<header class="header"><div class="container">
<a class="logo" href="https://www.woshipm.com/"><img src="https://www.woshipm.com/wp-content/themes/wpm/img/logo.png" alt="人人都是产品经理"></a>
<ul class="menu"><li><a href="https://www.woshipm.com/">首页</a></li><li><a href="https://www.woshipm.com/category/pmd">产品经理</a></li><li class="current-menu-item"><a href="/category/pd">产品设计</a></li><li><a href="https://www.woshipm.com/category/operate">产品运营</a></li></ul>
<a class="login" href="https://www.woshipm.com/login" rel="nofollow">登录</a>
</div></header>
"""

_FOOT = """<footer class="footer"><div class="container">
<p><a href="https://www.woshipm.com/about" rel="nofollow">关于我们</a> | <a href="https://www.woshipm.com/contact" rel="nofollow">联系我们</a></p>
<p>&copy; 2012-2022 人人都是产品经理 粤ICP备14037330号</p>
</div></footer>
<script src="https://www.woshipm.com/wp-content/themes/wpm/js/main.js"></script>
</body>
</html>
"""


class Woshipm(FamilySite):
    name = "woshipm"
    corpus_folder = "woshipm"
    site_title = "人人都是产品经理"
    listing_path = "/category/pd"
    per_page = 2
    date_format = "%Y-%m-%d"
    _listing_re = re.compile(r"^/category/pd(?:/page/(?P<n>\d+))?/?$")
    _article_re = re.compile(r"^/pd/\d+\.html$")

    def listing_page_path(self, number: int) -> str:
        return self.listing_path if number <= 1 else f"{self.listing_path}/page/{number}"

    def article_id(self, post: FamilyPost, index: int) -> int:
        found = _POST_ID.search(post.body)
        return int(found.group(1)) if found else 80000 + index

    def article_path(self, post: FamilyPost, index: int) -> str:
        return f"/pd/{self.article_id(post, index)}.html"

    def byline(self, post: FamilyPost) -> str | None:
        found = _AUTHOR.search(post.body)
        return found.group(1).strip() if found else None

    def render_listing(self, scenario: Scenario, number: int, base_url: str) -> str:
        items = []
        for entry in self.page_entries(scenario, number):
            spec = entry.article
            href = esc(spec.path + entry.suffix)
            thumb = spec.images[0].url if spec.images else ""
            items.append(
                f'<div class="postlist-item u-clearfix" data-id="{spec.id}">\n'
                f'<div class="post-img"><a href="{href}" target="_blank"><img src="{esc(thumb)}"></a></div>\n'
                '<div class="content">\n'
                f'<h2 class="post-title"><a title="{esc(spec.title)}" href="{href}" target="_blank">{esc(spec.title)}</a></h2>\n'
                f'<p class="des">{esc(spec.summary)}</p>\n'
                f'<div class="stream-list-meta"><span class="author">{esc(spec.author or "")}</span>'
                f"<time>{esc(spec.published)}</time></div>\n"
                "</div>\n</div>\n"
            )
        return (
            _HEAD.format(title="产品设计 | 人人都是产品经理" + (f" - 第{number}页" if number > 1 else ""))
            + '<div class="container u-clearfix">\n<div class="main">\n'
            + '<div class="postlist">\n' + "".join(items) + "</div>\n"
            + self._pager(number, scenario.n_listing_pages)
            + "</div>\n" + self._side(scenario) + "</div>\n" + _FOOT
        )

    def _pager(self, number: int, n_pages: int) -> str:
        links = []
        if number > 1:
            links.append(f'<a class="prev page-numbers" href="{self.listing_page_path(number - 1)}">上一页</a>')
        for page in range(1, n_pages + 1):
            if page == number:
                links.append(f'<span aria-current="page" class="page-numbers current">{page}</span>')
            else:
                links.append(f'<a class="page-numbers" href="{self.listing_page_path(page)}">{page}</a>')
        if number < n_pages:
            links.append(f'<a class="next page-numbers" href="{self.listing_page_path(number + 1)}">下一页</a>')
        return '<div class="pagination">' + "".join(links) + "</div>\n"

    @staticmethod
    def _side(scenario: Scenario) -> str:
        hot = "".join(
            f'<li><a href="{esc(spec.path)}" target="_blank">{esc(spec.title)}</a></li>\n'
            for spec in scenario.listed_articles[:3]
        )
        return f'<aside class="sidebar"><div class="widget"><h3>热门文章</h3><ul>\n{hot}</ul></div></aside>\n'

    def render_article(self, scenario: Scenario, spec: ArticleSpec, page: int, base_url: str) -> str:
        return (
            _HEAD.format(title=f"{esc(spec.title)} | 人人都是产品经理")
            + '<div class="container u-clearfix">\n<div class="main">\n<article class="article">\n'
            + '<div class="article--header">\n'
            + f'<h2 class="article--title">{esc(spec.title)}</h2>\n'
            + '<div class="meta--sup">'
            + f'<div class="author"><a class="name" href="https://www.woshipm.com/u/1001792">{esc(spec.author or "")}</a></div>'
            + f"<time>{esc(spec.published)}</time>"
            + '<span class="views">阅读 2.1w</span></div>\n'
            + "</div>\n"
            + f'<div class="article--content grap">{spec.pages[page - 1]}</div>\n'
            + '<div class="article--footer"><div class="tags"><a href="https://www.woshipm.com/tag/b端">B端</a></div></div>\n'
            + "</article>\n</div>\n" + self._side(scenario) + "</div>\n" + _FOOT
        )
