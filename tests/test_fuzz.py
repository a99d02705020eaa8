"""Fuzzing (hypothesis): bad input never crashes extraction, normalization or the item path.

Properties, each over every declared portal where a portal applies:

* ``decode_html`` on arbitrary bytes and Content-Types returns text, never raises;
* ``parse_listing`` / ``parse_article`` on mutated saved pages and on tag soup
  return their dataclasses, never raise;
* ``normalize_body`` never raises on a ``str``; ``unwrap_proxy`` /
  ``choose_image_url`` return strings (absolute http(s) URLs when resolved);
* ``canonicalize`` returns a canonical URL (idempotent) or raises ``ValueError``,
  nothing else;
* deep nesting (up to 5,000 levels, any tags, closed or not): the normalized
  body keeps every line of text, or is refused as too deep (``too_deep``) —
  never silently cut; a page around it is whole or flagged ``cut_short``;
* extreme dates (years 0001–9999, impossible days) in saved listing and
  article pages: never an exception, and a date comes out only when it lies
  in 1970 … now + 2 days;
* any item dict through BodyPipeline → ValidatePipeline either comes out an article document or is rejected with
  reasons (``RejectedItem``, and a reject document that BSON can encode).

Every test here is marked ``fuzz``.  ``make test`` runs them with
``FAST_EXAMPLES`` examples each; ``make fuzz`` sets ``NEWSSPIDER_FUZZ_EXAMPLES``
(default 100,000) and splits that total between the properties by weight, and
the module checks at the end that at least that many cases really ran.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy.utils.test import get_crawler

from newsspider.dates import plausible
from newsspider.extract import decode_html, parse_article, parse_listing
from newsspider.extract.article import ArticlePage
from newsspider.extract.listing import ListingPage
from newsspider.htmldepth import HUGE_DEPTH
from newsspider.normalize.html import normalize_body
from newsspider.normalize.images import choose_image_url, unwrap_proxy
from newsspider.pipelines.body import BodyPipeline
from newsspider.pipelines.validate import RejectedItem, ValidatePipeline
from newsspider.portals import all_portals
from newsspider.store.store import reject_doc
from newsspider.urls import canonicalize

pytestmark = pytest.mark.fuzz

FAST_EXAMPLES = 200
TOTAL = int(os.environ.get("NEWSSPIDER_FUZZ_EXAMPLES", "0") or 0)
# Relative share of the total per property (the page-mutation ones cost ~10x more per case).
WEIGHTS = {
    "decode": 1.0, "listing_pages": 0.6, "article_pages": 0.6, "soup": 1.0, "normalize": 1.0,
    "unwrap": 1.0, "choose": 1.0, "canonicalize": 1.4, "items": 2.4, "deep": 0.4, "dates": 0.6,
}
PORTALS = all_portals()
PAGES = Path(__file__).resolve().parent / "fixtures" / "pages"
CASES: Counter[str] = Counter()
# How the item-path cases ended (both outcomes must be exercised).
OUTCOMES: Counter[str] = Counter()


def examples(name: str) -> int:
    if not TOTAL:
        return FAST_EXAMPLES
    share = WEIGHTS[name] / sum(WEIGHTS.values())
    return max(FAST_EXAMPLES, math.ceil(TOTAL * share))


def fuzz_settings(name: str) -> Any:
    return settings(
        max_examples=examples(name),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
    )


@pytest.fixture(scope="module", autouse=True)
def _count_cases(request: pytest.FixtureRequest):
    started = time.monotonic()
    yield
    total = sum(CASES.values())
    line = ", ".join(f"{k}={v}" for k, v in sorted((CASES + OUTCOMES).items()))
    summary = f"fuzz: {total} cases in {time.monotonic() - started:.1f}s ({line})"
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("\n" + summary)
    if TOTAL and len(CASES) == len(WEIGHTS):
        assert total >= TOTAL, f"only {total} fuzz cases ran, NEWSSPIDER_FUZZ_EXAMPLES={TOTAL}"


# --- strategies ------------------------------------------------------------------

TAGS = ["p", "div", "span", "a", "img", "br", "h1", "h2", "ul", "li", "table", "td", "script",
        "style", "iframe", "title", "meta", "time", "em", "section", "article", "pre", "svg"]
ATTRS = ["", ' class="title"', ' id="articleC"', ' class="article-content"', ' href="/x.html"',
         ' href="javascript:alert(1)"', ' src="//cdn.example.com/a.png"', ' data-original="b.jpg"',
         ' srcset="a.jpg 1x, b.jpg 2x"', ' data-src=""', ' style="x"', ' onerror="x()"',
         ' href="http://[::1"', ' src="http://%zz"', ' datetime="2021-13-45"', ' content="x"']
TEXTS = ["文本", "2021-03-22 16:30", "来源：OFweek", "下一页", "作者：某人", "\u3000", "&nbsp;",
         "&#0;", "&#xD800;", "<!--", "]]>", "\x00", "\ufffd", "1970-01-01", "9999-12-31 25:61",
         "发布时间：2099-02-30", "http://x", "?url=http://y"]


@st.composite
def soup(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 30))):
        kind = draw(st.integers(0, 4))
        tag = draw(st.sampled_from(TAGS))
        if kind == 0:
            parts.append(f"<{tag}{draw(st.sampled_from(ATTRS))}>")
        elif kind == 1:
            parts.append(f"</{tag}>")
        elif kind == 2:
            parts.append(draw(st.sampled_from(TEXTS)))
        else:
            parts.append(draw(st.text(max_size=20)))
    return "".join(parts)


def _load_pages() -> list[tuple[str, str, str]]:
    """``(portal, kind, text)`` for every saved page of a declared portal."""
    out = []
    for name, portal in PORTALS.items():
        folder = PAGES / name
        for path in sorted(folder.glob("*.html")) if folder.is_dir() else ():
            kind = "listing" if path.name.startswith("listing") else "article"
            text, _ = decode_html(path.read_bytes(), None, portal.encoding)
            out.append((name, kind, text))
    return out


SAVED = _load_pages()


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> tuple[str, str]:
    pages = [(n, t) for n, k, t in SAVED if k == kind]
    name, text = draw(st.sampled_from(pages))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.integers(0, 3))
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 2000)))
        if op == 0:  # cut the page short (as a truncated download would)
            text = text[:i]
        elif op == 1:  # drop a slice (a missing element, a broken tag)
            text = text[:i] + text[j:]
        elif op == 2:  # insert junk
            text = text[:i] + draw(soup()) + text[i:]
        else:  # duplicate a slice (nested repeats of the same block)
            text = text[:j] + text[i:j] + text[j:]
    return name, text


urls = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda scheme, host, path, query: f"{scheme}{host}{path}{query}",
        st.sampled_from(["http://", "https://", "HTTP://", "//", "ftp://", "", "javascript:"]),
        st.sampled_from(["example.com", "a.b.c", "[::1]", "[::1", "xn--fsq.com", "例子.中国",
                         "user:pw@h.com:80", "h.com:99999", "h.com:-1", "", "..", "%41.com"]),
        st.text(alphabet="/.%?#&=abc中 ", max_size=20),
        st.sampled_from(["", "?utm_source=x", "?url=http://i.com/a.png", "?a=1&a=2",
                         "?%zz=%", "#frag", "?http://x.com/y.png"]),
    ),
)


# --- decoding and extraction ---------------------------------------------------------

@fuzz_settings("decode")
@given(
    body=st.one_of(st.binary(max_size=400), soup().map(lambda s: s.encode("gb18030", "replace"))),
    content_type=st.one_of(st.none(), st.sampled_from([
        "text/html", "text/html; charset=utf-8", "text/html; charset=gb2312", "text/html;charset=",
        "text/html; charset=x-unknown", "text/html; charset=utf-16", "application/octet-stream",
    ]), st.text(max_size=30)),
    fallback=st.sampled_from([None, "gb18030", "utf-8", "gbk", "big5", "no-such-codec", ""]),
)
def test_decode_html_never_raises(body: bytes, content_type: str | None, fallback: str | None) -> None:
    CASES["decode"] += 1
    text, encoding = decode_html(body, content_type, fallback)
    assert isinstance(text, str) and isinstance(encoding, str)


@fuzz_settings("listing_pages")
@given(page=mutated("listing"), url=st.sampled_from(["https://www.ofweek.com/CATList-8100.html",
                                                     "http://127.0.0.1:8000/a/b?c=1"]))
def test_parse_listing_on_mutated_pages(page: tuple[str, str], url: str) -> None:
    CASES["listing_pages"] += 1
    name, text = page
    result = parse_listing(text, url, PORTALS[name])
    assert isinstance(result, ListingPage)


@fuzz_settings("article_pages")
@given(page=mutated("article"), url=st.sampled_from(["https://www.ofweek.com/2021-03/ART-1.html",
                                                     "http://127.0.0.1:8000/x.html"]))
def test_parse_article_on_mutated_pages(page: tuple[str, str], url: str) -> None:
    CASES["article_pages"] += 1
    name, text = page
    result = parse_article(text, url, PORTALS[name])
    assert isinstance(result, ArticlePage)


@fuzz_settings("soup")
@given(name=st.sampled_from(sorted(PORTALS)), html=soup(),
       url=urls.map(lambda u: "http://" + u.split("://", 1)[-1].lstrip("/")))
def test_extraction_on_tag_soup_and_odd_urls(name: str, html: str, url: str) -> None:
    CASES["soup"] += 1
    portal = PORTALS[name]
    assert isinstance(parse_listing(html, url, portal), ListingPage)
    assert isinstance(parse_article(html, url, portal), ArticlePage)


@st.composite
def deep(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A body nested ``depth`` levels deep, a numbered word of text on every level."""
    depth = draw(st.one_of(st.integers(0, 300), st.integers(300, 5000)))
    tags = draw(st.lists(st.sampled_from(["font", "div", "span", "b", "blockquote", "p", "li",
                                          "section", "em", "td", "a"]), min_size=1, max_size=4))
    close = draw(st.booleans())
    words = [f"w{i}x" for i in range(depth)]
    parts = [f"<{tags[i % len(tags)]}>{words[i]}<br>" for i in range(depth)]
    if close:
        parts += [f"</{tags[i % len(tags)]}>" for i in reversed(range(depth))]
    return "".join(parts), words


