"""The health checks, as pure functions: a run's stats and coverage in, pass or fail with a message out.

Run checks (thresholds in settings, :class:`Thresholds`):
  ``min_items``      articles seen (scraped + dropped + already stored) >= ``NEWSSPIDER_MONITOR_MIN_ITEMS``
  ``error_ratio``    ERROR log lines / responses <= ``NEWSSPIDER_MONITOR_MAX_ERROR_RATIO``
  ``reject_ratio``   rejected / yielded items <= ``NEWSSPIDER_MONITOR_MAX_REJECT_RATIO``,
                     repeated rejects of known-broken pages (``newsspider/store/rejects_repeated``)
                     left out of both
  ``finish_reason``  the close reason is one of ``NEWSSPIDER_MONITOR_FINISH_REASONS``
  ``store_writes``   no write lost (neither stored nor journaled) or refused by the
                     store, the store writer alive to the end, no journal record
                     quarantined (always on)

Drift checks (:func:`coverage_checks`), one per coverage key, named
``coverage/<key>``: the run fails one when the key's share falls more than
``max_drop`` below the median of the portal's last healthy runs
(:class:`Baseline`), or below the portal's floor (``expect={...}`` in its
module, plus a default floor for the share of title, date and body the
declared selectors found) — for an optional field, by more than chance
explains (:func:`beyond_chance`).  The message names the field, its coverage,
the baseline and floor, and the declared selectors that stopped matching.

Pure: no Scrapy, no I/O; thresholds are testable in a table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any


@dataclass(frozen=True, slots=True)
class Thresholds:
    min_items: int = 1
    max_error_ratio: float = 0.1
    max_reject_ratio: float = 0.25
    finish_reasons: tuple[str, ...] = ("finished", "closespider_itemcount")


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    passed: bool
    message: str


def _count(stats: Mapping[str, Any], key: str) -> int:
    return int(stats.get(key) or 0)


def _min_items(stats: Mapping[str, Any], reason: str, t: Thresholds) -> CheckResult:
    # Articles already stored (incremental runs) and dropped duplicates count as seen:
    # the check is about finding articles at all; rejects have their own check.
    seen = (
        _count(stats, "item_scraped_count")
        + _count(stats, "item_dropped_count")
        + _count(stats, "newsspider/spider/articles_known")
    )
    return CheckResult(
        "min_items", t.min_items <= 0 or seen >= t.min_items,
        f"{seen} articles seen (scraped, dropped or already stored), "
        f"expected at least {t.min_items}",
    )


def _error_ratio(stats: Mapping[str, Any], reason: str, t: Thresholds) -> CheckResult:
    errors = _count(stats, "log_count/ERROR")
    responses = _count(stats, "downloader/response_count")
    ratio = errors / responses if responses else (float("inf") if errors else 0.0)
    return CheckResult(
        "error_ratio", ratio <= t.max_error_ratio,
        f"{errors} errors for {responses} responses (ratio {ratio:.3f}, max {t.max_error_ratio})",
    )


def _reject_ratio(stats: Mapping[str, Any], reason: str, t: Thresholds) -> CheckResult:
    # A repeat (the same URL rejected for the same reason as already recorded: a known-broken
    # page fetched again, newsspider.store.writer) says nothing new about this run: it is
    # left out of both sides, or every run would carry the portal's broken pages again.
    repeated = _count(stats, "newsspider/store/rejects_repeated")
    rejected = _count(stats, "newsspider/validate/rejected")
    repeated = min(repeated, rejected)
    # Rejected items are dropped, so yielded = scraped + dropped.
    yielded = _count(stats, "item_scraped_count") + _count(stats, "item_dropped_count") - repeated
    rejected -= repeated
    ratio = rejected / yielded if yielded > 0 else 0.0
    message = f"{rejected} of {yielded} items rejected (ratio {ratio:.3f}, max {t.max_reject_ratio})"
    if repeated:
        message += f" ({repeated} repeated rejects of known-broken pages not counted)"
    return CheckResult("reject_ratio", ratio <= t.max_reject_ratio, message)


def _finish_reason(stats: Mapping[str, Any], reason: str, t: Thresholds) -> CheckResult:
    return CheckResult(
        "finish_reason", reason in t.finish_reasons,
        f"finished with {reason!r}, expected one of {list(t.finish_reasons)}",
    )


def _store_writes(stats: Mapping[str, Any], reason: str, t: Thresholds) -> CheckResult:
    # Read after the store pipeline's final flush (and settle): the outcome, not a forecast.
    problems = []
    if lost := _count(stats, "newsspider/store/lost"):
        problems.append(f"{lost} writes lost: neither acknowledged by the store nor journaled")
    if _count(stats, "newsspider/store/writer_died"):
        problems.append("the store writer thread died")
    if refused := _count(stats, "newsspider/store/write_errors"):
        problems.append(f"{refused} writes refused by the store (ERROR lines name them)")
    if quarantined := _count(stats, "newsspider/store/journal_quarantined"):
        problems.append(f"{quarantined} journal records unreadable, moved to journal/quarantine/")
    return CheckResult(
        "store_writes", not problems,
        "; ".join(problems) or "every write stored or journaled",
    )


CHECKS: tuple[Callable[[Mapping[str, Any], str, Thresholds], CheckResult], ...] = (
    _min_items, _error_ratio, _reject_ratio, _finish_reason, _store_writes,
)


def evaluate(stats: Mapping[str, Any], reason: str, thresholds: Thresholds) -> list[CheckResult]:
    """Every check against one crawl's stats; pure, so thresholds are testable in a table."""
    return [check(stats, reason, thresholds) for check in CHECKS]


