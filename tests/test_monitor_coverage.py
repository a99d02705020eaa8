"""Field coverage and the drift checks, pure: tables of runs, baselines and floors."""

from __future__ import annotations

import pytest

from newsspider.monitor.checks import (
    Baseline,
    DriftRules,
    Thresholds,
    baseline_of,
    coverage_check,
    selector_hits,
)
from newsspider.monitor.coverage import BODY_TEXT_MIN_CHARS, CoverageCounter, present
from newsspider.monitor.suite import HealthSuite, run_suite

FULL = {
    "author": "OFweek医疗网", "published_at": object(), "summary": "s", "lead_image": "http://x/a.png",
    "images": [{"url": "http://x/a.png"}], "body_text": "字" * BODY_TEXT_MIN_CHARS,
    "extraction": {"title": "selectors", "published_at": "selectors", "author": "selectors",
                   "body_html": "selectors"},
}


def test_present_counts_a_field_only_when_it_is_there() -> None:
    assert set(present(FULL)) == {
        "author", "published_at", "summary", "lead_image", "images", "body_text",
        "selectors/title", "selectors/published_at", "selectors/author", "selectors/body_html",
    }
    healed = {**FULL, "author": None, "images": [], "lead_image": None,
              "body_text": "字" * (BODY_TEXT_MIN_CHARS - 1),
              "extraction": {"title": "selectors", "body_html": "auto", "published_at": "auto"}}
    assert set(present(healed)) == {"published_at", "summary", "selectors/title"}


def test_counter_shares() -> None:
    counter = CoverageCounter(selector_fields=("title", "body_html"))
    assert counter.shares() == {}  # nothing stored: nothing measured
    counter.add(FULL)
    counter.add({**FULL, "author": "", "extraction": {"title": "selectors", "body_html": "auto"}})
    counter.add({k: v for k, v in FULL.items() if k != "extraction"})  # a feed article
    shares = counter.shares()
    assert shares["author"] == pytest.approx(2 / 3, abs=1e-4)
    assert shares["body_text"] == 1.0
    # Over the two articles with provenance, and only for the fields asked for.
    assert shares["selectors/title"] == 1.0 and shares["selectors/body_html"] == 0.5
    assert "selectors/author" not in shares


def _run(coverage: dict, *, failed: list | None = None, articles: int = 20, hits: dict | None = None):
    stats = {"newsspider/coverage/articles": articles, "newsspider/extract/articles": articles}
    for name, counts in (hits or {}).items():
        for index, count in counts.items():
            stats[f"newsspider/extract/selectors/{name}/{index}"] = count
    return {"coverage": coverage, "stats": stats,
            "checks": {"passed": ["min_items"], "failed": failed or []}}


def test_baseline_is_the_median_of_the_last_healthy_runs() -> None:
    runs = [  # newest first
        _run({"author": 0.1}, failed=[{"name": "coverage/author", "message": "…"}]),
        _run({"author": 0.9}, articles=2),  # too few articles to say anything
        _run({"author": 0.8}),
        _run({"author": 1.0, "images": 0.5}),
        _run({"author": 0.6}),
        _run({"author": 0.0}),  # beyond the last three healthy runs
    ]
    baseline = baseline_of(runs, limit=3, min_articles=3)
    assert baseline.runs == 3
    assert baseline.coverage == {"author": 0.8, "images": 0.5}
    assert baseline_of([], 5, 3) == Baseline()
    # Runs recorded before checks carried messages (failed: [names]) are not healthy either.
    assert baseline_of([_run({"author": 1.0}, failed=["min_items"])], 5, 3).runs == 0


def test_baseline_keeps_which_selectors_used_to_match() -> None:
    runs = [_run({"author": 1.0}, hits={"author": {0: 10, 2: 10}}),
            _run({"author": 1.0}, hits={"author": {0: 20}})]
    baseline = baseline_of(runs, 5, 3)
    assert baseline.selectors == {"author": {0: 1.0, 2: 0.5}}
    assert selector_hits({"newsspider/extract/selectors/body_html/1": 3, "other": 1}) == {
        "body_html": {1: 3}}


RULES = DriftRules(
    max_drop=0.3, min_articles=3, floors={"author": 0.9},
    selectors={"author": ("article.author", ["div.source-name", "#laiyuan span", "#mp"])},
    module="newsspider.portals.example",
)
BASE = Baseline(runs=4, coverage={"author": 1.0, "images": 0.6},
                selectors={"author": {0: 0.7, 1: 0.3}})


