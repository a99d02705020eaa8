"""The one spider class every declared portal runs on.

Spiders navigate; extraction is pure (``newsspider.extract``).  A portal spider
walks the listing pages, asks the store which listed articles it already has
(one batched ``_id`` query per listing page), requests the rest and the stored
ones due for a revisit (see "Revisits" below), chains the
pages of multi-page articles as Scrapy requests, and yields one item dict per
article (see ``newsspider.models.Article`` for its fields).

Spider arguments (CONTRACT §2): ``start_url``, ``max_pages``, ``since``,
``render=js``, ``full=1``, ``pages=FROM-TO``.

Archive backfill (``-a pages=FROM-TO``): listing pages FROM to TO are
requested at once, by the portal's page pattern (``listing.page_url``), instead
of walking from page 1 — in a shared crawl the workers fetch them in parallel.
Each page's articles are requested (stored ones skipped unless ``full=1``,
never revisited: old articles in an archive seldom change, and a backfill run
again over the same pages would otherwise fetch every one it just stored);
no next links are followed and there is no early stop at known pages.  A
portal without a page pattern cannot backfill: the argument is refused
(``SpiderArgumentError``, exit 2).

Stats: ``newsspider/spider/listing_pages``, ``…/articles_listed``,
``…/articles_known`` (skipped: already stored and not due for a revisit, or the
URL of a merged duplicate), ``…/articles_revisited`` (stored, due, requested
again), ``…/articles_requested`` (new and revisited), ``…/known_ids_unavailable``,
``…/older_than_since``, ``…/pagination_stopped/<reason>``,
``…/article_pages``, ``…/fetch_failed``, ``…/fetch_failed/<reason>``,
``…/resumed`` (this run resumes one that did not finish),
``…/dates_out_of_range`` (a listed or printed date outside 1970 … now + 2 days,
treated as missing: see newsspider.dates), ``…/pages_cut_short`` (a page
nested deeper than libxml2 parses: a listing page counts as a listing
failure, an article is rejected; see newsspider.htmldepth), ``…/backfill_pages``
(listing pages requested by ``pages=FROM-TO``); per article, how
each of title, published_at, author and body_html was found:
``newsspider/extract/articles``, ``newsspider/extract/selectors/<field>/<i>``
(the i-th declared selector found it), ``newsspider/extract/fallback/<field>``
(automatic extraction did, see ``newsspider.extract.heal``),
``newsspider/extract/missing/<field>`` (nothing did).

Revisits (setting ``NEWSSPIDER_REVISIT_HOURS``, default 48; 0 = never): a
stored article first seen less than that long ago is requested again when it
is *due* — on the next run after it was stored, then at growing intervals
(newsspider.revisit) — so an incremental crawl sees its revisions (the store
gives a changed article revision + 1 and a new ``updated_at``; an unchanged
one keeps both).  The lookup is the same one ``_id`` query per listing page,
returning each stored article's ``first_seen_at`` and ``last_crawled_at``.
A listing page holding a due article is not "all known": pagination goes on.
The URL of a duplicate merged into another article is never revisited, nor
is anything in an archive backfill (``pages=FROM-TO``) or in a run that
resumes an interrupted one (it completes that crawl; revisits wait for the
next run).  ``full=1`` requests every listed article, as before.

Crash recovery: a portal spider keeps one ``crawl_state`` document per portal
and start URL(s) — ``{_id, portal, start_urls, state, started_at,
finished_at, finish_reason, listing_failures}``.  It is set to ``running`` at
start and to ``complete`` only when the crawl finished normally with every
listing page fetched.  When the previous run left it anything else (killed,
stopped by a signal, a listing page lost), this run resumes: it does not
stop paginating at a listing page whose articles are all stored, so the
articles on later pages that the interrupted run never reached are fetched
(stored ones are still skipped).  Setting: ``NEWSSPIDER_RESUME_ENABLED``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import urlsplit

import scrapy
from pymongo.errors import PyMongoError
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError, IgnoreRequest
from scrapy.http import Request, Response
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.asyncio import run_in_thread
from twisted.python.failure import Failure

from newsspider.dates import EARLIEST, horizon, local_to_utc
from newsspider.extract import decode_html, parse_listing
from newsspider.extract.heal import HEALED_FIELDS, parse_with_fallback
from newsspider.extract.listing import ListingItem, page_url
from newsspider.htmldepth import TOO_DEEP
from newsspider.portals.base import Portal
from newsspider.revisit import is_due, window_of
from newsspider.runtime import configure_crawler
from newsspider.urls import canonicalize

logger = logging.getLogger(__name__)

MAX_ARTICLE_PAGES = 50
# Articles before the next listing page, and a started article's next page
# before new articles: the scheduler then holds about one listing page of
# requests instead of every article of the whole list (flat memory on long lists).
ARTICLE_PRIORITY = 10
ARTICLE_PAGE_PRIORITY = 20
# One document per portal and start URL(s): how its last crawl ended (see the module docstring).
CRAWL_STATE = "crawl_state"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


class SpiderArgumentError(ValueError):
    """A ``-a name=value`` spider argument is invalid; the message says which and why."""


def _parse_since(value: str | None) -> date | None:
    if value in (None, ""):
        return None
    try:
        day = date.fromisoformat(str(value))
    except ValueError as exc:
        raise SpiderArgumentError(f"-a since must be YYYY-MM-DD, got {value!r}") from exc
    # The dates a crawl believes (newsspider.dates): anything else filters nothing or everything.
    if not EARLIEST.date() <= day <= horizon().date():
        raise SpiderArgumentError(
            f"-a since must be a day from {EARLIEST.date()} to today, got {value!r}")
    return day


def since_to_utc(day: date | None, tz: tzinfo) -> datetime | None:
    """Midnight of ``day`` in the portal's time zone, as UTC."""
    if day is None:
        return None
    return local_to_utc(datetime.combine(day, time.min), tz)


