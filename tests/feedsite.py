"""A loopback news site with RSS, Atom and sitemaps, for the ``feed`` spider's tests.

Article bodies are real posts from ``tests/fixtures/feedsite/`` (copied from
``shared/corpus``), buried in the noise a real portal page carries: a top bar,
navigation, breadcrumbs, share buttons, tags, previous/next links, related
articles, reader comments, a hot-articles sidebar, adverts and a footer.  The
comments and sidebar quote *other* articles' real paragraphs, so an extractor
that keeps them is caught by the precision checks.

Documents served (``N`` = a post's index; see :data:`FEEDS` for which posts
each feed lists):

* ``/rss.xml`` RSS 2.0 with short descriptions (pages must be fetched);
  ``/rss-full.xml`` RSS 2.0 with the whole body in ``content:encoded``;
* ``/atom.xml`` Atom 1.0 with summaries;
* ``/sitemap.xml`` a sitemap index of ``/sitemap-1.xml`` (plain) and
  ``/sitemap-2.xml.gz`` (gzip); ``/news-sitemap.xml`` a Google news sitemap;
* ``/a/N.html`` the noisy article page; ``/js/N.html`` the same page whose
  body container is empty and filled by a script (odd N: from inline JSON;
  even N: from a ``fetch`` of ``/api/N.json``).

Reads no settings, writes no stats.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self

from lxml import html as lxml_html

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "feedsite"
SITE_TITLE = "环球科技速递"
BEIJING = timezone(timedelta(hours=8))

_FRONT = re.compile(r"\A\s*---\n(.*?)\n---\n", re.DOTALL)
_BLOCKS = frozenset(
    ["p", "div", "br", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "blockquote", "pre", "table", "tr", "figure", "figcaption", "section"]
)
_WS = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Post:
    index: int
    slug: str
    title: str
    date: datetime  # aware UTC
    body: str  # the portal's body HTML

    @property
    def local_date(self) -> str:
        return self.date.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _parse(index: int, path: Path) -> Post:
    text = path.read_text(encoding="utf-8")
    front = _FRONT.search(text)
    assert front, path
    fields = {}
    for line in front.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith(" ") and value.strip():
            fields[key.strip()] = _unquote(value)
    raw_date = fields["date"]
    if re.match(r"\d{4}-\d{2}-\d{2} ", raw_date):  # Dockone prints Beijing time
        date = datetime.strptime(raw_date, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    else:
        date = parsedate_to_datetime(raw_date)
    body = text[front.end():].strip()
    body = re.sub(r"\A<div>", "", body).strip()
    body = re.sub(r"</div>\s*\Z", "", body).strip()
    return Post(index, path.stem, fields["title"], date.astimezone(UTC), body)


@cache
def load_posts() -> tuple[Post, ...]:
    return tuple(_parse(i, p) for i, p in enumerate(sorted(FIXTURES.glob("*.md"))))


def body_paragraphs(body_html: str) -> list[str]:
    """The body's text, one entry per block, whitespace collapsed (scripts and SVG excluded)."""
    root = lxml_html.fragment_fromstring(body_html, create_parent="div")
    for bad in root.xpath(".//script|.//style|.//*[local-name()='svg']"):
        bad.drop_tree()
    parts: list[str] = []

    def walk(node: lxml_html.HtmlElement) -> None:
        if isinstance(node.tag, str) and node.tag in _BLOCKS:
            parts.append("\n")
        if node.text and isinstance(node.tag, str):
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if isinstance(node.tag, str) and node.tag in _BLOCKS:
            parts.append("\n")

    walk(root)
    lines = [_WS.sub(" ", line).strip() for line in "".join(parts).split("\n")]
    return [line for line in lines if line]


def squash(text: str) -> str:
    return _WS.sub("", html.unescape(text).replace("\xa0", " "))


