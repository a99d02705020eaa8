"""The replica's ground truth: what each article is, as plain data.

A :class:`Scenario` is a site (URL scheme + markup), an ordered listing of
:class:`ListingEntry` and the :class:`ArticleSpec` behind each entry. Specs
carry everything a test needs to assert a crawl field by field (title, Beijing
time, author, pages, expected images, fault flags). Paths are site-relative
(``/medical/2022-08/ART-….html``) because the port is only known once a server
runs; ``spec.url(base_url)`` and ``spec.image_urls(base_url)`` make them
absolute.

Reads no settings, writes no stats.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    from newsspider.replica.sites import Site

__all__ = ["ArticleSpec", "ImageSpec", "ListingEntry", "Scenario"]

DEFAULT_CONTENT_TYPE = "text/html; charset=gb2312"


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """One body image: ``url`` is what a resolver must produce (site-relative when it
    starts with ``/``), ``src`` the ``src`` attribute as served, ``data_original`` the
    lazy-load attribute when there is one."""

    url: str
    src: str
    alt: str = ""
    data_original: str | None = None


@dataclass(frozen=True, slots=True)
class ArticleSpec:
    """Ground truth for one article as the replica serves it."""

    id: int
    path: str  # first page, site-relative
    title: str
    published: str  # as printed on the page: Beijing time, "YYYY-MM-DD HH:MM"
    published_at: datetime  # the same instant, aware UTC
    author: str | None  # the byline a correct extractor returns
    author_layout: str  # "source-name" | "laiyuan" | "laiyuan_mp" | "none"
    pages: tuple[str, ...]  # inner HTML of #articleC on each page, in order
    summary: str  # the listing abstract, as text
    channel: str = ""  # path prefix ("medical"), "" for www
    site_name: str = "OFweek"  # the channel site's name, e.g. "OFweek医疗网"
    title_layout: str = "p.title"  # "p.title" | "h1"
    keywords: tuple[str, ...] = ()
    image_mode: str = "plain"  # "plain" | "lazy" | "cors" | "local" | "mixed"
    images: tuple[ImageSpec, ...] = ()
    seo_links: int = 0
    corpus_id: str | None = None  # the post in data/ this body came from
    always_500: bool = False
    empty_body: bool = False
    duplicate_of: str | None = None  # path of the article this one republishes
    listed: bool = True  # False for sidebar-only decoys
    tracking_suffix: str | None = None  # set when a second listing link carries it
    author_href: str | None = None  # laiyuan_mp only
    fault: str | None = None  # "redirect_loop" | "oversized": added by a FaultPlan
    revision: int = 1

    @property
    def body_html(self) -> str:
        """All pages' bodies concatenated: what ``raw_body_html`` should hold."""
        return "".join(self.pages)

    @property
    def n_pages(self) -> int:
        return len(self.pages)

    @property
    def page_paths(self) -> tuple[str, ...]:
        stem = self.path.removesuffix(".html")
        return (self.path,) + tuple(f"{stem}_{n}.html" for n in range(2, len(self.pages) + 1))

    def url(self, base_url: str) -> str:
        return base_url.rstrip("/") + self.path

    def page_urls(self, base_url: str) -> list[str]:
        return [base_url.rstrip("/") + path for path in self.page_paths]

    def image_urls(self, base_url: str) -> list[str]:
        base = base_url.rstrip("/")
        return [
            base + image.url if image.url.startswith("/") else image.url for image in self.images
        ]


@dataclass(frozen=True, slots=True)
class ListingEntry:
    """One item on a listing page; ``suffix`` is appended to the article URL (tracking)."""

    article: ArticleSpec
    suffix: str = ""