def parse_start_url(value: str) -> tuple[str, str]:
    """``-a start_url``: an absolute http(s) URL with a host and a valid port; ``(scheme, host)``."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of 0-65535
    except ValueError as exc:  # "http://[::1" (an unclosed IPv6 host), "http://h:99999/"
        raise SpiderArgumentError(f"-a start_url is not a valid URL ({exc}): {value!r}") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise SpiderArgumentError(f"-a start_url must be an absolute http(s) URL, got {value!r}")
    return parts.scheme, host


def parse_positive_int(name: str, value: object) -> int | None:
    """``-a name=N`` as a whole number ≥ 1; ``None`` when not given."""
    if value in (None, ""):
        return None
    try:
        number = int(str(value))
    except ValueError as exc:
        raise SpiderArgumentError(f"-a {name} must be a whole number, got {value!r}") from exc
    if number < 1:
        raise SpiderArgumentError(f"-a {name} must be at least 1, got {number}")
    return number


_PAGES = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")


def _parse_pages(value: object) -> tuple[int, int] | None:
    """``-a pages=FROM-TO`` (1-based, inclusive; ``N`` = ``N-N``); ``None`` when not given."""
    if value in (None, ""):
        return None
    match = _PAGES.fullmatch(str(value))
    if match is None:
        raise SpiderArgumentError(f"-a pages must be FROM-TO, e.g. pages=1-500, got {value!r}")
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if first < 1:
        raise SpiderArgumentError(f"-a pages: listing pages are numbered from 1, got {value!r}")
    if last < first:
        raise SpiderArgumentError(f"-a pages: {last} comes before {first}, got {value!r}")
    return first, last


def _parse_max_pages(value: object, default: int) -> int:
    pages = parse_positive_int("max_pages", value)
    return default if pages is None else pages


def _parse_flag(name: str, value: object) -> bool:
    text = str(value).strip().lower() if value is not None else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SpiderArgumentError(f"-a {name} must be 1 or 0, got {value!r}")


def _parse_render(value: object) -> bool:
    if value in (None, "", "html", "none"):
        return False
    if value == "js":
        return True
    raise SpiderArgumentError(f"-a render must be 'js' (or omitted), got {value!r}")


def _page_text(response: Response, fallback: str | None) -> str:
    content_type = response.headers.get("Content-Type") or b""
    text, _ = decode_html(response.body, content_type.decode("latin-1"), fallback)
    return text


def failed_request(failure: Failure) -> Request:
    """The request an errback's failure is about (Scrapy sets ``failure.request``)."""
    request = getattr(failure, "request", None)
    if not isinstance(request, Request):
        raise TypeError(f"errback called without failure.request: {failure!r}")
    return request


