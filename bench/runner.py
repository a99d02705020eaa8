"""Measure every figure and build the report (see :mod:`bench`).

``run(config)`` returns ``{"figures": {name: value}, "details": {...},
"crawls": [...]}``; :mod:`bench.__main__` prints and saves it.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench import cpu as cpu_bench
from bench import exports as exports_bench
from bench import instructions as instructions_bench
from bench import normalize as normalize_bench
from bench.procs import BenchError, CrawlResult, Replica, article_urls, fetch, run_crawl

logger = logging.getLogger("bench")


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of one bench run."""

    mode: str = "full"
    per_page: int = 50  # replica listing page size: fewer listing pages per article
    overhead_articles: int = 1500  # articles per crawl of the pipeline-overhead pairs
    overhead_repeats: int = 9  # full crawls, each between two bare ones; the median counts (the host is noisy)
    rss_small: int = 10_000  # articles of the crawl reported as peak_rss_mb_10k
    rss_large: int = 50_000  # … as peak_rss_mb_50k
    store_items: int = 2000  # documents per side of bulk_vs_naive_store_ratio
    store_rounds: int = 3
    normalize_pages: int = 40
    normalize_repeat: int = 5
    replica_requests: int = 5000
    replica_clients: int = 8
    # The "done when": a crawl of a separate 900-article replica (its own seed,
    # 20 per listing page), whole processes timed from start to exit.
    unseen_articles: int = 900
    unseen_repeats: int = 9
    # pipeline_cpu_ratio (bench/cpu.py): articles of the two crawl sizes whose difference
    # counts, and rounds (plain and full at both sizes each); the median counts.
    cpu_sizes: tuple[int, int] = (300, 1500)
    cpu_repeats: int = 7
    # Listing pages of the two crawl sizes counted under callgrind (None: not measured).
    instruction_pages: tuple[int, int] | None = (3, 6)
    export_articles: int = 20_000  # stored articles under the changed-since query (bench/exports.py)
    # web_scaling_ratio: the dashboard's pages on two stores of these sizes (bench/web.py).
    web_small: int = 500
    web_large: int = 50_000
    web_rounds: int = 15
    # extraction_f1 (bench/extraction.py): runs per page for the CPU time (best counts), and
    # pages scored (None: all).  Only tiny mode falls back to the five pages in tests/fixtures.
    extraction_repeat: int = 3
    extraction_pages: int | None = None

    @classmethod
    def quick(cls) -> BenchConfig:
        return cls(
            mode="quick", overhead_articles=500, rss_small=1000, rss_large=5000, unseen_repeats=1,
            store_items=500, store_rounds=1, normalize_pages=20, normalize_repeat=3,
            replica_requests=2000, export_articles=5000, web_large=5000, web_rounds=7,
            cpu_sizes=(100, 500), cpu_repeats=3,
        )

    @classmethod
    def tiny(cls) -> BenchConfig:
        """For the smoke test: every code path, seconds not minutes; numbers meaningless."""
        return cls(
            mode="tiny", per_page=10, overhead_articles=30, overhead_repeats=1, rss_small=30,
            rss_large=60, store_items=40, store_rounds=1, normalize_pages=3, normalize_repeat=1,
            replica_requests=200, replica_clients=2, unseen_articles=40, unseen_repeats=1,
            instruction_pages=None, export_articles=40, web_small=50, web_large=200,
            web_rounds=1, extraction_repeat=1, extraction_pages=3, cpu_sizes=(20, 200), cpu_repeats=1,
        )