class _Entries(Sequence[ListingEntry]):
    """Added articles first, then the scenario's own entries (which may be lazy)."""

    def __init__(self, added: list[ArticleSpec], base: Sequence[ListingEntry]) -> None:
        self._added = added
        self._base = base

    def __len__(self) -> int:
        return len(self._added) + len(self._base)

    @overload
    def __getitem__(self, index: int) -> ListingEntry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ListingEntry]: ...
    def __getitem__(self, index: int | slice) -> ListingEntry | Sequence[ListingEntry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        n_added = len(self._added)
        if index < n_added:
            # Newest first: the last article added tops the list.
            return ListingEntry(self._added[n_added - 1 - index])
        return self._base[index - n_added]


class Scenario:
    """A deterministic portal: site, listing entries, and the articles behind them.

    Subclasses (the generated scenario) override :meth:`_base_find` and pass lazy
    sequences so that 50,000 articles never sit in memory at once.
    """

    def __init__(
        self,
        name: str,
        site: Site,
        articles: Sequence[ArticleSpec],
        entries: Sequence[ListingEntry],
        *,
        per_page: int = 10,
        content_types: dict[str, str] | None = None,
        sidebar: Sequence[ArticleSpec] = (),
    ) -> None:
        self.name = name
        # Articles linked from sidebars and "related" lists, outside the listing.
        self.sidebar = list(sidebar)
        self.site = site
        self.per_page = per_page
        # Per page kind ("listing", "article", "error"); a value without
        # "charset=" makes the page rely on its <meta> declaration alone.
        self.content_types = {"listing": DEFAULT_CONTENT_TYPE, "article": DEFAULT_CONTENT_TYPE}
        self.content_types.update(content_types or {})
        self._articles = articles
        self._base_entries = entries
        self._added: list[ArticleSpec] = []
        self._edited: dict[str, ArticleSpec] = {}
        self._lock = threading.Lock()
        self.by_path: dict[str, ArticleSpec] = {}
        if not isinstance(articles, _LazyMarker):
            self.by_path = {spec.path: spec for spec in articles}

    @staticmethod
    def demo() -> Scenario:
        """The default OFweek scenario (see :mod:`newsspider.replica.scenarios`)."""
        from newsspider.replica.scenarios import demo_scenario

        return demo_scenario()

    @staticmethod
    def generated(n_articles: int, per_page: int = 20, seed: int = 0) -> Scenario:
        """``n_articles`` deterministic OFweek articles, built lazily per request."""
        from newsspider.replica.scenarios import generated_scenario

        return generated_scenario(n_articles, per_page=per_page, seed=seed)

    # --- ground truth -------------------------------------------------
    @property
    def articles(self) -> Sequence[ArticleSpec]:
        """Every article the site serves (listed or not), edits applied, added ones first."""
        return _Articles(self)

    @property
    def entries(self) -> Sequence[ListingEntry]:
        return _Entries(self._added, self._base_entries)

    @property
    def listed_articles(self) -> list[ArticleSpec]:
        """Distinct articles reachable from the listing, in listing order."""
        seen: set[str] = set()
        out: list[ArticleSpec] = []
        for entry in self.entries:
            if entry.article.path not in seen:
                seen.add(entry.article.path)
                out.append(self._current(entry.article))
        return out

    @property
    def decoys(self) -> list[ArticleSpec]:
        """Articles linked only from sidebars: a correct crawl never fetches them."""
        return [spec for spec in self.sidebar if not spec.listed]

    @property
    def n_listing_pages(self) -> int:
        return max(1, -(-len(self.entries) // self.per_page))

    def listing_page(self, number: int) -> list[ListingEntry]:
        """Entries of listing page ``number`` (1-based), edits applied."""
        start = (number - 1) * self.per_page
        chunk = self.entries[start : start + self.per_page]
        return [ListingEntry(self._current(entry.article), entry.suffix) for entry in chunk]

    def find(self, path_or_url: str) -> ArticleSpec | None:
        """The article whose first page is at this path (or URL; query and fragment ignored)."""
        path = _path_of(path_or_url)
        with self._lock:
            if path in self._edited:
                return self._edited[path]
            for spec in self._added:
                if spec.path == path:
                    return spec
        found = self._base_find(path)
        return found

    def find_by_id(self, article_id: int) -> ArticleSpec | None:
        for spec in self._added:
            if spec.id == article_id:
                return self._current(spec)
        return self._base_find_id(article_id)

    def _base_find(self, path: str) -> ArticleSpec | None:
        return self.by_path.get(path)

    def _base_find_id(self, article_id: int) -> ArticleSpec | None:
        for spec in self._articles:
            if spec.id == article_id:
                return self._current(spec)
        return None

    def _current(self, spec: ArticleSpec) -> ArticleSpec:
        return self._edited.get(spec.path, spec)

    # --- revisions ----------------------------------------------------
    def edit(self, path_or_url_or_id: str | int, body_html: str) -> ArticleSpec:
        """Replace an article's body (it becomes one page); returns the new spec."""
        spec = (
            self.find_by_id(path_or_url_or_id)
            if isinstance(path_or_url_or_id, int)
            else self.find(path_or_url_or_id)
        )
        if spec is None:
            raise KeyError(f"no article {path_or_url_or_id!r} in scenario {self.name!r}")
        images = self.site.images_of(body_html)
        new = replace(
            spec,
            pages=(body_html,),
            images=images,
            empty_body=not body_html.strip(),
            revision=spec.revision + 1,
        )
        with self._lock:
            if any(added.path == spec.path for added in self._added):
                self._added = [new if added.path == spec.path else added for added in self._added]
            else:
                self._edited[spec.path] = new
        return new

    def add(self, spec: ArticleSpec) -> ArticleSpec:
        """Put a new article at the top of the listing."""
        with self._lock:
            self._added.append(spec)
        return spec


class _LazyMarker:
    """Marks article sequences that must not be materialised (generated scenarios)."""


class _Articles(Sequence[ArticleSpec]):
    def __init__(self, scenario: Scenario) -> None:
        self._scenario = scenario

    def __len__(self) -> int:
        return len(self._scenario._added) + len(self._scenario._articles)

    def __iter__(self) -> Iterator[ArticleSpec]:
        for index in range(len(self)):
            yield self[index]

    @overload
    def __getitem__(self, index: int) -> ArticleSpec: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ArticleSpec]: ...
    def __getitem__(self, index: int | slice) -> ArticleSpec | Sequence[ArticleSpec]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        added = self._scenario._added
        if index < len(added):
            return added[len(added) - 1 - index]
        return self._scenario._current(self._scenario._articles[index - len(added)])


def _path_of(path_or_url: str) -> str:
    rest = path_or_url
    if "://" in rest:
        rest = rest.split("://", 1)[1]
        slash = rest.find("/")
        rest = rest[slash:] if slash >= 0 else "/"
    for mark in "#?":
        rest = rest.split(mark, 1)[0]
    return rest or "/"