class NewsSpider(scrapy.Spider):
    """What every newsspider spider shares: browser/Redis wiring, stats, requests, store lookups.

    Subclasses set ``render_js`` in ``__init__`` (from ``-a render=js``).
    """

    render_js: bool = False
    _store: Any = None

    @classmethod
    def check_arguments(cls, settings: BaseSettings, **kwargs: Any) -> None:
        """Fail before the crawl starts, with a message instead of a traceback.

        Raises :class:`SpiderArgumentError` for a bad ``-a`` argument and
        ``RenderUnavailableError`` when ``render=js`` cannot run here.  Called by
        ``scrapy crawl`` (``newsspider.commands.crawl``) and ``newsspider crawl``.
        """
        spider = cls(**kwargs)
        if spider.render_js:
            from newsspider.runtime import require_browser

            require_browser(settings)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Any:
        spider = super().from_crawler(crawler, *args, **kwargs)
        # Settings are still open here: switch on the browser or Redis when asked.
        configure_crawler(crawler, render_js=spider.render_js)
        if spider.uses_store():
            # The embedded server takes ~0.35 s to boot: spawn it now, while
            # Scrapy builds the extensions, middlewares and pipelines, rather
            # than when the first of those asks for the store.
            spider._store_for_lookup()
        return spider

    def uses_store(self) -> bool:
        """Whether the spider itself reads the store (incremental crawls look up stored URLs)."""
        return not getattr(self, "full", False)

    def _stat(self, key: str, count: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newsspider/spider/{key}", count)

    def _request(self, url: str, callback: Any, **kwargs: Any) -> scrapy.Request:
        meta = kwargs.pop("meta", {})
        if self.render_js:
            from newsspider.runtime import playwright_meta

            meta.update(playwright_meta(self.crawler.settings))
        return scrapy.Request(url, callback=callback, meta=meta, **kwargs)

    def _store_for_lookup(self) -> Any:
        if self._store is None:
            from newsspider.store.store import Store

            self._store = Store.for_crawler(self.crawler)
        return self._store

    def _failure_reason(self, failure: Failure) -> tuple[str, str]:
        """``(stats key, reject message)`` for a fetch that failed after Scrapy's retries."""
        if failure.check(HttpError):
            status = failure.value.response.status
            return f"http_{status}", f"HTTP {status}"
        name = failure.type.__name__ if failure.type else "error"
        message = failure.getErrorMessage()
        # Name the limit a user can change rather than Scrapy's internal exception.
        if failure.check(DownloadCancelledError) and ("max size" in message or not message):
            # Announced too large (a message), or cut off while streaming past the limit
            # (Scrapy cancels the transfer: no message at all).
            limit = self.crawler.settings.getint("DOWNLOAD_MAXSIZE")
            why = message or "the download was stopped once it passed the limit"
            return "too_large", f"page larger than DOWNLOAD_MAXSIZE ({limit} bytes): {why}"
        if failure.check(DownloadTimeoutError, TimeoutError):
            seconds = self.crawler.settings.getfloat("DOWNLOAD_TIMEOUT")
            return "timeout", f"no answer within DOWNLOAD_TIMEOUT ({seconds:g} s), every retry"
        if failure.check(IgnoreRequest) and message.startswith("redirect loop"):
            return "redirect_loop", message
        if failure.check(IgnoreRequest) and "max redirections" in message:
            limit = self.crawler.settings.getint("REDIRECT_MAX_TIMES")
            return "too_many_redirects", f"more than REDIRECT_MAX_TIMES ({limit}) redirects"
        return name, f"{name}: {message}"


class PortalSpider(NewsSpider):
    """Crawl one :class:`~newsspider.portals.base.Portal`; subclasses set ``portal``."""

    portal: Portal

    def __init__(
        self,
        start_url: str | None = None,
        max_pages: str | int | None = None,
        since: str | None = None,
        render: str | None = None,
        full: str | None = None,
        pages: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        portal = self.portal
        self.max_pages = _parse_max_pages(max_pages, portal.max_pages)
        #: ``(first, last)`` listing pages of an archive backfill, or None.
        self.pages = _parse_pages(pages)
        if self.pages is not None:
            if portal.listing.page_url is None:
                raise SpiderArgumentError(
                    f"-a pages: portal {portal.name} declares no listing page pattern "
                    "(listing.page_url), so its archive pages cannot be requested directly; "
                    "walk it from page 1 with -a max_pages instead"
                )
            if max_pages not in (None, ""):
                raise SpiderArgumentError(
                    "-a pages and -a max_pages do not combine: pages=FROM-TO names the "
                    "listing pages to fetch"
                )
        self.since = _parse_since(since)
        self.since_utc = since_to_utc(self.since, portal.tz)
        self.render_js = _parse_render(render) or portal.render_js
        self.full = _parse_flag("full", full)
        self.canonical_rules = portal.canonical
        if start_url:
            scheme, host = parse_start_url(start_url)
            self.start_urls = [start_url]
            # The spider follows links on the start URL's host only.
            self.allowed_domains = [host]
            self.canonical_rules = replace(
                portal.canonical,
                domains=(host,),
                scheme=scheme,
                host_aliases=(),
            )
        else:
            self.start_urls = list(portal.start_urls)
            self.allowed_domains = list(portal.allowed_domains)
        self._store: Any = None
        #: The previous run did not finish: paginate past listing pages already stored.
        self.resuming = False
        self._listing_failures = 0
        self._checkpoint: dict[str, Any] | None = None
        #: How long after first seen a stored article may be due again (None: never; from_crawler).
        self.revisit_window: timedelta | None = None
        self._revisited: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Any:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._callback_error, signal=signals.spider_error)
        if spider.pages is None:  # a backfill fetches what is missing from the archive, no revisits
            spider.revisit_window = window_of(crawler.settings.getfloat("NEWSSPIDER_REVISIT_HOURS", 48.0))
        return spider

    def _callback_error(self, failure: Failure, response: Response, spider: scrapy.Spider) -> None:
        """A listing callback that raised lost the rest of its page: the next run resumes."""
        request = getattr(response, "request", None)
        if request is not None and "page_no" in (request.cb_kwargs or {}):
            self._listing_failures += 1

    # -- crash recovery ------------------------------------------------------

    def uses_store(self) -> bool:
        return super().uses_store() or self.crawler.settings.getbool("NEWSSPIDER_RESUME_ENABLED", True)

    async def _begin_checkpoint(self) -> None:
        """Learn how the previous run ended (resume if it did not finish); mark this one running."""
        if not self.crawler.settings.getbool("NEWSSPIDER_RESUME_ENABLED", True):
            return
        store = self._store_for_lookup()
        # A counted user: the store stays open until closed() has recorded the outcome.
        # (A crawl with the store pipelines has closed already when the store is not there.)
        await store.aopen_for_crawl()
        key = f"{self.name} {' '.join(self.start_urls)}"
        if self.pages is not None:
            # A backfill is not the regular crawl: its outcome must not decide whether that resumes.
            key += " pages={}-{}".format(*self.pages)
        self._checkpoint = {"_id": key}
        states = store.db[CRAWL_STATE]
        try:
            previous = await run_in_thread(states.find_one, {"_id": key})
            await run_in_thread(
                states.replace_one,
                {"_id": key},
                {
                    "_id": key,
                    "portal": self.name,
                    "start_urls": list(self.start_urls),
                    "state": "running",
                    "started_at": datetime.now(UTC),
                    "finished_at": None,
                    "finish_reason": None,
                    "listing_failures": 0,
                },
                upsert=True,
            )
        except PyMongoError as exc:
            # Unknown past: resuming costs listing pages only, stopping early could lose articles.
            previous = {"state": "unknown"}
            logger.warning("crawl state unreadable (%s); walking every listing page", exc)
        if previous is not None and previous.get("state") != "complete" and not self.full:
            self.resuming = True
            self._stat("resumed")
            logger.info(
                "the previous %s crawl did not finish (%s, %s): resuming, every listing page "
                "is walked and stored articles are skipped",
                self.name, previous.get("state"), previous.get("finish_reason") or "killed",
            )

    async def closed(self, reason: str) -> None:
        """Record how this run ended: ``complete`` only if nothing was left behind."""
        if self._checkpoint is None:
            return
        store = self._store_for_lookup()
        state = "complete" if reason == "finished" and not self._listing_failures else "incomplete"
        try:
            await run_in_thread(
                store.db[CRAWL_STATE].update_one,
                self._checkpoint,
                {
                    "$set": {
                        "state": state,
                        "finished_at": datetime.now(UTC),
                        "finish_reason": reason,
                        "listing_failures": self._listing_failures,
                    }
                },
            )
        except PyMongoError as exc:
            logger.warning("crawl state not recorded (%s); the next run resumes", exc)
        finally:
            self._checkpoint = None
            await store.aclose()

    # -- helpers -----------------------------------------------------------

    def _canonical(self, url: str) -> str:
        return canonicalize(url, self.canonical_rules)

    # -- navigation --------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        await self._begin_checkpoint()
        first, last = self.pages or (1, 1)
        for url in self.start_urls:
            for page_no in range(first, last + 1):
                page = url if page_no == 1 else page_url(self.portal, url, page_no)
                assert page is not None  # a backfill needs the pattern (checked in __init__)
                if self.pages is not None:
                    self._stat("backfill_pages")
                yield self._request(
                    page,
                    self.parse_listing,
                    cb_kwargs={"page_no": page_no, "first_url": url},
                    errback=self.listing_failed,
                    dont_filter=True,
                )

    async def parse_listing(
        self, response: Response, page_no: int, first_url: str
    ) -> AsyncIterator[Any]:
        self._stat("listing_pages")
        page = parse_listing(_page_text(response, self.portal.encoding), response.url, self.portal)
        if page.cut_short:
            # What follows the cut is missing: the next run must walk this page again.
            self._stat("pages_cut_short")
            self._listing_failures += 1
            logger.error("listing page %s is %s; the articles listed after the cut are missed",
                         response.url, TOO_DEEP)
        out_of_range = sum(1 for item in page.items if item.date_out_of_range)
        if out_of_range:
            self._stat("dates_out_of_range", out_of_range)
            logger.warning("%d listed dates on %s are outside 1970 … now + 2 days; ignored",
                           out_of_range, response.url)
        if not page.items:
            logger.warning("no articles found on listing page %s", response.url)
            self._stat("listing_pages_empty")
        self._stat("articles_listed", len(page.items))

        fresh: list[tuple[str, ListingItem]] = []
        older = 0
        for item in page.items:
            if self.since_utc and item.published_at and item.published_at < self.since_utc:
                older += 1
                continue
            try:
                fresh.append((self._canonical(item.url), item))
            except ValueError:
                self._stat("bad_links")
        if older:
            self._stat("older_than_since", older)

        # Stored and not due for a revisit: not requested (newsspider.revisit).
        known: set[str] = set()
        revisits = 0
        if fresh and not self.full:
            try:
                stored = await self._store_for_lookup().known_articles(sorted({u for u, _ in fresh}))
            except PyMongoError as exc:
                # The store is away (an outage the writer rides out): fetch them all rather
                # than lose the page; re-storing a known article is an idempotent upsert.
                self._stat("known_ids_unavailable")
                logger.warning("store lookup failed for %s (%s); fetching every article",
                               response.url, exc)
            else:
                now = datetime.now(UTC)
                # A run resuming an interrupted one finishes that crawl first: what the
                # interrupted run stored is not fetched again (revisits wait for the next run).
                window = None if self.resuming else self.revisit_window
                known = {
                    url for url, seen in stored.items()
                    if seen.alias or not is_due(seen.first_seen_at, seen.last_crawled_at, now, window)
                }
                # Counted once per URL: a listing may show an article twice (Scrapy's
                # duplicate filter then drops the second request).
                due = {u for u, _ in fresh if u in stored and u not in known} - self._revisited
                self._revisited |= due
                revisits = len(due)
        if known:
            self._stat("articles_known", sum(1 for u, _ in fresh if u in known))
        if revisits:
            self._stat("articles_revisited", revisits)
        for canonical, item in fresh:
            if canonical in known:
                continue
            self._stat("articles_requested")
            yield self._request(
                item.url,
                self.parse_article,
                cb_kwargs={"listing": item, "canonical": canonical},
                errback=self.article_failed,
                priority=ARTICLE_PRIORITY,
            )

        if self.pages is not None:
            return  # a backfill requested its listing pages at the start
        stop = None
        if page_no >= self.max_pages:
            stop = "max_pages"
        elif older:
            stop = "since"
        elif fresh and all(u in known for u, _ in fresh) and not self.resuming:
            stop = "all_known"
        elif not page.items:
            stop = "empty_page"
        if stop:
            self._stat(f"pagination_stopped/{stop}")
            return
        next_url = page.next_url
        if next_url is None and not page.has_pagination:
            next_url = page_url(self.portal, first_url, page_no + 1)
        if next_url is None:
            self._stat("pagination_stopped/last_page")
        else:
            yield self._request(
                next_url,
                self.parse_listing,
                cb_kwargs={"page_no": page_no + 1, "first_url": first_url},
                errback=self.listing_failed,
            )

    def parse_article(
        self, response: Response, listing: ListingItem, canonical: str
    ) -> Iterator[Any]:
        state: dict[str, Any] = {
            "listing": listing,
            "canonical": canonical,
            "fetched_url": listing.url,
            "first": None,
            "bodies": [],
            "visited": [],
        }
        yield from self._article_page(response, state)

    def parse_article_page(self, response: Response, state: dict[str, Any]) -> Iterator[Any]:
        yield from self._article_page(response, state)

    def _article_page(self, response: Response, state: dict[str, Any]) -> Iterator[Any]:
        self._stat("article_pages")
        page = parse_with_fallback(
            _page_text(response, self.portal.encoding), response.url, self.portal
        )
        state["visited"].append(response.url)
        if page.cut_short:
            self._stat("pages_cut_short")
            state.setdefault("cut_short", response.url)
        if state["first"] is None:
            state["first"] = page
            if page.date_out_of_range:
                self._stat("dates_out_of_range")
        state["bodies"].append(page.body_html or "")
        if page.extraction.get("body_html") == "auto":
            state["body_auto"] = True
        next_url = page.next_url
        if (
            next_url
            and next_url not in state["visited"]
            and len(state["visited"]) < MAX_ARTICLE_PAGES
        ):
            yield self._request(
                next_url,
                self.parse_article_page,
                cb_kwargs={"state": state},
                errback=self.article_page_failed,
                dont_filter=True,
                priority=ARTICLE_PAGE_PRIORITY,
            )
            return
        item = self._item(state)
        if item is not None:
            yield item

    def _item(
        self, state: dict[str, Any], errors: list[dict[str, str]] | None = None
    ) -> dict[str, Any] | None:
        """The article item; ``None`` when it is older than ``-a since``."""
        portal = self.portal
        first = state["first"]
        listing: ListingItem = state["listing"]
        published_at = first.published_at if first else None
        published_raw = first.published_raw if first else None
        # No date on the page, or one outside 1970 … now + 2 days: the listing's, if it has one.
        missing = published_raw is None or (first is not None and first.date_out_of_range)
        if published_at is None and missing and listing.published_at:
            published_at, published_raw = listing.published_at, listing.date_raw
        item: dict[str, Any] = {
            "url": state["canonical"],
            "fetched_url": state["fetched_url"],
            "portal": self.name,
            "site_name": portal.site_name,
            "channel": portal.channel,
            "categories": list(portal.categories),
            "language": portal.language,
            "title": (first.title if first and first.title else None) or listing.title or "",
            "author": first.author if first else None,
            "published_raw": published_raw or "",
            "published_at": published_at,
            "raw_body_html": "\n".join(b for b in state["bodies"] if b),
            "summary": listing.summary,
            "pages": max(1, len(state["bodies"])),
        }
        if state.get("cut_short") and not errors:
            errors = [{"field": "body_html", "message": f"the page {state['cut_short']} is {TOO_DEEP}"}]
        if first is not None:
            extraction = dict(first.extraction)
            if state.get("body_auto") and "body_html" in extraction:
                extraction["body_html"] = "auto"  # a later page's body was found automatically
            item["extraction"] = extraction
        if errors:
            item["_errors"] = errors
            return item
        if self.since_utc and published_at is not None and published_at < self.since_utc:
            self._stat("older_than_since")
            return None
        if first is not None:
            self._count_extraction(first.matched, item["extraction"])
        return item

    def _count_extraction(self, matched: dict[str, int], extraction: dict[str, str]) -> None:
        """Stats the drift checks read: which declared selector found each field, or what did."""
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("newsspider/extract/articles")
        for name in HEALED_FIELDS:
            if name == "author" and not self.portal.article.author:
                continue  # the portal prints no byline: nothing to find
            if name in matched:
                stats.inc_value(f"newsspider/extract/selectors/{name}/{matched[name]}")
            elif extraction.get(name) == "auto":
                stats.inc_value(f"newsspider/extract/fallback/{name}")
            else:
                stats.inc_value(f"newsspider/extract/missing/{name}")

    # -- failures ----------------------------------------------------------

    def listing_failed(self, failure: Failure) -> None:
        key, message = self._failure_reason(failure)
        request = failed_request(failure)
        page_no = request.cb_kwargs.get("page_no", 1)
        if key == "http_404" and page_no > 1:
            # A page guessed from the URL pattern past the end of the list.
            self._stat("pagination_stopped/not_found")
            logger.info("listing page %s not found: end of the list", request.url)
            return
        self._stat("fetch_failed")
        self._stat(f"fetch_failed/{key}")
        # The pages after it were never reached: the next run must resume.
        self._listing_failures += 1
        logger.error("listing page %s failed: %s", request.url, message)

    def article_failed(self, failure: Failure) -> Iterator[dict]:
        key, message = self._failure_reason(failure)
        self._stat("fetch_failed")
        self._stat(f"fetch_failed/{key}")
        request = failed_request(failure)
        kwargs = request.cb_kwargs
        listing: ListingItem = kwargs["listing"]
        logger.warning("article %s failed: %s", request.url, message)
        state = {
            "listing": listing,
            "canonical": kwargs["canonical"],
            "fetched_url": listing.url,
            "first": None,
            "bodies": [],
            "visited": [],
        }
        reason = f"{message} from {request.url}"
        item = self._item(state, [{"field": "fetch", "message": reason}])
        if item is not None:  # None: older than -a since
            yield item

    def article_page_failed(self, failure: Failure) -> Iterator[dict]:
        key, message = self._failure_reason(failure)
        self._stat("fetch_failed")
        self._stat(f"fetch_failed/{key}")
        request = failed_request(failure)
        state = request.cb_kwargs["state"]
        page_no = len(state["visited"]) + 1
        logger.warning("page %d of article %s failed: %s", page_no, state["canonical"], message)
        reason = f"page {page_no} failed: {message} from {request.url}"
        item = self._item(state, [{"field": "fetch", "message": reason}])
        if item is not None:  # None: older than -a since
            yield item
