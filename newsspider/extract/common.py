"""Selector helpers shared by listing and article extraction."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from parsel import Selector, SelectorList

from newsspider.dates import local_to_utc, plausible
from newsspider.portals.base import is_xpath

_WS = re.compile(r"\s+")


def absolute_url(base: str, href: str) -> str | None:
    """``href`` resolved against ``base``; ``None`` for a malformed link.

    ``urljoin`` raises ``ValueError`` on hrefs like ``http://[::1`` (an
    unclosed IPv6 host, found by tests/test_fuzz.py): one broken link on a
    page must cost that link, not the whole page.
    """
    try:
        return urljoin(base, href)
    except ValueError:
        return None


def select(node: Selector, selector: str) -> SelectorList[Selector]:
    return node.xpath(selector) if is_xpath(selector) else node.css(selector)


def clean_text(value: str) -> str:
    return _WS.sub(" ", value.replace("\u3000", " ").replace("\xa0", " ")).strip()


def _node_text(found: SelectorList[Selector]) -> str:
    parts: list[str] = []
    for node in found:
        if isinstance(node.root, str):
            parts.append(node.root)
        else:
            parts.append(node.xpath("string()").get() or "")
    return clean_text(" ".join(parts))


def first_text(node: Selector, selectors: Iterable[str]) -> str | None:
    """Text of the first selector that yields non-blank text (elements give their string value)."""
    return first_text_at(node, selectors)[0]


def first_text_at(node: Selector, selectors: Iterable[str]) -> tuple[str | None, int | None]:
    """``(text, index of the selector that yielded it)``; ``(None, None)`` when none did."""
    for index, selector in enumerate(selectors):
        text = _node_text(select(node, selector))
        if text:
            return text, index
    return None, None


def first_value(node: Selector, selectors: Iterable[str]) -> str | None:
    """The first non-blank single value (e.g. an ``::attr(href)``) of the first matching selector."""
    for selector in selectors:
        for found in select(node, selector):
            value = found.root if isinstance(found.root, str) else found.xpath("string()").get()
            if value and value.strip():
                return value.strip()
    return None


@lru_cache(maxsize=64)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class DateRead(NamedTuple):
    """A date as printed (``raw``), as UTC (``at``, None when unreadable or implausible)."""

    raw: str | None
    at: datetime | None
    #: It parsed, but lies outside 1970 … now + 2 days (newsspider.dates): treated as missing.
    out_of_range: bool = False


def parse_date(
    text: str | None, pattern: str | None, formats: Iterable[str], tz: ZoneInfo
) -> DateRead:
    """The date in text such as ``2022-08-31 15:58 来源…``.

    Full-width digits and separators are folded first (NFKC); the page's local
    time is interpreted in ``tz`` and converted to UTC.  A date outside
    :func:`newsspider.dates.plausible` comes back as ``at=None``,
    ``out_of_range=True``, its raw text kept.
    """
    if not text:
        return DateRead(None, None)
    raw = clean_text(text)
    if not raw:
        return DateRead(None, None)
    candidate = _fold(raw)
    if pattern:
        regex = _regex(pattern)
        printed = regex.search(raw)
        if printed is not None:
            raw = printed.group(0)
            candidate = _fold(raw)
        match = regex.search(candidate)
        if match is None:
            return DateRead(raw, None)
        candidate = match.group(0)
    candidate = clean_text(candidate)
    for fmt in formats:
        try:
            local = datetime.strptime(candidate, fmt)
        except ValueError:
            continue
        utc = local_to_utc(local, tz)
        if not plausible(utc):
            return DateRead(raw, None, out_of_range=True)
        return DateRead(raw, utc)
    return DateRead(raw, None)


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    for old, new in (("年", "-"), ("月", "-"), ("日", " "), ("/", "-"), (".", "-")):
        folded = folded.replace(old, new)
    return folded