@fuzz_settings("deep")
@given(body=deep(), name=st.sampled_from(sorted(PORTALS)))
def test_deep_nesting_is_whole_or_refused(body: tuple[str, list[str]], name: str) -> None:
    CASES["deep"] += 1
    html, words = body
    result = normalize_body(html, "https://a.test/x.html", PORTALS[name].body_rules)
    if result.events["too_deep"]:
        assert len(words) >= HUGE_DEPTH // 4 and result.text == ""
        OUTCOMES["deep_refused"] += 1
        return
    found = set(result.text.replace("\n", " ").split())
    assert [w for w in words if w not in found] == []
    OUTCOMES["deep_whole"] += 1


_PRINTED_DATE = __import__("re").compile(r"\d{4}(?=[-年/.]\d{1,2}[-月/.]\d{1,2})")
_MONTH_DAY = __import__("re").compile(r"(?<=[-年/.])\d{1,2}(?=[-月/.])")


@st.composite
def odd_dates(draw: st.DrawFn, kind: str) -> tuple[str, str]:
    """A saved page whose printed dates are replaced: years 0001–9999, impossible days."""
    pages = [(n, t) for n, k, t in SAVED if k == kind and _PRINTED_DATE.search(t)]
    name, text = draw(st.sampled_from(pages))
    year = draw(st.one_of(st.sampled_from([1, 2, 1969, 1970, 2099, 9998, 9999]),
                          st.integers(1, 9999)))
    text = _PRINTED_DATE.sub(f"{year:04d}", text)
    if draw(st.booleans()):
        text = _MONTH_DAY.sub(f"{draw(st.integers(0, 99)):02d}", text, count=1)
    return name, text


