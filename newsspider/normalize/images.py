"""Resolve every body image to its original absolute URL.

Pure functions, no Scrapy: pick the real URL among lazy-load attributes and
``srcset`` candidates over placeholders, unwrap known image proxies (possibly
nested), make it absolute against the page URL.  :func:`resolve_img` applies
that to one ``<img>`` element of an lxml tree and returns the
``{"url", "src", "alt"}`` record the article keeps.

Proxy patterns (``DEFAULT_PROXY_PATTERNS``, setting ``NEWSSPIDER_IMAGE_PROXIES``)
are strings in one of two forms:

``"host/path?"``  (ends with ``?``)
    a *prefix* proxy: the whole query string is the wrapped URL, e.g.
    ``cors.zfour.workers.dev/?`` for ``https://cors.zfour.workers.dev/?http://a/b.png``.
``"host/path?param"``
    a *query-parameter* proxy: the wrapped URL is the value of ``param``, e.g.
    ``images.weserv.nl/?url`` for ``https://images.weserv.nl/?url=a.com/b.png&w=300``.

``host`` matches the URL's host exactly (case-insensitive) or is ``*`` for any
host; ``path`` is a prefix of the URL's path (``/`` matches every path).  The
wrapped URL may omit its scheme (``a.com/b.png`` or weserv's ``ssl:a.com/…``)
for named hosts; under ``*`` only absolute ``http(s)://``, ``//host`` or
``/path`` values count, so ordinary ``?url=`` links are not mistaken for proxies.

Reads no settings and writes no stats (the pipelines count the returned events).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypedDict
from urllib.parse import parse_qsl, urljoin, urlsplit

from w3lib.url import safe_url_string

__all__ = [
    "DEFAULT_PLACEHOLDER_PATTERNS",
    "DEFAULT_PROXY_PATTERNS",
    "LAZY_ATTRIBUTES",
    "ImageConfig",
    "ImageRecord",
    "ProxyPattern",
    "absolutize",
    "choose_image_url",
    "compile_proxy_patterns",
    "is_placeholder",
    "largest_srcset_candidate",
    "resolve_image_url",
    "resolve_img",
    "srcset_candidates",
    "unwrap_proxy",
]


class ImageRecord(TypedDict):
    url: str
    src: str
    alt: str


DEFAULT_PROXY_PATTERNS: tuple[str, ...] = (
    # The RSS-to-blog aggregator's CORS proxy (see the seed post).
    "cors.zfour.workers.dev/?",
    # images.weserv.nl and its short domain: ?url=<host/path or URL>&w=…
    "images.weserv.nl/?url",
    "wsrv.nl/?url",
    # Any other resizer or proxy of the `?url=<absolute URL>` kind
    # (Next.js /_next/image?url=/a.png, imgproxy-style front ends, …).
    "*?url",
)

# Tried in this order; the first usable one wins over `src`, which in a
# lazy-loading page holds the placeholder.
LAZY_ATTRIBUTES: tuple[str, ...] = (
    "data-original",
    "data-src",
    "data-lazy-src",
    "data-actualsrc",
    "data-original-src",
    "data-lazyload",
    "data-url",
)
_SRCSET_ATTRIBUTES: tuple[str, ...] = ("data-srcset", "srcset")

# File names of "loading…" spinners, spacers and blank pixels; matched on the
# last path segment of the URL, case-insensitively.
DEFAULT_PLACEHOLDER_PATTERNS: tuple[str, ...] = (
    r"^(?:blank|spacer|pixel|transparent|clear|empty|grey|gray|dot|1x1|s)\.(?:gif|png|svg|webp)$",
    (
        r"^(?:loading|loader|lazy|lazyload|placeholder|spinner|default|img_loading|load)"
        r"(?:[-_.][\w-]*)?\.(?:gif|png|svg|jpe?g|webp)$"
    ),
    r"^[\w-]*(?:placeholder|loading|lazyload|spacer)[\w-]*\.(?:gif|png|svg|jpe?g|webp)$",
)

_HTTP_SCHEMES = frozenset({"http", "https"})
_MAX_PROXY_DEPTH = 5
# Browsers strip ASCII tab/newline inside URL attributes; so do we.
_URL_STRIP = re.compile(r"[\t\n\r]")
_SCHEME_LESS_HOST = re.compile(r"^[\w.-]+\.[a-z]{2,}(?::\d+)?(?:/|$)", re.IGNORECASE)
# Printable ASCII without space, quotes, angle brackets or backslash; '%' only
# as a valid escape: such a URL is left unchanged by safe_url_string.
_PLAIN_URL = re.compile(r"^(?!.*\?#)(?:[!$&(-;=?-Z_a-z~]|%[0-9A-Fa-f]{2})*(?:#(?:[!$&(-;=?-Z_a-z~]|%[0-9A-Fa-f]{2})*)?(?<![?#])$")
_SRCSET_DESCRIPTOR = re.compile(r"^\s*(\d+(?:\.\d+)?)([wxh])\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ProxyPattern:
    """A parsed proxy pattern (see the module docstring for the string form)."""

    host: str  # lowercase host, or "*"
    path: str  # path prefix
    param: str | None  # None: the whole query string is the wrapped URL

    @classmethod
    def parse(cls, pattern: str) -> ProxyPattern:
        text = pattern.strip()
        if "?" not in text:
            raise ValueError(
                f"image proxy pattern {pattern!r} has no '?': write 'host/path?' for a "
                "prefix proxy or 'host/path?param' for a query-parameter proxy"
            )
        location, _, param = text.partition("?")
        location = re.sub(r"^[a-z]+://", "", location, flags=re.IGNORECASE)
        host, slash, path = location.partition("/")
        if not host:
            raise ValueError(f"image proxy pattern {pattern!r} has no host (use '*' for any)")
        return cls(host=host.lower(), path=slash + path if slash else "/", param=param or None)

    def extract(self, url: str) -> str | None:
        """The wrapped URL when ``url`` goes through this proxy, else None."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError:
            return None
        if self.host != "*" and host != self.host:
            return None
        if not (parts.path or "/").startswith(self.path) or not parts.query:
            return None
        if self.param is None:
            # Prefix proxies pass the target verbatim, fragment included.
            inner = url.split("?", 1)[1]
        else:
            values = [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k == self.param]
            if not values:
                return None
            inner = values[0]
        return _wrapped_target(inner.strip(), url, any_host=self.host == "*")


