"""cnBeta (www.cnbeta.com) as the replica serves it: the home page list and articles.

* listing ``/``: ``div.items-area`` with ``div.item`` entries (``dl > dt > a`` title and
  link, ``dl > dd > p`` abstract, ``ul.status`` with the time); later batches come
  from a JSON endpoint on the real site, so the page has no HTML pager;
* articles ``/articles/tech/<id>.htm``: ``div.cnbeta-article`` with ``header.title``
  (``h1``, ``div.meta`` = time ``2021年12月17日 08:20`` then ``span.source``
  ``稿源：…``) and ``div.cnbeta-article-body`` = ``div.article-summary`` (topic badge +
  the lead ``<p>``) + ``div.article-content`` + the shopping banner
  ``div.article-global``.

The corpus bodies are "summary ``<br>`` content" as RSSHub joined them; they are
split back at that first ``<br>``.  UTF-8.  Reads no settings, writes no stats.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from newsspider.replica.sites.family import FamilySite, esc

if TYPE_CHECKING:
    from datetime import datetime

    from newsspider.replica.family import FamilyPost
    from newsspider.replica.model import ArticleSpec, Scenario

__all__ = ["CnBeta"]

_SPLIT = re.compile(r"<br>\s*")

_HEAD = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="csrf-token" content="N2xkUmw2cE9lGy0nLn4BFlo-ABUiBBI4XRQ2FwFFJTkfGSwKXWIYNw==">
<title>{title}</title>
<link rel="stylesheet" href="https://static.cnbetacdn.com/www/css/common.css">
<script src="https://static.cnbetacdn.com/www/js/jquery.min.js"></script>
</head>
<body>
<header class="cnbeta-header"><div class="cnbeta-wrap">
<a class="logo" href="/"><img src="https://static.cnbetacdn.com/www/images/logo.png" alt="cnBeta.COM"></a>
<nav class="cnbeta-nav"><a href="/" class="current">首页</a><a href="/category/tech.htm">科技</a><a href="/category/science.htm">科学</a><a href="/category/movie.htm">影视</a><a href="/topics.htm">主题</a></nav>
</div></header>
"""

_FOOT = """<footer class="cnbeta-footer"><div class="cnbeta-wrap">
<p><a href="/about.htm" rel="nofollow">关于我们</a> | <a href="/contact.htm" rel="nofollow">联系我们</a> | <a href="/policy.htm" rel="nofollow">隐私政策</a></p>
<p>Copyright &copy; 2003-2022 cnBeta.COM 沪ICP备12024566号</p>
</div></footer>
<script>var PAGE_TYPE = "all";</script>
</body>
</html>
"""

_GLOBAL_AD = (
    '<div class="article-global"><a href="https://c.duomai.com/track.php?site_id=242986&amp;t=https%3A%2F%2Fwww.jd.com%2F" '
    'target="_blank"><img src="https://static.cnbetacdn.com/www/images/618.jpg" alt="京东618"></a></div>'
)


class CnBeta(FamilySite):
    name = "cnbeta"
    corpus_folder = "cnbeta"
    site_title = "cnBeta"
    listing_path = "/"
    _listing_re = re.compile(r"^/$")
    _article_re = re.compile(r"^/articles/[a-z]+/\d+\.htm$")

    def article_path(self, post: FamilyPost, index: int) -> str:
        return f"/articles/tech/{1216000 + int(post.post_id) % 99991}.htm"

    def print_date(self, local: datetime) -> str:
        return f"{local.year}年{local.month:02d}月{local.day:02d}日 {local.hour:02d}:{local.minute:02d}"

    def byline(self, post: FamilyPost) -> str | None:
        return "cnBeta.COM"

    @staticmethod
    def parts(body: str) -> tuple[str, str]:
        """(summary inner HTML, content inner HTML) of a corpus body."""
        pieces = _SPLIT.split(body, maxsplit=1)
        return (pieces[0], pieces[1]) if len(pieces) == 2 else ("", body)

    def served_body(self, post: FamilyPost) -> str:
        summary, content = self.parts(post.body)
        return (
            '<div class="article-summary"><div class="topic"><a href="/topics/9.htm">'
            '<img src="https://static.cnbetacdn.com/topics/linux.png" title="Linux"></a></div>'
            f"<p>{summary}</p></div>\n"
            f'<div class="article-content">{content}</div>\n' + _GLOBAL_AD
        )

    def summary(self, post: FamilyPost, body: str) -> str:
        from newsspider.replica.family import text_of

        return text_of(self.parts(post.body)[0])

    def render_listing(self, scenario: Scenario, number: int, base_url: str) -> str:
        items = "".join(
            '<div class="item">\n<div class="item-img"><a href="{href}" target="_blank">'
            '<img src="{thumb}"></a></div>\n<dl>\n'
            '<dt><a href="{href}" target="_blank">{title}</a></dt>\n'
            "<dd><p>{summary}</p></dd>\n</dl>\n"
            '<ul class="status"><li>发布于{published}</li><li class="comment">评论</li></ul>\n'
            "</div>\n".format(
                href=esc(entry.article.path + entry.suffix),
                thumb=esc(entry.article.images[0].url if entry.article.images else ""),
                title=esc(entry.article.title),
                summary=esc(entry.article.summary),
                published=esc(entry.article.published),
            )
            for entry in self.page_entries(scenario, number)
        )
        return (
            _HEAD.format(title="cnBeta.COM_中文业界资讯站")
            + '<div class="cnbeta-wrap clearfix">\n<div class="cnbeta-home-main">\n'
            + '<div class="items-area" data-type="all">\n' + items + "</div>\n"
            + '<div class="load-more" data-page="2">点击加载更多</div>\n'
            + "</div>\n" + self._side(scenario) + "</div>\n" + _FOOT
        )

    @staticmethod
    def _side(scenario: Scenario) -> str:
        hot = "".join(
            f'<li><a href="{esc(spec.path)}">{esc(spec.title)}</a></li>\n'
            for spec in scenario.listed_articles[:3]
        )
        return f'<div class="cnbeta-side"><div class="side-box"><h3>热门文章</h3><ol>\n{hot}</ol></div></div>\n'

    def render_article(self, scenario: Scenario, spec: ArticleSpec, page: int, base_url: str) -> str:
        return (
            _HEAD.format(title=f"{esc(spec.title)} - cnBeta.COM")
            + '<div class="cnbeta-wrap clearfix">\n<div class="cnbeta-article">\n'
            + '<header class="title">\n'
            + f"<h1>{esc(spec.title)}</h1>\n"
            + f'<div class="meta"><span>{esc(spec.published)}</span>'
            + f'<span class="source">稿源：<a href="https://www.cnbeta.com/" target="_blank"><span>{esc(spec.author or "")}</span></a></span></div>\n'
            + "</header>\n"
            + f'<div class="cnbeta-article-body">\n{spec.pages[page - 1]}\n</div>\n'
            + '<div class="article-tags"><a href="/tag/linux.htm">Linux</a></div>\n'
            + '<div class="article-share">分享到：<a href="javascript:;">微博</a></div>\n'
            + "</div>\n" + self._side(scenario) + "</div>\n" + _FOOT
        )