@fuzz_settings("dates")
@given(listing=odd_dates("listing"), article=odd_dates("article"))
def test_extreme_dates_are_plausible_or_missing(listing: tuple[str, str], article: tuple[str, str]) -> None:
    CASES["dates"] += 1
    page = parse_listing(listing[1], "https://www.ofweek.com/CATList-8100.html", PORTALS[listing[0]])
    for item in page.items:
        assert item.published_at is None or plausible(item.published_at)
        assert not (item.date_out_of_range and item.published_at is not None)
    result = parse_article(article[1], "https://www.ofweek.com/2021-03/ART-1.html", PORTALS[article[0]])
    assert result.published_at is None or plausible(result.published_at)
    OUTCOMES["dates_out_of_range" if result.date_out_of_range else "dates_other"] += 1


# --- normalization and images --------------------------------------------------------

@fuzz_settings("normalize")
@given(html=st.one_of(soup(), st.text(max_size=200)), base=st.one_of(st.none(), urls),
       name=st.sampled_from(sorted(PORTALS)))
def test_normalize_body_never_raises(html: str, base: str | None, name: str) -> None:
    CASES["normalize"] += 1
    result = normalize_body(html, base, PORTALS[name].body_rules)
    assert isinstance(result.html, str) and isinstance(result.text, str)


@fuzz_settings("unwrap")
@given(url=urls)
def test_unwrap_proxy_returns_a_string(url: str) -> None:
    CASES["unwrap"] += 1
    assert isinstance(unwrap_proxy(url), str)