# -- drift: coverage against the portal's baseline and floors ------------------

# Where each coverage key comes from: the extraction field whose declared selectors find it.
SOURCE_FIELD: dict[str, str] = {
    "author": "author",
    "published_at": "published_at",
    "lead_image": "body_html",
    "images": "body_html",
    "body_text": "body_html",
    **{f"selectors/{name}": name for name in ("title", "published_at", "author", "body_html")},
}
# A required field (no article without it) that the declared selectors did not find is never
# ordinary variation: these keys are judged however few articles a run stored.
ALWAYS_JUDGED = frozenset({"selectors/title", "selectors/published_at", "selectors/body_html"})
# An optional field's shortfall that chance explains this often (or more) is no drift.
CHANCE = 0.05
# Declared selectors listed in a message, at most.
MAX_LISTED_SELECTORS = 6
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Baseline:
    """What the portal's last healthy runs measured: the median share of each coverage key,
    and for each extraction field the share of articles each declared selector found."""

    runs: int = 0
    coverage: Mapping[str, float] = field(default_factory=dict)
    selectors: Mapping[str, Mapping[int, float]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DriftRules:
    """How coverage is judged: settings, the portal's floors, its declared selectors."""

    max_drop: float = 0.3
    min_articles: int = 3
    floors: Mapping[str, float] = field(default_factory=dict)
    # Where a floor comes from, named in messages (default: the portal's ``expect``).
    floor_origins: Mapping[str, str] = field(default_factory=dict)
    # extraction field -> (where it is declared, e.g. "article.author", its selectors in order)
    selectors: Mapping[str, tuple[str, Sequence[str]]] = field(default_factory=dict)
    # The portal module, named in messages ("newsspider.portals.ofweek").
    module: str = ""


def is_healthy(run: Mapping[str, Any]) -> bool:
    checks = run.get("checks")
    return isinstance(checks, Mapping) and not checks.get("failed")


def baseline_of(runs: Iterable[Mapping[str, Any]], limit: int, min_articles: int) -> Baseline:
    """The baseline from ``runs`` (newest first): the last ``limit`` healthy runs that
    stored at least ``min_articles`` articles (fewer say little about coverage)."""
    chosen: list[Mapping[str, Any]] = []
    for run in runs:
        stats = run.get("stats") or {}
        if (
            is_healthy(run)
            and run.get("coverage")
            and _count(stats, "newsspider/coverage/articles") >= min_articles
        ):
            chosen.append(run)
            if len(chosen) >= limit:
                break
    if not chosen:
        return Baseline()
    keys = {key for run in chosen for key in run["coverage"]}
    coverage = {
        key: median(run["coverage"][key] for run in chosen if key in run["coverage"])
        for key in keys
    }
    selectors: dict[str, dict[int, float]] = {}
    for run in chosen:
        stats = run.get("stats") or {}
        for name, hits in selector_hits(stats).items():
            total = _count(stats, "newsspider/extract/articles")
            for index, count in hits.items():
                share = count / total if total else 0.0
                known = selectors.setdefault(name, {})
                known[index] = max(known.get(index, 0.0), share)
    return Baseline(len(chosen), coverage, selectors)


def selector_hits(stats: Mapping[str, Any]) -> dict[str, dict[int, int]]:
    """``{field: {selector index: articles it found the field on}}`` from a run's stats."""
    prefix = "newsspider/extract/selectors/"
    out: dict[str, dict[int, int]] = {}
    for key, value in stats.items():
        if not key.startswith(prefix):
            continue
        name, _, index = key[len(prefix):].rpartition("/")
        if name and index.isdigit():
            out.setdefault(name, {})[int(index)] = int(value or 0)
    return out


def coverage_checks(
    coverage: Mapping[str, float],
    articles: int,
    stats: Mapping[str, Any],
    baseline: Baseline,
    rules: DriftRules,
) -> list[CheckResult]:
    """One ``coverage/<key>`` result per key that has a baseline or a floor."""
    results = []
    for key in coverage:
        result = coverage_check(key, coverage, articles, stats, baseline, rules)
        if result is not None:
            results.append(result)
    return results


def coverage_check(
    key: str,
    coverage: Mapping[str, float],
    articles: int,
    stats: Mapping[str, Any],
    baseline: Baseline,
    rules: DriftRules,
) -> CheckResult | None:
    """The ``coverage/<key>`` check; ``None`` when there is nothing to judge it by.

    Optional fields are not judged below ``rules.min_articles`` stored
    articles, and their coverage fails only when chance cannot explain it
    (:func:`beyond_chance`): two articles without images among six is no
    drift.  The share of title, date and body the declared selectors found is
    judged as measured, from one article on (:data:`ALWAYS_JUDGED`).  A key
    with neither baseline nor floor is not judged.
    """
    value = coverage.get(key)
    base = baseline.coverage.get(key)
    floor = rules.floors.get(key)
    too_few = articles < rules.min_articles and key not in ALWAYS_JUDGED
    if value is None or articles < 1 or too_few or (base is None and floor is None):
        return None
    if base is None:
        context = "no baseline yet"
    else:
        runs = "healthy run" if baseline.runs == 1 else f"{baseline.runs} healthy runs"
        context = f"baseline {base:.2f}: median of the last {runs}"
    exact = key in ALWAYS_JUDGED
    problems = []
    if base is not None and value < base - rules.max_drop - _EPSILON and (
        exact or beyond_chance(value, articles, base - rules.max_drop)
    ):
        problems.append(
            f"{base - value:.2f} below the baseline, more than "
            f"NEWSSPIDER_MONITOR_MAX_COVERAGE_DROP {rules.max_drop:g}"
        )
    if floor is not None and value < floor - _EPSILON and (
        exact or beyond_chance(value, articles, floor)
    ):
        origin = rules.floor_origins.get(key) or (
            f"expect= in {rules.module}" if rules.module else "the portal's expect=")
        problems.append(f"below its floor {floor:.2f} ({origin})")
    if not problems:
        judged = [f"baseline {base:.2f}"] if base is not None else []
        judged += [f"floor {floor:.2f}"] if floor is not None else []
        return CheckResult(f"coverage/{key}", True, f"{_what(key)} {value:.2f} "
                           f"({', '.join(judged)})")
    message = f"{_what(key)} {value:.2f} ({context}) is " + " and ".join(problems)
    detail = _selector_detail(key, stats, baseline, rules)
    return CheckResult(f"coverage/{key}", False, message + (f"; {detail}" if detail else ""))


def beyond_chance(share: float, articles: int, expected: float) -> bool:
    """Whether ``share`` of ``articles`` is too low to come by chance from a rate of ``expected``.

    One-sided binomial test: the probability of seeing this few articles with
    the field, were each to have it with probability ``expected``, is below
    :data:`CHANCE` (a template change that empties a field gives ~0).
    """
    if expected >= 1.0:
        return share < 1.0
    if expected <= 0.0:
        return False
    seen = round(share * articles)
    return _binomial_cdf(seen, articles, expected) < CHANCE


def _binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space (n may be in the thousands)."""
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)
    return min(1.0, sum(
        math.exp(log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q)
        for i in range(k + 1)
    ))


def _what(key: str) -> str:
    if key.startswith("selectors/"):
        return f"share of articles whose {key.split('/', 1)[1]} the declared selectors found,"
    return f"{key} coverage"


def _selector_detail(
    key: str, stats: Mapping[str, Any], baseline: Baseline, rules: DriftRules
) -> str:
    """Which declared selectors stopped matching, and what filled in for them."""
    name = SOURCE_FIELD.get(key)
    if name is None or name not in rules.selectors:
        return ""
    where, declared = rules.selectors[name]
    where = f"{where} in {rules.module}" if rules.module else where
    total = _count(stats, "newsspider/extract/articles")
    now = selector_hits(stats).get(name, {})
    before = baseline.selectors.get(name, {})
    parts = []
    stopped = [
        index for index, share in sorted(before.items())
        if share > 0 and not now.get(index) and index < len(declared)
    ]
    if stopped:
        listed = ", ".join(
            f"{declared[i]!r} (found it on {before[i]:.0%} of articles before)"
            for i in stopped[:MAX_LISTED_SELECTORS]
        )
        parts.append(f"declared selectors that stopped matching ({where}): {listed}")
    elif total and not any(now.values()):
        listed = ", ".join(repr(s) for s in declared[:MAX_LISTED_SELECTORS])
        more = f" and {len(declared) - MAX_LISTED_SELECTORS} more" if (
            len(declared) > MAX_LISTED_SELECTORS) else ""
        parts.append(f"none of the declared selectors matched ({where}): {listed}{more}")
    fallback = _count(stats, f"newsspider/extract/fallback/{name}")
    missing = _count(stats, f"newsspider/extract/missing/{name}")
    if fallback:
        parts.append(f"automatic extraction found {name} on {fallback} of {total} articles")
    if missing:
        parts.append(f"nothing found {name} on {missing} of {total} articles")
    return "; ".join(parts)