def _wrapped_target(inner: str, proxy_url: str, *, any_host: bool) -> str | None:
    if not inner:
        return None
    lowered = inner.lower()
    if lowered.startswith(("http://", "https://")):
        return inner
    if inner.startswith("//"):
        return "http:" + inner if proxy_url.lower().startswith("http:") else "https:" + inner
    if inner.startswith("/"):
        # A same-origin resizer (`/_next/image?url=/media/a.png`).
        return urljoin(proxy_url, inner)
    if any_host:
        return None
    if lowered.startswith("ssl:"):
        # weserv's way of saying "fetch the original over https".
        return "https://" + inner[4:]
    if _SCHEME_LESS_HOST.match(inner):
        return "http://" + inner
    return None


@lru_cache(maxsize=64)
def compile_proxy_patterns(patterns: tuple[str, ...]) -> tuple[ProxyPattern, ...]:
    """Parse proxy pattern strings once; ``ValueError`` names a malformed one."""
    return tuple(ProxyPattern.parse(p) for p in patterns)


def unwrap_proxy(url: str, patterns: Iterable[str | ProxyPattern] = DEFAULT_PROXY_PATTERNS) -> str:
    """``url`` with every known proxy wrapper removed (nested ones too).

    >>> unwrap_proxy("https://cors.zfour.workers.dev/?http://images.ofweek.com/a.png")
    'http://images.ofweek.com/a.png'
    """
    compiled = _as_patterns(patterns)
    current = url
    for _ in range(_MAX_PROXY_DEPTH):
        for pattern in compiled:
            inner = pattern.extract(current)
            if inner is not None and inner != current:
                current = inner
                break
        else:
            return current
    return current


def _as_patterns(patterns: Iterable[str | ProxyPattern]) -> tuple[ProxyPattern, ...]:
    items = tuple(patterns)
    if all(isinstance(p, ProxyPattern) for p in items):
        return items  # type: ignore[return-value]
    return compile_proxy_patterns(tuple(p if isinstance(p, str) else _unparse(p) for p in items))


def _unparse(pattern: ProxyPattern) -> str:
    return f"{pattern.host}{pattern.path}?{pattern.param or ''}"


