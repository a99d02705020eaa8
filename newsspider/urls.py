"""Canonical article URLs: the ``_id`` of every stored article.

``canonicalize`` applies, in order: w3lib's canonical form (sorted query,
no fragment), removal of tracking parameters, lower-cased scheme and host,
then the portal's own :class:`CanonicalRules` (preferred scheme, host
aliases such as mobile hosts, page suffixes of multi-page articles).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

# Query parameters that only track where a reader came from.
TRACKING_PARAMS = frozenset(
    {
        "spm", "from", "source", "src", "ref", "referer", "referrer", "share", "share_from",
        "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
        "tgfrom", "wxshare", "scene", "isappinstalled", "timestamp", "_hsenc", "_hsmi",
        "mkt_tok", "vn", "f", "tt_from", "tt_medium", "app", "sharer_sharetime",
        "sharer_shareid", "clicktime", "enterid", "s_trans",
    }
)
TRACKING_PREFIXES = ("utm_", "hmsr", "pk_", "mtm_", "__")


@dataclass(frozen=True, slots=True)
class CanonicalRules:
    """A portal's URL rules, applied only to hosts listed in ``domains``."""

    domains: tuple[str, ...] = ()
    scheme: str | None = None
    host_aliases: tuple[tuple[str, str], ...] = ()
    strip_page_suffix: str | None = None
    keep_params: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.scheme not in (None, "http", "https"):
            raise ValueError(f"CanonicalRules.scheme must be http or https, not {self.scheme!r}")
        if self.strip_page_suffix is not None:
            try:
                re.compile(self.strip_page_suffix)
            except re.error as exc:
                raise ValueError(
                    f"CanonicalRules.strip_page_suffix is not a valid regex: {exc}"
                ) from exc

    def owns(self, host: str) -> bool:
        return any(host == d or host.endswith("." + d) for d in self.domains)


NO_RULES = CanonicalRules()


def _is_tracking(name: str, keep: tuple[str, ...]) -> bool:
    lowered = name.lower()
    if lowered in keep:
        return False
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


@lru_cache(maxsize=4096)
def _page_suffix(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def canonicalize(url: str, rules: CanonicalRules = NO_RULES) -> str:
    """The canonical form of ``url``; raises ``ValueError`` for a non-http(s) URL."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url[:200]!r}")
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(k, rules.keep_params)
    ]
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    netloc = host
    if parts.port and not (
        (scheme == "http" and parts.port == 80) or (scheme == "https" and parts.port == 443)
    ):
        netloc = f"{host}:{parts.port}"
    path = parts.path or "/"
    if rules.owns(host):
        for alias, target in rules.host_aliases:
            if host == alias:
                host = netloc = target
        if rules.scheme:
            scheme = rules.scheme
        if rules.strip_page_suffix:
            path = _page_suffix(rules.strip_page_suffix).sub("", path)
    rebuilt = urlunsplit((scheme, netloc, path, urlencode(query), ""))
    return canonicalize_url(rebuilt, keep_fragments=False)
