"""What the templates are given: documents turned into plain values to show.

* :func:`safe_body` — the stored body sanitized again with nh3 and the
  contract's allow-list (§5), as if it came straight from a portal: the
  dashboard trusts nothing it renders.  Links get ``rel="noopener noreferrer
  nofollow"``, images ``referrerpolicy="no-referrer"``; :func:`image_origins`
  lists the origins its images load from, for the page's
  Content-Security-Policy ``img-src``.
* :func:`run_summary` — the numbers of a ``runs`` document an operator reads
  first (items, rejects, duration, failed checks…), from either shape of
  ``checks`` (``{passed: bool, failed: [names]}`` or the contract's
  ``{passed: [names], failed: [{name, message}]}``).
* :func:`stat_groups` — the Scrapy stats that matter, grouped: responses by
  status, retries by reason, rejects by field.
* Jinja filters: :func:`when`, :func:`age`, :func:`duration`, :func:`num`.

Reads no settings, writes nothing.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import nh3
from lxml import html as lxml_html

from newsspider.normalize.html import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, ALLOWED_URL_SCHEMES
from newsspider.store.listing import failed_checks, run_status

_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(ALLOWED_URL_SCHEMES),
    link_rel="noopener noreferrer nofollow",
    set_tag_attribute_values={"img": {"referrerpolicy": "no-referrer", "loading": "lazy"}},
    strip_comments=True,
    url_relative="deny",
)
# A CSP source expression we write ourselves: scheme://host[:port], nothing else.
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:\d{1,5})?$")
MAX_IMAGE_ORIGINS = 20
REASON_PREFIX = "newsspider/validate/rejected/"


def safe_body(body_html: str | None) -> str:
    return _CLEANER.clean(body_html or "")


def image_origins(sanitized_html: str) -> list[str]:
    """Origins of the ``<img src>`` of sanitized body HTML, for ``img-src`` (at most 20)."""
    if "<img" not in sanitized_html:
        return []
    origins: dict[str, None] = {}
    for src in lxml_html.fragment_fromstring(sanitized_html, create_parent="div").xpath("//img/@src"):
        parts = urlsplit(str(src))
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        if _ORIGIN.match(origin):
            origins[origin] = None
    return list(origins)[:MAX_IMAGE_ORIGINS]


def _int(stats: Mapping[str, Any], key: str) -> int:
    value = stats.get(key)
    return int(value) if isinstance(value, (int, float)) else 0


def duration_s(doc: Mapping[str, Any]) -> float | None:
    started, finished = doc.get("started_at"), doc.get("finished_at")
    if isinstance(started, datetime) and isinstance(finished, datetime):
        return max(0.0, (finished - started).total_seconds())
    elapsed = (doc.get("stats") or {}).get("elapsed_time_seconds")
    return float(elapsed) if isinstance(elapsed, (int, float)) else None


def checks_of(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``{ran, passed: [names], failed: [{name, message}]}`` from either shape of ``checks``."""
    checks = doc.get("checks")
    if not isinstance(checks, Mapping):
        return {"ran": False, "passed": [], "failed": []}
    passed = checks.get("passed")
    return {
        "ran": True,
        "passed": [str(p) for p in passed] if isinstance(passed, list) else [],
        "failed": failed_checks(checks),
    }


def coverage_of(doc: Mapping[str, Any]) -> list[tuple[str, float]]:
    """``coverage`` as ``[(field, share)]``, lowest first (what broke shows on top)."""
    coverage = doc.get("coverage")
    if not isinstance(coverage, Mapping):
        return []
    shares = [(str(k), float(v)) for k, v in coverage.items() if isinstance(v, (int, float))]
    return sorted(shares, key=lambda kv: (kv[1], kv[0]))


def run_summary(doc: Mapping[str, Any]) -> dict[str, Any]:
    stats = doc.get("stats") or {}
    checks = checks_of(doc)
    return {
        "id": str(doc.get("_id", "")),
        "portal": str(doc.get("portal", "")),
        "started_at": doc.get("started_at"),
        "finished_at": doc.get("finished_at"),
        "finish_reason": str(doc.get("finish_reason") or stats.get("finish_reason") or ""),
        "status": doc.get("status") or run_status(doc),
        "item_count": _int(stats, "item_scraped_count"),
        "stored": _int(stats, "newsspider/store/inserted"),
        "revised": _int(stats, "newsspider/store/revised"),
        "rejects": _int(stats, "newsspider/validate/rejected"),
        "errors": _int(stats, "log_count/ERROR"),
        "responses": _int(stats, "downloader/response_count"),
        "duration": duration_s(doc),
        "failed_checks": checks["failed"],
        "checks": checks,
        "coverage": coverage_of(doc),
        "worker": str(doc.get("worker") or ""),
    }