@pytest.mark.parametrize(
    ("key", "value", "articles", "baseline", "expected"),
    [
        ("images", 0.6, 20, BASE, True),
        ("images", 0.31, 20, BASE, True),  # 0.29 below: within the allowed drop
        ("images", 0.0, 20, BASE, False),  # 0.6 below
        # 0.35 below the baseline, but 5 of 20 from a rate of 0.3 is chance, not drift.
        ("images", 0.25, 20, BASE, True),
        ("images", 0.2, 200, BASE, False),  # 40 of 200 is not
        ("author", 0.95, 20, BASE, True),
        ("author", 0.85, 20, BASE, True),  # under the floor 0.9 by one article: chance
        ("author", 0.6, 20, BASE, False),  # within the drop, well under the portal's floor
        ("author", 0.6, 20, Baseline(), False),  # first run: the floor alone
        # The selectors' share of a required field is judged as measured, from one article on.
        ("selectors/body_html", 0.5, 2, Baseline(1, {"selectors/body_html": 1.0}), False),
        ("images", 0.0, 20, Baseline(), None),  # first run, no floor: not judged
        ("author", 0.0, 2, BASE, None),  # too few articles to judge an optional field
        ("selectors/body_html", 0.0, 1, Baseline(1, {"selectors/body_html": 1.0}), False),
        ("author", 0.0, 3, BASE, False),  # none of three: no chance
        ("summary", 0.0, 20, BASE, None),  # no baseline for it, no floor
    ],
)
def test_coverage_check_table(key, value, articles, baseline, expected) -> None:
    result = coverage_check(key, {key: value}, articles, {}, baseline, RULES)
    if expected is None:
        assert result is None
        return
    assert result is not None and result.name == f"coverage/{key}"
    assert result.passed is expected, result.message
    assert result.message


def test_a_failed_check_names_field_coverage_baseline_and_the_selectors_that_stopped() -> None:
    stats = {"newsspider/extract/articles": 20, "newsspider/extract/selectors/author/2": 4,
             "newsspider/extract/fallback/author": 10, "newsspider/extract/missing/author": 6}
    result = coverage_check("author", {"author": 0.7}, 20, stats, BASE, RULES)
    assert result is not None and not result.passed
    message = result.message
    assert message.startswith(
        "author coverage 0.70 (baseline 1.00: median of the last 4 healthy runs) is below its "
        "floor 0.90 (expect= in newsspider.portals.example)")
    assert ("declared selectors that stopped matching (article.author in "
            "newsspider.portals.example): 'div.source-name' (found it on 70% of articles "
            "before), '#laiyuan span' (found it on 30% of articles before)") in message
    assert "'#mp'" not in message  # it still matches
    assert "automatic extraction found author on 10 of 20 articles" in message
    assert "nothing found author on 6 of 20 articles" in message


def test_without_a_baseline_the_message_lists_every_declared_selector() -> None:
    stats = {"newsspider/extract/articles": 20}
    result = coverage_check("selectors/author", {"selectors/author": 0.0}, 20, stats,
                            Baseline(), DriftRules(floors={"selectors/author": 0.5},
                                                   selectors=RULES.selectors))
    assert result is not None and not result.passed
    assert ("none of the declared selectors matched (article.author): 'div.source-name', "
            "'#laiyuan span', '#mp'") in result.message


def test_the_spidermon_suite_reports_passed_and_failed_by_name() -> None:
    data = {
        "stats": {"item_scraped_count": 20, "downloader/response_count": 25},
        "reason": "finished", "thresholds": Thresholds(),
        "coverage": {"author": 0.2, "images": 0.6, "summary": 1.0}, "articles": 20,
        "baseline": BASE, "drift": RULES,
    }
    passed, failed = run_suite([HealthSuite()], data)
    assert set(passed) == {"min_items", "error_ratio", "reject_ratio", "finish_reason",
                           "store_writes", "coverage/images"}
    assert [c["name"] for c in failed] == ["coverage/author"]
    assert failed[0]["message"].startswith(
        "author coverage 0.20 (baseline 1.00: median of the last 4 healthy runs) is 0.80 below "
        "the baseline, more than NEWSSPIDER_MONITOR_MAX_COVERAGE_DROP 0.3 and below its floor")


def test_beyond_chance() -> None:
    from newsspider.monitor.checks import beyond_chance

    assert beyond_chance(0.0, 10, 0.7) and not beyond_chance(0.6, 10, 0.7)
    assert beyond_chance(0.9, 10, 1.0)  # a rate of 1 never misses
    assert not beyond_chance(0.0, 10, 0.0)
    assert beyond_chance(0.6, 5000, 0.7) and not beyond_chance(0.69, 5000, 0.7)
