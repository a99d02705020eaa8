"""The OFweek scenarios: ``demo`` (hand-placed quirks over the real posts) and
``generated`` (any number of deterministic variations, built lazily).

``demo`` — 27 listed articles + 1 tracking-param repeat = 28 listing entries,
10 per page, so 3 listing pages (10, 10, 8):

* the seed post (2022-08-31 15:58, OFweek医疗网, original image URLs) on top;
* the 24 real posts with their real bodies, Beijing times from their GMT dates;
* three multi-page articles (34131022336 over 3 pages, 34559744658 and
  34649433391 over 2), split between top-level paragraphs;
* all three source layouts, and both title layouts (``p.title``, ``h1``);
* images plain, lazy (``data-original``), CORS-wrapped, replica-hosted
  (``/Upload/…``) and mixed;
* the republished pair 34260173494 / 34893407152 (``duplicate_of``);
* 34945928795 listed a second time with ``?utm_source=rss&utm_medium=feed#comments``;
* one article answering 500 every time, one with an empty ``#articleC``;
* three sidebar-only decoys (``Scenario.decoys``) that a crawl must not fetch.

Reads no settings, writes no stats.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import overload

from newsspider.replica.corpus import (
    BEIJING,
    Post,
    abstract_of,
    apply_image_mode,
    beijing_text,
    load_posts,
    load_seed,
    plain_body,
    split_blocks,
    split_pages,
    text_of,
)
from newsspider.replica.model import ArticleSpec, ListingEntry, Scenario, _LazyMarker
from newsspider.replica.sites.ofweek import CHANNELS, OFweek

__all__ = ["TRACKING_SUFFIX", "demo_scenario", "generated_scenario"]

TRACKING_SUFFIX = "?utm_source=rss&utm_medium=feed#comments"
_SEO_TITLE = re.compile(r'<span class="hrefStyle"><a [^>]*?title="([^"]*)"')
_CHANNEL_WORD = {
    "": "科技",
    "medical": "医疗",
    "solar": "光伏",
    "lighting": "照明",
    "iot": "物联网",
    "ee": "电子",
    "tele": "通信",
    "display": "显示",
    "auto": "汽车",
    "smarthome": "智能家居",
    "cloud": "云计算",
    "ess": "储能",
}


# post id -> (channel, layout, author, image mode, title layout, pages, ofweek id, mp member)
_DEMO: dict[str, tuple[str, str, str, str, str, int, int, str | None]] = {
    "34111454986": ("solar", "laiyuan", "能环宝", "plain", "p.title", 1, 30489511, None),
    "34131022336": (
        "lighting",
        "source-name",
        "OFweek半导体照明网",
        "plain",
        "p.title",
        3,
        30489373,
        None,
    ),
    "34146153083": ("iot", "laiyuan", "OFweek物联网", "plain", "h1", 1, 30489402, None),
    "34180117851": ("ee", "laiyuan_mp", "爱拆机", "cors", "p.title", 1, 30489245, "member14891"),
    "34260173494": ("tele", "source-name", "OFweek通信网", "plain", "p.title", 1, 30489358, None),
    "34326234992": (
        "auto",
        "source-name",
        "OFweek智能汽车网",
        "plain",
        "p.title",
        1,
        30489330,
        None,
    ),
    "34459372236": (
        "display",
        "source-name",
        "OFweek显示网",
        "local",
        "p.title",
        1,
        30489476,
        None,
    ),
    "34479622275": ("display", "laiyuan", "IT之家", "plain", "p.title", 1, 30489310, None),
    "34541246476": ("auto", "source-name", "OFweek智能汽车网", "plain", "h1", 1, 30489303, None),
    "34559744658": (
        "ess",
        "laiyuan_mp",
        "能源研究俱乐部",
        "lazy",
        "p.title",
        2,
        30489315,
        "member15587",
    ),
    "34582788641": ("cloud", "laiyuan_mp", "邻章", "plain", "p.title", 1, 30489598, "member30218"),
    "34593639755": ("ess", "source-name", "OFweek储能网", "cors", "p.title", 1, 30489509, None),
    "34594795305": (
        "ee",
        "laiyuan_mp",
        "电力新观察",
        "plain",
        "p.title",
        1,
        30489556,
        "member41332",
    ),
    "34629852745": ("display", "laiyuan", "OFweek显示网", "plain", "p.title", 1, 30489557, None),
    "34649433391": (
        "auto",
        "source-name",
        "OFweek智能汽车网",
        "lazy",
        "p.title",
        2,
        30489261,
        None,
    ),
    "34709449637": ("auto", "laiyuan", "盖世汽车", "plain", "p.title", 1, 30489300, None),
    "34818717348": ("iot", "source-name", "OFweek物联网", "lazy", "p.title", 1, 30489590, None),
    "34844450968": ("tele", "laiyuan", "OFweek通信网", "plain", "p.title", 1, 30489548, None),
    "34854582043": (
        "ee",
        "laiyuan_mp",
        "数码评测室",
        "mixed",
        "p.title",
        1,
        30489599,
        "member18920",
    ),
    "34874339751": ("", "laiyuan", "IT之家", "plain", "p.title", 1, 30489305, None),
    "34893407152": ("tele", "source-name", "OFweek通信网", "plain", "p.title", 1, 30489232, None),
    "34945928795": ("tele", "source-name", "OFweek通信网", "plain", "h1", 1, 30489507, None),
    "34961802301": (
        "smarthome",
        "laiyuan_mp",
        "科技向令说",
        "plain",
        "p.title",
        1,
        30489606,
        "member2493",
    ),
    "34985563183": (
        "smarthome",
        "source-name",
        "OFweek智能家居网",
        "cors",
        "p.title",
        1,
        30489341,
        None,
    ),
}
_REPUBLISHED = ("34260173494", "34893407152")  # (republication, original)
_LISTED_TWICE = "34945928795"
_SITE = OFweek()


def _keywords(body: str, channel: str) -> tuple[str, ...]:
    words = list(dict.fromkeys(_SEO_TITLE.findall(body)))[:3]
    return tuple(words) or (_CHANNEL_WORD[channel],)


def _spec(
    *,
    article_id: int,
    title: str,
    published_at: datetime,
    channel: str,
    layout: str,
    author: str,
    body: str,
    image_mode: str = "plain",
    title_layout: str = "p.title",
    n_pages: int = 1,
    member: str | None = None,
    corpus_id: str | None = None,
    **flags: object,
) -> ArticleSpec:
    """One article from a plain body: image mode applied, then split into pages."""
    published = beijing_text(published_at)
    served = apply_image_mode(body, image_mode)
    pages = tuple(split_pages(served, n_pages))
    return ArticleSpec(
        id=article_id,
        path=_SITE.article_path(article_id, published, channel),
        title=title,
        published=published,
        published_at=published_at.astimezone(UTC),
        author=author,
        author_layout=layout,
        pages=pages,
        summary=str(flags.pop("summary", None) or abstract_of(served)),
        channel=channel,
        site_name=CHANNELS[channel][0],
        title_layout=title_layout,
        keywords=_keywords(body, channel),
        image_mode=image_mode,
        images=_SITE.images_of(served),
        seo_links=served.count('class="hrefStyle"'),
        corpus_id=corpus_id,
        author_href=f"https://mp.ofweek.com/{member}" if member else None,
        **flags,  # type: ignore[arg-type]
    )


def _from_post(
    post: Post, row: tuple[str, str, str, str, str, int, int, str | None], **flags: object
) -> ArticleSpec:
    channel, layout, author, image_mode, title_layout, n_pages, article_id, member = row
    return _spec(
        article_id=article_id,
        title=post.title,
        published_at=post.date,
        channel=channel,
        layout=layout,
        author=author,
        body=plain_body(post.body),
        image_mode=image_mode,
        title_layout=title_layout,
        n_pages=n_pages,
        member=member,
        corpus_id=post.post_id,
        **flags,
    )


def _beijing(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=BEIJING)


def demo_scenario() -> Scenario:
    """The default scenario; see the module docstring for what it holds."""
    posts = {post.post_id: post for post in load_posts()}
    seed = load_seed()
    specs: dict[str, ArticleSpec] = {}
    original = _from_post(posts[_REPUBLISHED[1]], _DEMO[_REPUBLISHED[1]])
    for post_id, row in _DEMO.items():
        flags: dict[str, object] = {}
        if post_id == _REPUBLISHED[0]:
            flags["duplicate_of"] = original.path
        if post_id == _LISTED_TWICE:
            flags["tracking_suffix"] = TRACKING_SUFFIX
        specs[post_id] = (
            original if post_id == _REPUBLISHED[1] else _from_post(posts[post_id], row, **flags)
        )
    specs["seed"] = _spec(
        article_id=30571234,
        title=seed.title,
        published_at=seed.date,
        channel="medical",
        layout="source-name",
        author="OFweek医疗网",
        body=plain_body(seed.body),
        corpus_id="seed",
    )
    specs["always_500"] = _spec(
        article_id=30489420,
        title="2021年全球半导体设备市场规模将再创新高",
        published_at=_beijing("2021-03-22 12:30"),
        channel="ee",
        layout="source-name",
        author="OFweek电子工程网",
        body='<p style="text-indent: 2em; text-align: left;">这篇文章的服务器永远返回 500。</p>',
        always_500=True,
        summary="据国际半导体产业协会预测，2021年全球半导体设备市场规模将再创新高...",
    )
    specs["empty_body"] = _spec(
        article_id=30489280,
        title="OFweek 2021（第六届）物联网产业大会即将召开",
        published_at=_beijing("2021-03-22 09:50"),
        channel="iot",
        layout="source-name",
        author="OFweek物联网",
        body="",
        empty_body=True,
        summary="OFweek 2021（第六届）物联网产业大会将于4月在深圳召开。",
    )
    listed = sorted(specs.values(), key=lambda spec: (spec.published_at, spec.id), reverse=True)
    entries = [ListingEntry(spec) for spec in listed]
    # The repeat sits on page 3, far from the first link, as feeds re-push old items.
    entries.insert(23, ListingEntry(specs[_LISTED_TWICE], TRACKING_SUFFIX))
    decoys = _decoys(list(posts.values()))
    return Scenario("demo", _SITE, [*listed, *decoys], entries, per_page=10, sidebar=decoys)


def _decoys(posts: list[Post]) -> list[ArticleSpec]:
    titles = ("热点回顾：光伏行业一周要闻", "维科号精选：智能家居十大趋势", "专题：5G消息商用元年")
    decoys = []
    for number, title in enumerate(titles):
        blocks = [
            block
            for post in posts[number::3]
            for block in split_blocks(plain_body(post.body))[-2:]
            if "<img" not in block and text_of(block)
        ]
        decoys.append(
            _spec(
                article_id=30480001 + number,
                title=title,
                published_at=_beijing(f"2021-03-2{number} 09:0{number}"),
                channel="",
                layout="source-name",
                author="OFweek维科网",
                body="".join(blocks[:6]),
                listed=False,
            )
        )
    return decoys


# --- generated ------------------------------------------------------------

_GEN_BASE_ID = 31_000_000
_GEN_START = _beijing("2021-03-22 16:00")
_GEN_CHANNELS = ("", "medical", "solar", "iot", "ee", "tele", "auto", "smarthome")
_GEN_PREFIXES = ("", "快讯｜", "深度｜", "观察：", "解读：", "独家：", "周报：", "盘点：")
_GEN_MP = ("科技向令说", "邻章", "能源研究俱乐部", "数码评测室", "电力新观察", "爱拆机")
_LAYOUTS = ("source-name", "laiyuan", "laiyuan_mp")
_MODES = ("plain", "lazy", "cors")


@lru_cache(maxsize=1)
def _paragraph_pool() -> tuple[tuple[str, ...], tuple[Post, ...]]:
    posts = load_posts()
    pool = tuple(
        block
        for post in posts
        for block in split_blocks(plain_body(post.body))
        if text_of(block) or "<img" in block
    )
    return pool, posts


class _Generated(Sequence[ArticleSpec], _LazyMarker):
    """Article ``i`` of a generated scenario, rebuilt on demand from the corpus."""

    def __init__(self, n_articles: int, seed: int) -> None:
        self._n = n_articles
        self._seed = seed
        self._build = lru_cache(maxsize=2048)(self._make)

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> ArticleSpec: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ArticleSpec]: ...
    def __getitem__(self, index: int | slice) -> ArticleSpec | Sequence[ArticleSpec]:
        if isinstance(index, slice):
            return [self._build(i) for i in range(*index.indices(self._n))]
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError(index)
        return self._build(index)

    def _make(self, index: int) -> ArticleSpec:
        pool, posts = _paragraph_pool()
        rng = random.Random(self._seed * 1_000_003 + index)
        post = posts[index % len(posts)]
        blocks = rng.sample(pool, rng.randint(4, 9))
        channel = _GEN_CHANNELS[index % len(_GEN_CHANNELS)]
        layout = _LAYOUTS[(index // 3) % 3]
        if layout == "source-name":
            author = CHANNELS[channel][0]
        elif layout == "laiyuan":
            author = ("IT之家", "盖世汽车", CHANNELS[channel][0])[index % 3]
        else:
            author = _GEN_MP[index % len(_GEN_MP)]
        return _spec(
            article_id=_GEN_BASE_ID + index,
            title=_GEN_PREFIXES[(index // len(posts)) % len(_GEN_PREFIXES)] + post.title,
            published_at=_GEN_START - timedelta(minutes=3 * index),
            channel=channel,
            layout=layout,
            author=author,
            body="".join(blocks),
            image_mode=_MODES[index % 3],
            title_layout="h1" if index % 7 == 0 else "p.title",
            n_pages=2 if index % 10 == 3 else 1,
            member=f"member{10000 + index % 997}" if layout == "laiyuan_mp" else None,
            corpus_id=post.post_id,
        )


class _GeneratedEntries(Sequence[ListingEntry]):
    def __init__(self, articles: _Generated) -> None:
        self._articles = articles

    def __len__(self) -> int:
        return len(self._articles)

    @overload
    def __getitem__(self, index: int) -> ListingEntry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ListingEntry]: ...
    def __getitem__(self, index: int | slice) -> ListingEntry | Sequence[ListingEntry]:
        if isinstance(index, slice):
            return [ListingEntry(self._articles[i]) for i in range(*index.indices(len(self)))]
        return ListingEntry(self._articles[index])


class GeneratedScenario(Scenario):
    """``n_articles`` distinct articles, newest first, 3 minutes apart; nothing precomputed."""

    def __init__(self, n_articles: int, per_page: int = 20, seed: int = 0) -> None:
        articles = _Generated(n_articles, seed)
        super().__init__(
            f"generated-{n_articles}",
            _SITE,
            articles,
            _GeneratedEntries(articles),
            per_page=per_page,
        )
        self._generated = articles

    def _base_find(self, path: str) -> ArticleSpec | None:
        article_id = _SITE.article_id_of(path)
        if article_id is None:
            return None
        spec = self._base_find_id(article_id)
        return spec if spec is not None and spec.path == path else None

    def _base_find_id(self, article_id: int) -> ArticleSpec | None:
        index = article_id - _GEN_BASE_ID
        if 0 <= index < len(self._generated):
            return self._current(self._generated[index])
        return None

    def index_url(self, index: int, base_url: str) -> str:
        """URL of generated article ``index`` (0 is the newest)."""
        return self._generated[index].url(base_url)


def generated_scenario(n_articles: int, per_page: int = 20, seed: int = 0) -> GeneratedScenario:
    return GeneratedScenario(n_articles, per_page=per_page, seed=seed)


def new_article(
    title: str,
    body_html: str,
    *,
    article_id: int,
    author: str = "OFweek维科网",
    layout: str = "source-name",
    channel: str = "",
    published_at: datetime | None = None,
) -> ArticleSpec:
    """An article added at run time (revisions tests): newest by default."""
    return _spec(
        article_id=article_id,
        title=title,
        published_at=published_at or datetime.now(UTC).replace(second=0, microsecond=0),
        channel=channel,
        layout=layout,
        author=author,
        body=body_html,
    )