def _suffixed(stats: Mapping[str, Any], prefix: str) -> list[tuple[str, int]]:
    rows = [(key[len(prefix):], _int(stats, key)) for key in stats if key.startswith(prefix)]
    return sorted(rows, key=lambda kv: (-kv[1], kv[0]))


def stat_groups(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The stats an operator reads on a run's page, grouped."""
    numbers = [
        ("items scraped", "item_scraped_count"),
        ("stored (new)", "newsspider/store/inserted"),
        ("stored (revised)", "newsspider/store/revised"),
        ("unchanged", "newsspider/store/unchanged"),
        ("duplicates merged", "newsspider/store/merged"),
        ("already stored, not fetched", "newsspider/spider/articles_known"),
        ("already stored, revisited", "newsspider/spider/articles_revisited"),
        ("rejected", "newsspider/validate/rejected"),
        ("repeats of a stored reject", "newsspider/store/rejects_repeated"),
        ("requests", "downloader/request_count"),
        ("responses", "downloader/response_count"),
        ("retries", "retry/count"),
        ("gave up retrying", "retry/max_reached"),
        ("ERROR log lines", "log_count/ERROR"),
        ("WARNING log lines", "log_count/WARNING"),
        ("listing pages", "newsspider/spider/listing_pages"),
        ("article pages", "newsspider/spider/article_pages"),
        ("writes journaled (store down)", "newsspider/store/journaled"),
    ]
    elapsed = stats.get("elapsed_time_seconds")
    memory = stats.get("memusage/max")
    return {
        "numbers": [(label, _int(stats, key)) for label, key in numbers if key in stats],
        "elapsed": float(elapsed) if isinstance(elapsed, (int, float)) else None,
        "memory_mb": memory / 2**20 if isinstance(memory, (int, float)) else None,
        "per_minute": stats.get("items_per_minute"),
        "statuses": _suffixed(stats, "downloader/response_status_count/"),
        "retries": _suffixed(stats, "retry/reason_count/"),
        "rejects": _suffixed(stats, REASON_PREFIX),
        "exceptions": _suffixed(stats, "downloader/exception_type_count/"),
        "fetch_failed": _suffixed(stats, "newsspider/spider/fetch_failed/"),
        "all": sorted((str(k), _shown(v)) for k, v in stats.items()),
    }


def last_run_rejects(stats: Mapping[str, Any]) -> list[tuple[str, int]]:
    return _suffixed(stats, REASON_PREFIX)


def _shown(value: Any) -> str:
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def pretty_json(value: Any, limit: int = 200_000) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=2, default=str, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "\n… (cut at 200,000 characters)"


def text_diff(old: str, new: str, limit: int = 400) -> list[tuple[str, str]]:
    """``[(kind, line)]`` of a unified diff of two body texts; kind is add, del, hunk or same."""
    out: list[tuple[str, str]] = []
    lines = difflib.unified_diff((old or "").splitlines(), (new or "").splitlines(),
                                 lineterm="", n=1)
    for line in lines:
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        out.append((kind, line))
        if len(out) >= limit:
            out.append(("hunk", "… (diff cut)"))
            break
    return out


# -- Jinja filters ----------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def when(value: Any, seconds: bool = False) -> str:
    if not isinstance(value, datetime):
        return "—"
    return _utc(value).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def iso(value: Any) -> str:
    return _utc(value).isoformat() if isinstance(value, datetime) else ""


def age(value: Any, now: datetime | None = None) -> str:
    if not isinstance(value, datetime):
        return "never"
    seconds = ((now or datetime.now(UTC)) - _utc(value)).total_seconds()
    if seconds < 0:
        return "in the future"
    for size, unit in ((86400 * 365, "y"), (86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—" if value is None else str(value)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


FILTERS = {"when": when, "iso": iso, "age": age, "duration": duration, "num": num}
