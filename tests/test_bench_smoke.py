"""The ``make bench`` machinery runs end to end on a tiny size and reports every figure.

Not a timing test: the numbers at this size mean nothing; what is checked is
that every figure was measured (a positive number), that both kinds of crawl
really crawled the replica, and that the report and the plot are written.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil

import pytest

from bench.__main__ import main
from bench.runner import BenchConfig

FIGURES = (
    "pipeline_overhead_ratio",
    "bulk_vs_naive_store_ratio",
    "normalize_vs_trafilatura_ratio",
    "peak_rss_mb_10k",
    "peak_rss_mb_50k",
    "replica_pages_per_s",
    "bare_articles_per_s",
    "full_articles_per_s",
    "web_scaling_ratio",
    "extraction_f1",
    "extraction_time_ratio",
    # bench/cpu.py: every process of the crawl counted (crawl, store, body workers).
    "pipeline_cpu_ratio",
    "plain_cpu_ms_per_article",
    "full_cpu_ms_per_article",
    "full_cpu_ms_crawl",
    "full_cpu_ms_store",
)
# bench/scaleout.py: measured when redis-server is installed (with CI=true it must be).
SCALEOUT_FIGURES = ("scaleout_share_min", "scaleout_speedup_2", "scaleout_plain_vs_shared_1")


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """One tiny ``python -m bench`` (about 20 s): exit code, printed lines, output dir."""
    out = tmp_path_factory.mktemp("bench-out")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["--tiny", "--out", str(out)])
    return code, buffer.getvalue().splitlines(), out


@pytest.fixture(scope="module")
def report(bench_run: tuple) -> dict:
    code, _, out = bench_run
    assert code == 0
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_every_figure_is_a_positive_number(report: dict) -> None:
    figures = report["figures"]
    for name in FIGURES:
        value = figures[name]
        assert isinstance(value, int | float) and math.isfinite(value) and value > 0, (name, value)


def test_scaleout_figures_are_measured(report: dict) -> None:
    if shutil.which("redis-server") is None and os.environ.get("CI") != "true":
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    for name in SCALEOUT_FIGURES:
        value = report["figures"][name]
        assert isinstance(value, int | float) and math.isfinite(value) and value > 0, (name, value)
    share = report["details"]["scaleout"]["share"]
    assert sum(share["items_3w"]) == share["articles"]  # three workers, one crawl, each article once
    assert 0 < share["peak_in_flight_3w"] <= share["per_host_limit"]


def test_crawls_went_through_the_replica(report: dict) -> None:
    kinds = {c["kind"] for c in report["crawls"]}
    assert kinds == {"bare", "full", "plain"}
    config = BenchConfig.tiny()
    for crawl in report["crawls"]:
        least = min(config.cpu_sizes) if crawl["label"].startswith("cpu-") else config.overhead_articles
        assert crawl["articles"] >= least, crawl
        assert crawl["peak_rss_mb"] > 0
    # The full crawls stored what they crawled; the bare ones had no pipeline to do so,
    # and no store at all (no child process: the "no pipelines, no store").
    full = [c for c in report["crawls"] if c["kind"] == "full"]
    assert all(c["peak_tree_rss_mb"] > c["peak_rss_mb"] for c in full)  # the embedded store ran
    bare = [c for c in report["crawls"] if c["kind"] in ("bare", "plain")]
    assert bare and all(c["peak_tree_rss_mb"] == c["peak_rss_mb"] for c in bare)


def test_the_cpu_figure_counts_every_process(report: dict) -> None:
    """pipeline_cpu_ratio's crawls: the full ones' store and workers counted, the plain ones alone."""
    counted = [c for c in report["crawls"] if "cpu_s" in c]
    assert {c["kind"] for c in counted} == {"plain", "full"}
    for crawl in counted:
        by_kind = crawl["cpu_s_by_kind"]
        assert crawl["cpu_s"] >= by_kind["crawl"] > 0
        if crawl["kind"] == "full":
            assert by_kind["store"] > 0  # the embedded store server's CPU is in the total
            assert crawl["cpu_s"] > by_kind["crawl"]
        else:  # a plain spider has no store and no workers
            assert by_kind["store"] == by_kind["workers"] == 0
    detail = report["details"]["pipeline_cpu"]  # one round at this size: medians of one value
    for size in BenchConfig.tiny().cpu_sizes:  # both sides fetched the same pages
        requests = detail["rounds"][0]["requests"]
        assert requests[f"plain-{size}"] == requests[f"full-{size}"] > size, requests
    parts = sum(detail[f"full_cpu_ms_{k}"] for k in ("crawl", "store", "workers", "other"))
    assert abs(parts - detail["full_cpu_ms_per_article"]) < 0.05  # the split adds up


def test_prints_name_value_lines_and_writes_the_plot(bench_run: tuple) -> None:
    code, lines, out = bench_run
    assert code == 0
    printed = dict(line.split(": ", 1) for line in lines if not line.startswith("#"))
    assert printed["bench_mode"] == "tiny"
    for name in FIGURES:
        assert float(printed[name].split()[0]) > 0
    assert (out / "crawls.png").stat().st_size > 0