@lru_cache(maxsize=64)
def _compile_placeholders(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def is_placeholder(url: str, patterns: tuple[str, ...] = DEFAULT_PLACEHOLDER_PATTERNS) -> bool:
    """True for values that are not a real image: empty, ``data:``, spinners, spacers."""
    value = _URL_STRIP.sub("", url).strip()
    if not value or value == "#":
        return True
    lowered = value.lower()
    if lowered.startswith(("data:", "about:", "javascript:", "vbscript:", "blob:")):
        return True
    regex = _compile_placeholders(patterns)
    if regex is None:
        return False
    path = lowered.split("?", 1)[0].split("#", 1)[0]
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return bool(regex.search(name))


def largest_srcset_candidate(srcset: str) -> str | None:
    """The URL of the widest (``w``) or densest (``x``) candidate in a srcset."""
    candidates = srcset_candidates(srcset)
    return candidates[0] if candidates else None


def srcset_candidates(srcset: str) -> list[str]:
    """A srcset's URLs, largest first (ties keep their order).

    Parsed per the HTML spec: a URL is a run of non-space characters (commas
    inside it allowed, as in Cloudinary's ``w_100,h_80``), descriptors run to
    the next comma.
    """
    found: list[tuple[tuple[int, float], int, str]] = []
    pos, length = 0, len(srcset)
    while pos < length:
        while pos < length and (srcset[pos].isspace() or srcset[pos] == ","):
            pos += 1
        start = pos
        while pos < length and not srcset[pos].isspace():
            pos += 1
        url = srcset[start:pos]
        descriptor = ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            start = pos
            depth = 0
            while pos < length and (srcset[pos] != "," or depth):
                depth += {"(": 1, ")": -1}.get(srcset[pos], 0)
                pos += 1
            descriptor = srcset[start:pos]
        if url:
            key = _descriptor_key(descriptor)
            found.append(((-key[0], -key[1]), len(found), url))
    return [url for _, _, url in sorted(found)]


def _descriptor_key(descriptor: str) -> tuple[int, float]:
    # Width descriptors outrank density ones: a 1200w candidate is the
    # original, a 2x one is just "bigger than the 1x".
    match = _SRCSET_DESCRIPTOR.match(descriptor) if descriptor.strip() else None
    if match is None:
        return (0, 1.0)
    value, unit = float(match.group(1)), match.group(2).lower()
    return (2, value) if unit == "w" else (1, value) if unit == "x" else (0, 1.0)


def absolutize(url: str, base_url: str | None) -> str | None:
    """An absolute http(s) URL for ``url`` (relative or ``//host``) or None."""
    value = _URL_STRIP.sub("", url).strip()
    if not value:
        return None
    try:
        joined = urljoin(base_url or "", value) if base_url else value
        parts = urlsplit(joined)
    except ValueError:
        return None
    if parts.scheme.lower() not in _HTTP_SCHEMES or not parts.hostname:
        return None
    if _PLAIN_URL.match(joined):
        return joined  # already what safe_url_string would return
    try:
        return safe_url_string(joined)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """How to resolve images; build once per crawler, share across items."""

    proxies: tuple[ProxyPattern, ...] = compile_proxy_patterns(DEFAULT_PROXY_PATTERNS)
    placeholders: tuple[str, ...] = DEFAULT_PLACEHOLDER_PATTERNS

    @classmethod
    def build(
        cls, extra_proxies: Iterable[str] = (), extra_placeholders: Iterable[str] = ()
    ) -> ImageConfig:
        """Defaults plus user patterns; ``ValueError`` names a malformed pattern."""
        placeholders = DEFAULT_PLACEHOLDER_PATTERNS + tuple(extra_placeholders)
        for pattern in placeholders:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"image placeholder pattern {pattern!r}: {exc}") from exc
        # User proxies first: a more specific pattern must beat the "*?url" catch-all.
        proxies = compile_proxy_patterns(tuple(extra_proxies) + DEFAULT_PROXY_PATTERNS)
        return cls(proxies=proxies, placeholders=placeholders)


DEFAULT_IMAGE_CONFIG = ImageConfig()


def resolve_image_url(raw: str, base_url: str | None, config: ImageConfig = DEFAULT_IMAGE_CONFIG) -> str | None:
    """Absolute original URL for one attribute value, or None if unusable."""
    if is_placeholder(raw, config.placeholders):
        return None
    absolute = absolutize(raw, base_url)
    if absolute is None:
        return None
    unwrapped = unwrap_proxy(absolute, config.proxies)
    if unwrapped != absolute:
        absolute = absolutize(unwrapped, base_url)
        if absolute is None or is_placeholder(absolute, config.placeholders):
            return None
    return absolute


def choose_image_url(
    attrs: Any, base_url: str | None, config: ImageConfig = DEFAULT_IMAGE_CONFIG
) -> tuple[str | None, str]:
    """``(resolved_url, src_as_found)`` for an image's attribute mapping.

    ``src_as_found`` is the ``src`` attribute exactly as in the page, or the
    lazy attribute when the page has no ``src``.
    """
    src = attrs.get("src")
    found = src
    for name in LAZY_ATTRIBUTES:
        value = attrs.get(name)
        if value:
            found = found if found is not None else value
            url = resolve_image_url(value, base_url, config)
            if url:
                return url, found
    for name in _SRCSET_ATTRIBUTES:
        value = attrs.get(name)
        for candidate in srcset_candidates(value) if value else ():
            found = found if found is not None else candidate
            url = resolve_image_url(candidate, base_url, config)
            if url:
                return url, found
    if src:
        return resolve_image_url(src, base_url, config), src
    return None, found or ""


def _is_tracking_pixel(attrs: Any) -> bool:
    return attrs.get("width", "").strip() in ("0", "1") and attrs.get("height", "").strip() in ("0", "1")


# Attributes that only serve lazy loading or layout; removed once resolved so
# a second pass sees the resolved `src` and nothing else.
_STRIP_AFTER_RESOLVE = (*LAZY_ATTRIBUTES, *_SRCSET_ATTRIBUTES, "sizes")


def resolve_img(el: Any, base_url: str | None, config: ImageConfig = DEFAULT_IMAGE_CONFIG) -> ImageRecord | None:
    """Resolve one lxml ``<img>`` in place: ``src`` becomes the original URL.

    Returns the image record, or None when the image has no usable URL (the
    caller removes the element).
    """
    attrs = el.attrib
    if _is_tracking_pixel(attrs):
        return None
    url, found = choose_image_url(attrs, base_url, config)
    if url is None:
        return None
    alt = (attrs.get("alt") or "").strip()
    for name in _STRIP_AFTER_RESOLVE:
        attrs.pop(name, None)
    attrs["src"] = url
    return {"url": url, "src": found, "alt": alt}