@fuzz_settings("choose")
@given(
    attrs=st.dictionaries(
        st.sampled_from(["src", "data-original", "data-src", "data-lazy-src", "srcset",
                         "data-srcset", "alt", "width"]),
        st.one_of(urls, st.sampled_from(["a.jpg 1x, b.jpg 2x", " , ,", "x.png 9999999999w",
                                         "x.png 1e309x", "x.png -1x", "data:,"])),
        max_size=4,
    ),
    base=st.one_of(st.none(), urls),
)
def test_choose_image_url_resolves_or_gives_none(attrs: dict[str, str], base: str | None) -> None:
    CASES["choose"] += 1
    url, found = choose_image_url(attrs, base)
    assert isinstance(found, str)
    # Scheme case is kept as found (URLs compare it case-insensitively).
    assert url is None or url.lower().startswith(("http://", "https://")), url


@fuzz_settings("canonicalize")
@given(url=urls)
def test_canonicalize_raises_value_error_only(url: str) -> None:
    CASES["canonicalize"] += 1
    try:
        canonical = canonicalize(url)
    except ValueError:
        return
    assert canonical.startswith(("http://", "https://"))
    assert canonicalize(canonical) == canonical


# --- the whole item path -------------------------------------------------------------

class _RejectSink:
    """Stands in for the store: keeps each reject, checking it is a storable BSON document."""

    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []

    async def add_reject(self, doc: dict[str, Any]) -> None:
        stored = reject_doc(str(doc.get("url") or ""), str(doc.get("portal") or ""),
                            list(doc.get("errors") or []), doc.get("item") or {})
        bson.encode(stored)
        self.docs.append(stored)


def _pipelines(portal_name: str) -> tuple[Any, Any, _RejectSink]:
    crawler = get_crawler()
    crawler.stats.open_spider()
    crawler.spider = SimpleNamespace(portal=PORTALS[portal_name], name=portal_name)
    validate = ValidatePipeline.from_crawler(crawler)
    validate.store = sink = _RejectSink()
    return BodyPipeline.from_crawler(crawler), validate, sink


PIPELINES = {name: _pipelines(name) for name in PORTALS}

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(),
    st.text(max_size=30), st.binary(max_size=10),
    st.datetimes(timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=8))])),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)
FIELDS = ["url", "fetched_url", "portal", "site_name", "channel", "categories", "language",
          "title", "author", "published_raw", "published_at", "raw_body_html", "summary", "pages",
          "body_html", "images", "lead_image"]


async def _chain(body: Any, validate: Any, item: dict[str, Any]) -> Any:
    """An item through body → validate, as Scrapy chains them."""
    return await validate.process_item(body.process_item(item))


def _valid_item(body: str) -> dict[str, Any]:
    return {
        "url": "https://www.ofweek.com/2021-03/ART-8420-8120-1.html",
        "fetched_url": "https://www.ofweek.com/2021-03/ART-8420-8120-1.html?utm_source=x",
        "portal": "ofweek", "site_name": "高科技行业门户", "channel": "新闻",
        "categories": ["新媒体", "高科技行业门户", "新闻"], "language": "zh", "title": "标题",
        "author": "OFweek医疗网", "published_raw": "2021-03-22 16:30",
        "published_at": datetime(2021, 3, 22, 8, 30, tzinfo=UTC), "raw_body_html": body,
        "summary": None, "pages": 1,
    }


@st.composite
def items(draw: st.DrawFn) -> dict[str, Any]:
    item = _valid_item(draw(st.one_of(soup(), st.sampled_from(["<p>正文</p>", "", "   "]))))
    for _ in range(draw(st.integers(0, 4))):
        field = draw(st.sampled_from(FIELDS + ["$bad", "a.b", "", "_private"]))
        if draw(st.integers(0, 5)) == 0:
            item.pop(field, None)
        else:
            item[field] = draw(st.one_of(values, urls, soup()))
    if draw(st.integers(0, 9)) == 0:
        item["_errors"] = [{"field": "fetch", "message": draw(st.text(min_size=1, max_size=40))}]
    return item


@fuzz_settings("items")
@given(item=items(), portal=st.sampled_from(sorted(PORTALS)))
def test_any_item_is_stored_or_rejected_with_reasons(item: dict[str, Any], portal: str) -> None:
    CASES["items"] += 1
    body, validate, sink = PIPELINES[portal]
    had_errors = bool(item.get("_errors"))
    before = len(sink.docs)
    try:
        out = asyncio.run(_chain(body, validate, item))
    except RejectedItem as rejected:
        assert rejected.errors and all(
            isinstance(e["field"], str) and isinstance(e["message"], str) and e["message"]
            for e in rejected.errors
        )
        assert len(sink.docs) == before + 1
        OUTCOMES["items_rejected"] += 1
        return
    assert not had_errors
    assert len(sink.docs) == before
    assert out["_id"] == out["url"] and out["title"].strip()
    bson.encode(out)
    OUTCOMES["items_stored"] += 1