def _pages(articles: int, per_page: int) -> int:
    return max(1, -(-articles // per_page))


def _bracketed(label: str, listing_url: str, pages: int, repeats: int, expected: int,
               crawls: list[CrawlResult]) -> tuple[list[CrawlResult], list[CrawlResult]]:
    """Bare and full crawls alternated, bare first and last: B F B F … F B."""
    bare: list[CrawlResult] = []
    full: list[CrawlResult] = []
    for is_bare in [True, False] * repeats + [True]:
        runs = bare if is_bare else full
        kind = "bare" if is_bare else "full"
        result = run_crawl(f"{label}-{kind}-{len(runs) + 1}", listing_url, pages, bare=is_bare)
        runs.append(result)
        crawls.append(result)
        logger.info("%s: %d articles, %.1f/s, %.2f s from start to exit", result.label,
                    result.articles, result.articles_per_s, result.wall_s)
        if result.articles < expected:
            raise BenchError(f"{result.label} crawled {result.articles} of {expected} articles")
    return bare, full


def _bracket_ratios(bare: list[CrawlResult], full: list[CrawlResult],
                    value: Callable[[CrawlResult], float], higher_is_faster: bool) -> list[float]:
    """Each full crawl against the mean of the bare crawls just before and after it.

    The host's speed drifts (the same bare crawl ranges 130–240 articles/s
    here within minutes): bracketing cancels a drift that is steady over a pair.
    """
    out = []
    for before, f, after in zip(bare, full, bare[1:], strict=False):
        reference = (value(before) + value(after)) / 2
        out.append(value(f) / reference if higher_is_faster else reference / value(f))
    return out


def _pipeline_overhead(config: BenchConfig, replica: Replica, crawls: list[CrawlResult]) -> dict[str, Any]:
    bare, full = _bracketed("overhead", replica.listing_url, _pages(config.overhead_articles, config.per_page),
                            config.overhead_repeats, config.overhead_articles, crawls)
    ratios = _bracket_ratios(bare, full, lambda r: r.articles_per_s, higher_is_faster=True)
    walls = _bracket_ratios(bare, full, lambda r: r.wall_s, higher_is_faster=False)
    return {
        "articles": config.overhead_articles,
        "repeats": config.overhead_repeats,
        "bare_articles_per_s": round(statistics.median(r.articles_per_s for r in bare), 1),
        "full_articles_per_s": round(statistics.median(r.articles_per_s for r in full), 1),
        "pipeline_overhead_ratio": round(statistics.median(ratios), 3),
        "bracketed_ratios": [round(r, 3) for r in ratios],
        "wall_ratio_median": round(statistics.median(walls), 3),
    }


def _instructions(config: BenchConfig, replica: Replica) -> dict[str, Any] | None:
    """Instructions per article of every process of a crawl, plain and bare over full; None when not measured."""
    if config.instruction_pages is None:
        return None
    if instructions_bench.valgrind() is None:
        logger.warning("pipeline_instructions_ratio, pipeline_overhead_instructions_ratio: not measured "
                       "(valgrind is not installed; Debian: apt-get install valgrind)")
        return None
    result = instructions_bench.measure(replica.listing_url, config.instruction_pages)
    logger.info("instructions per article, every process: plain %.2f M, bare %.2f M, full %.2f M",
                result["plain_minstr_per_article"], result["bare_minstr_per_article"],
                result["full_minstr_per_article"])
    return result


def _unseen(config: BenchConfig, crawls: list[CrawlResult]) -> dict[str, Any]:
    """Whole-process wall time, bare over full, on a replica no other figure uses."""
    per_page = 20
    with Replica(config.unseen_articles, per_page, seed=7) as replica:
        bare, full = _bracketed("unseen", replica.listing_url, _pages(config.unseen_articles, per_page),
                                config.unseen_repeats, config.unseen_articles, crawls)
    walls = _bracket_ratios(bare, full, lambda r: r.wall_s, higher_is_faster=False)
    return {
        "articles": config.unseen_articles,
        "bare_wall_s": [round(r.wall_s, 2) for r in bare],
        "full_wall_s": [round(r.wall_s, 2) for r in full],
        "unseen_900_wall_ratio": round(statistics.median(walls), 3),
        "bracketed_ratios": [round(r, 3) for r in walls],
    }


def _peak_rss(config: BenchConfig, replica: Replica, crawls: list[CrawlResult]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, size in (("small", config.rss_small), ("large", config.rss_large)):
        result = run_crawl(f"rss-{size}", replica.listing_url, _pages(size, config.per_page), bare=False)
        crawls.append(result)
        if result.articles < size:
            raise BenchError(f"{result.label} crawled {result.articles} of {size} articles")
        out[name] = result
        logger.info("%s: peak RSS %.1f MB, %.1f articles/s", result.label, result.peak_rss_mb,
                    result.articles_per_s)
    small, large = out["small"], out["large"]
    return {
        "articles_small": config.rss_small,
        "articles_large": config.rss_large,
        "peak_rss_mb_10k": round(small.peak_rss_mb, 1),
        "peak_rss_mb_50k": round(large.peak_rss_mb, 1),
        "rss_growth_ratio": round(large.peak_rss_mb / small.peak_rss_mb, 3),
        "peak_tree_rss_mb_small": round(small.peak_tree_rss_mb, 1),
        "peak_tree_rss_mb_large": round(large.peak_tree_rss_mb, 1),
        "articles_per_s_small": round(small.articles_per_s, 1),
        "articles_per_s_large": round(large.articles_per_s, 1),
    }


def _store(config: BenchConfig) -> dict[str, Any]:
    from newsspider.store.bench import measure_bulk_vs_naive
    from newsspider.store.embedded import EmbeddedStore

    with (
        tempfile.TemporaryDirectory(prefix="newsspider-bench-store-") as tmp,
        EmbeddedStore(tmp) as server,
    ):
        # The bench's own embedded server, as a crawl's store is: the writer commits
        # once per batch there (batch transactions), as it does in a crawl.
        return measure_bulk_vs_naive(server.uri, n=config.store_items, rounds=config.store_rounds,
                                     batch_transactions=True)


def _normalize(config: BenchConfig, replica: Replica) -> dict[str, Any]:
    urls = article_urls(replica.listing_url, config.normalize_pages, config.per_page)
    if not urls:
        raise BenchError("the replica listed no articles")
    pages = [(fetch(url), url) for url in urls]
    return normalize_bench.measure(pages, repeat=config.normalize_repeat)


def _extraction(config: BenchConfig) -> tuple[dict[str, Any], tuple[str, ...]]:
    # Imported here: ``python -m bench.extraction`` must find the module not yet imported.
    from bench import extraction as extraction_bench

    directory = extraction_bench.AEB_DIR
    if not directory.is_dir():
        if config.mode != "tiny":
            raise BenchError(
                f"{directory}: the article-extraction-benchmark pages are missing "
                "(BENCH_AEB_DIR names them)"
            )
        directory = extraction_bench.FIXTURE_DIR
    pages = extraction_bench.load_pages(directory, config.extraction_pages)
    result = extraction_bench.measure(pages, repeat=config.extraction_repeat)
    result["directory"] = str(directory)
    return result, extraction_bench.FIGURES


def _replica(config: BenchConfig) -> dict[str, Any]:
    from newsspider.replica.bench import measure

    rate = measure(max(1000, config.rss_large), config.replica_requests, config.replica_clients)
    return {"replica_pages_per_s": round(rate), "requests": config.replica_requests}


def run(config: BenchConfig, progress: Callable[[str, Any], None] | None = None) -> dict[str, Any]:
    """Measure every figure; ``progress(name, value)`` is called as each is known."""
    started = time.perf_counter()
    figures: dict[str, Any] = {}
    details: dict[str, Any] = {}
    crawls: list[CrawlResult] = []
    errors: list[str] = []  # figures that could not be measured (the run exits 1)

    def publish(section: str, result: dict[str, Any], names: tuple[str, ...]) -> None:
        details[section] = result
        for name in names:
            figures[name] = result[name]
            if progress is not None:
                progress(name, result[name])

    publish("extraction", *_extraction(config))
    publish("replica", _replica(config), ("replica_pages_per_s",))
    replica_size = max(config.rss_large, config.overhead_articles, config.normalize_pages)
    with Replica(replica_size, config.per_page) as replica:
        publish("normalize", _normalize(config, replica), (
            "normalize_vs_trafilatura_ratio", "images_normalize_vs_trafilatura_ratio",
            "normalize_ms_median", "trafilatura_ms_median",
        ))
        publish("pipeline_overhead", _pipeline_overhead(config, replica, crawls), (
            "pipeline_overhead_ratio", "bare_articles_per_s", "full_articles_per_s",
        ))
        publish("pipeline_cpu", cpu_bench.measure(config.cpu_sizes, config.cpu_repeats, crawls=crawls),
                cpu_bench.FIGURES)
        try:
            counted = _instructions(config, replica)
        except BenchError as exc:  # valgrind runs are long: measure the rest, then fail the run
            logger.error("pipeline_instructions_ratio: could not measure: %s", exc)
            errors.append(f"instructions: {exc}")
            counted = None
        if counted is not None:
            publish("instructions", counted, (
                "pipeline_instructions_ratio", "pipeline_overhead_instructions_ratio",
                "plain_minstr_per_article", "bare_minstr_per_article", "full_minstr_per_article",
                "full_minstr_crawl", "full_minstr_store", "full_minstr_workers",
            ))
        publish("unseen", _unseen(config, crawls), ("unseen_900_wall_ratio",))
        publish("store", _store(config), (
            "bulk_vs_naive_store_ratio", "bulk_items_per_s", "naive_items_per_s",
        ))
        publish("exports", exports_bench.measure(config.export_articles), (
            "changed_since_query_ms", "incremental_jsonl_export_ms", "incremental_after_burst_ms",
        ))
        publish("peak_rss", _peak_rss(config, replica, crawls), (
            "peak_rss_mb_10k", "peak_rss_mb_50k", "rss_growth_ratio",
        ))
    from bench import web as web_bench  # here, so `python -m bench.web` imports it once

    publish("web", web_bench.measure(config.web_small, config.web_large, config.web_rounds), (
        "web_scaling_ratio", "web_slowest_page", "web_scaling_cpu_ratio",
    ))
    return {
        "mode": config.mode,
        "config": asdict(config),
        "figures": figures,
        "details": details,
        "crawls": [c.summary() for c in crawls],
        "series": {
            c.label: {"rss": c.rss_samples, "items": c.item_samples} for c in crawls
        },
        "elapsed_s": round(time.perf_counter() - started, 1),
        "errors": errors,
    }