def recall(truth_html: str, body_text: str) -> float:
    """Fraction of the true body's characters whose paragraph is found in ``body_text``.

    Whitespace is ignored on both sides, so paragraph boundaries may differ.
    """
    found = squash(body_text)
    paragraphs = [squash(p) for p in body_paragraphs(truth_html)]
    total = sum(len(p) for p in paragraphs)
    hit = sum(len(p) for p in paragraphs if p in found)
    return hit / total if total else 0.0


# -- pages -------------------------------------------------------------------

_NAV = "".join(
    f'<li><a href="/channel/{i}.html">{name}</a></li>'
    for i, name in enumerate(
        ["首页", "科技", "互联网", "手机", "电脑", "游戏", "汽车", "数码", "软件", "财经", "创业", "视频", "专题", "排行榜", "客户端"]
    )
)


def _others(post: Post, count: int) -> list[Post]:
    posts = load_posts()
    return [posts[(post.index + k) % len(posts)] for k in range(1, count + 1)]


def noise_paragraph(post: Post, k: int) -> str:
    """A real paragraph from another article, used as a reader comment."""
    other = _others(post, 8)[k % 8]
    paragraphs = [p for p in body_paragraphs(other.body) if len(p) > 30]
    text = paragraphs[min(k // 8, len(paragraphs) - 1)] if paragraphs else other.title
    return text[:140]


def comments_html(post: Post) -> str:
    items = "".join(
        f'<div class="comment-item"><div class="c-user"><a href="/u/{1000 + k}">网友{1000 + k}</a>'
        f'<span class="c-time">2022-0{k % 9 + 1}-1{k % 9} 1{k}:0{k}</span></div>'
        f'<p class="c-text">{html.escape(noise_paragraph(post, k))}</p>'
        f'<div class="c-act"><a href="#">回复</a> <a href="#">赞({k * 3 + 1})</a> '
        f'<a href="#">举报</a></div></div>'
        for k in range(6)
    )
    return (
        f'<div id="comments" class="comment-box"><h3>网友评论（6）</h3>'
        f'<form class="comment-form"><textarea placeholder="说点什么吧"></textarea>'
        f'<button>发表评论</button></form>{items}<a class="more" href="#">查看更多评论</a></div>'
    )


def article_page(post: Post, body_container: str, scripts: str = "") -> str:
    others = _others(post, 12)
    related = "".join(
        f'<li><a href="/a/{o.index}.html">{html.escape(o.title)}</a>'
        f'<span class="time">{o.local_date}</span></li>'
        for o in others[:5]
    )
    hot = "".join(
        f'<li><em>{n}</em><a href="/a/{o.index}.html">{html.escape(o.title)}</a></li>'
        for n, o in enumerate(others[5:], 1)
    )
    title = html.escape(post.title)
    iso = post.date.astimezone(BEIJING).isoformat()
    prev_post, next_post = others[0], others[1]
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{title}_{SITE_TITLE}</title>
<meta name="keywords" content="科技,互联网,{title}">
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="{SITE_TITLE}">
<meta property="article:published_time" content="{iso}">
<link rel="stylesheet" href="/static/site.css">
<style>.nav li{{float:left}} .sidebar{{width:300px}}</style>
<script>var _hmt=_hmt||[];(function(){{var hm=document.createElement("script");}})();</script>
</head>
<body>
<div class="topbar"><span>欢迎来到{SITE_TITLE}</span> <a href="/login">登录</a> | <a href="/reg">注册</a> | <a href="/m">手机版</a> | <a href="/app">下载客户端</a></div>
<div class="header"><a class="logo" href="/"><img src="/static/logo.png" alt="{SITE_TITLE}"></a>
<ul class="nav">{_NAV}</ul>
<form class="search" action="/search"><input name="q" placeholder="搜索感兴趣的内容"><button>搜索</button></form></div>
<div class="breadcrumb"><a href="/">首页</a> &gt; <a href="/channel/1.html">科技</a> &gt; <span>正文</span></div>
<div class="wrap">
<div class="main-left">
<div class="article">
<h1 class="article-title">{title}</h1>
<div class="article-meta"><span class="time">{post.local_date}</span> <span class="source">来源：{SITE_TITLE}</span> <span class="views">阅读 {1000 + post.index * 37}</span></div>
{body_container}
<div class="article-tags">标签：<a href="/tag/1">科技</a> <a href="/tag/2">互联网</a> <a href="/tag/3">热点</a></div>
<div class="share">分享到：<a href="#">微博</a> <a href="#">微信</a> <a href="#">QQ空间</a> <a href="#">复制链接</a></div>
<div class="prev-next"><p>上一篇：<a href="/a/{prev_post.index}.html">{html.escape(prev_post.title)}</a></p><p>下一篇：<a href="/a/{next_post.index}.html">{html.escape(next_post.title)}</a></p></div>
<div class="statement">声明：本文仅代表作者观点，不代表本站立场。如有侵权请联系删除。</div>
</div>
<div class="related"><h3>相关阅读</h3><ul>{related}</ul></div>
{comments_html(post)}
</div>
<div class="sidebar">
<div class="box hot"><h3>24小时热门</h3><ol>{hot}</ol></div>
<div class="box ad"><a href="/ad/1"><img src="/static/ad1.jpg" alt="广告"></a><span>广告</span></div>
<div class="box follow"><h3>关注我们</h3><p>扫描二维码关注{SITE_TITLE}官方微信，获取最新科技资讯。</p></div>
</div>
</div>
<div class="footer"><p><a href="/about">关于我们</a> | <a href="/contact">联系我们</a> | <a href="/jobs">加入我们</a> | <a href="/ads">广告服务</a> | <a href="/links">友情链接</a></p>
<p>Copyright © 2008-2022 {SITE_TITLE} All Rights Reserved. 京ICP备12345678号-1 京公网安备11010502030000号</p></div>
{scripts}
</body>
</html>"""


def static_page(post: Post) -> str:
    return article_page(post, f'<div class="article-content">\n{post.body}\n</div>')


def js_page(post: Post) -> str:
    container = '<div class="article-content" id="content"><p class="loading">加载中…</p></div>'
    if post.index % 2:
        data = json.dumps({"body": post.body}, ensure_ascii=False).replace("</", "<\\/")
        script = (
            f'<script type="application/json" id="article-data">{data}</script>\n'
            "<script>var d=JSON.parse(document.getElementById('article-data').textContent);"
            "document.getElementById('content').innerHTML=d.body;</script>"
        )
    else:
        script = (
            f"<script>fetch('/api/{post.index}.json').then(function(r){{return r.json();}})"
            ".then(function(d){setTimeout(function(){"
            "document.getElementById('content').innerHTML=d.body;},50);});</script>"
        )
    return article_page(post, container, script)


# -- feeds -------------------------------------------------------------------

# Which posts each feed lists (indexes into load_posts()).
FEEDS: dict[str, tuple[int, ...]] = {
    "rss": tuple(range(0, 30, 2)),
    "rss-full": tuple(range(1, 30, 3)),
    "atom": tuple(range(1, 30, 2)),
    "sitemap": tuple(range(30)),
    "news": tuple(range(0, 30, 3)),
}


def _abstract(post: Post) -> str:
    paragraphs = body_paragraphs(post.body)
    return (paragraphs[0] if paragraphs else post.title)[:60] + "…"


def rss(base: str, full: bool = False) -> str:
    posts = [load_posts()[i] for i in FEEDS["rss-full" if full else "rss"]]
    items = []
    for post in posts:
        content = f"<content:encoded><![CDATA[{post.body}]]></content:encoded>" if full else ""
        items.append(
            f"<item><title>{html.escape(post.title)}</title>"
            f"<link>{base}/a/{post.index}.html</link>"
            f'<guid isPermaLink="true">{base}/a/{post.index}.html</guid>'
            f"<pubDate>{format_datetime(post.date, usegmt=True)}</pubDate>"
            f"<description>{html.escape(_abstract(post))}</description>{content}</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{SITE_TITLE}</title><link>{base}/</link>"
        f"<description>最新科技资讯</description><language>zh-cn</language>"
        f"{''.join(items)}</channel></rss>"
    )


def atom(base: str) -> str:
    entries = "".join(
        f"<entry><title>{html.escape(p.title)}</title>"
        f'<link rel="alternate" type="text/html" href="{base}/a/{p.index}.html"/>'
        f"<id>tag:feedsite,2022:{p.index}</id>"
        f"<published>{p.date.isoformat()}</published><updated>{p.date.isoformat()}</updated>"
        f"<summary>{html.escape(_abstract(p))}</summary></entry>"
        for p in (load_posts()[i] for i in FEEDS["atom"])
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN">'
        f"<title>{SITE_TITLE} Atom</title><id>{base}/</id><updated>2022-08-01T00:00:00Z</updated>"
        f'<link rel="self" href="{base}/atom.xml"/>{entries}</feed>'
    )


def sitemap_index(base: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/sitemap-1.xml</loc><lastmod>2022-08-01</lastmod></sitemap>"
        f"<sitemap><loc>{base}/sitemap-2.xml.gz</loc><lastmod>2022-08-01</lastmod></sitemap>"
        "</sitemapindex>"
    )


def sitemap(base: str, part: int) -> str:
    posts = [p for p in load_posts() if p.index % 2 == part - 1]
    urls = "".join(
        f"<url><loc>{base}/a/{p.index}.html</loc>"
        f"<lastmod>{p.date.isoformat()}</lastmod><changefreq>never</changefreq></url>"
        for p in posts
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    )


def news_sitemap(base: str, prefix: str = "/a/") -> str:
    urls = "".join(
        f"<url><loc>{base}{prefix}{p.index}.html</loc><news:news><news:publication>"
        f"<news:name>{SITE_TITLE}</news:name><news:language>zh-cn</news:language>"
        f"</news:publication><news:publication_date>{p.date.isoformat()}"
        f"</news:publication_date><news:title>{html.escape(p.title)}</news:title>"
        "</news:news></url>"
        for p in (load_posts()[i] for i in FEEDS["news"])
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        f"{urls}</urlset>"
    )


# -- the server --------------------------------------------------------------

_ARTICLE = re.compile(r"^/(a|js)/(\d+)\.html$")
_API = re.compile(r"^/api/(\d+)\.json$")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        base = f"http://{self.headers.get('Host')}"
        path = self.path.split("?", 1)[0]
        posts = load_posts()
        self.server.hits.append(path)
        kind = "application/xml; charset=utf-8"
        if path == "/rss.xml":
            body = rss(base).encode()
            kind = "application/rss+xml; charset=utf-8"
        elif path == "/rss-full.xml":
            body = rss(base, full=True).encode()
        elif path == "/atom.xml":
            body = atom(base).encode()
            kind = "application/atom+xml; charset=utf-8"
        elif path == "/sitemap.xml":
            body = sitemap_index(base).encode()
        elif path == "/sitemap-1.xml":
            body = sitemap(base, 1).encode()
        elif path == "/sitemap-2.xml.gz":
            body = gzip.compress(sitemap(base, 2).encode())
            kind = "application/gzip"
        elif path == "/news-sitemap.xml":
            body = news_sitemap(base).encode()
        elif path == "/news-sitemap-js.xml":
            body = news_sitemap(base, "/js/").encode()
        elif (m := _ARTICLE.match(path)) and int(m.group(2)) < len(posts):
            post = posts[int(m.group(2))]
            body = (static_page(post) if m.group(1) == "a" else js_page(post)).encode()
            kind = "text/html; charset=utf-8"
        elif (m := _API.match(path)) and int(m.group(1)) < len(posts):
            body = json.dumps({"body": posts[int(m.group(1))].body}).encode()
            kind = "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hits: list[str]


class FeedSite:
    """``with FeedSite() as site: site.url("/rss.xml")`` — served on 127.0.0.1, any free port."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.hits = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def hits(self) -> list[str]:
        return self._server.hits

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


if __name__ == "__main__":
    import time

    with FeedSite() as site:
        print(site.url("/rss.xml"), flush=True)
        while True:
            time.sleep(3600)
