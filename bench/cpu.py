"""``pipeline_cpu_ratio``: CPU time per article, a plain Scrapy spider over the full crawl, every process counted.

The plain side is :mod:`bench.plain_spider` (``scrapy runspider``: the same
listing and article pages, the same fields picked with plain selectors, no
pipelines, no store); the full side is ``scrapy crawl ofweek -a full=1`` with
every pipeline and the embedded store.  Both run under :mod:`bench.cputree`,
which counts user + system time of the crawl process **and every process
under it** — the embedded store server (nx-27017), the body workers, anything
else — exactly (the waited children's times and re-parented orphans), and
splits it by process kind.

Start-up is subtracted, not amortized: each side crawls two sizes of one
replica of its own (seed 11, 20 articles per listing page, as the issue's
unseen portal), and the difference between them over the difference in
articles is the CPU of one more article, with interpreter start, imports,
the store's and the workers' start and the final flush cancelled out.  One
round runs plain-small, full-small, full-large, plain-large (drift that is
steady over a round cancels); the figure is the median over the rounds of
plain ms per article / full ms per article.  Also reported, as information:
the same ratio for whole processes of the large crawl (start-up included,
``pipeline_cpu_ratio_whole``) and the wall-clock one
(``pipeline_cpu_wall_ratio``: whole processes from start to exit).

Self-check: every full crawl must show CPU in the store server and the
crawl's total at least its own process's; the plain crawl must have no
store and no body worker.  A crawl that fails either is a :class:`BenchError`.
"""

from __future__ import annotations

import logging
import statistics
from typing import Any

from bench.procs import BenchError, CrawlResult, Replica, run_crawl

logger = logging.getLogger("bench")

KINDS = ("crawl", "store", "workers", "other")
FIGURES = (
    "pipeline_cpu_ratio", "plain_cpu_ms_per_article", "full_cpu_ms_per_article",
    "full_cpu_ms_crawl", "full_cpu_ms_store", "full_cpu_ms_workers",
    "pipeline_cpu_ratio_whole", "pipeline_cpu_wall_ratio",
)


def check(result: CrawlResult) -> None:
    """The accounting must have seen what a crawl of its kind runs; raise otherwise."""
    cpu = result.cpu
    if cpu is None:
        raise BenchError(f"{result.label}: no CPU accounting")
    if cpu["orphans"] and any(o["cpu_s"] < 0 for o in cpu["orphans"]):
        raise BenchError(f"{result.label}: negative CPU time for an orphan")
    if cpu["total_s"] < cpu["own_s"] or cpu["own_s"] <= 0:
        raise BenchError(f"{result.label}: total {cpu['total_s']} s below the crawl process's own {cpu['own_s']} s")
    # The kernel's two views of one process (ticks in /proc, microseconds in rusage) agree.
    if abs(cpu["rusage_s"] - (cpu["own_s"] + cpu["waited_children_s"])) > 0.05 + 0.02 * cpu["rusage_s"]:
        raise BenchError(f"{result.label}: /proc says {cpu['own_s'] + cpu['waited_children_s']:.2f} s, "
                         f"rusage {cpu['rusage_s']:.2f} s")
    if result.kind == "full" and cpu["by_kind"]["store"] <= 0:
        raise BenchError(f"{result.label}: the store server's CPU was not counted")
    # (A child of its own is fine: Python's platform module runs ``uname -p``, counted as "other".)
    if result.kind == "plain" and (cpu["by_kind"]["store"] or cpu["by_kind"]["workers"]):
        raise BenchError(f"{result.label}: the plain spider ran a store or body workers: {cpu['processes']}")


def _crawl(label: str, replica: Replica, pages: int, kind: str, expected: int,
           crawls: list[CrawlResult]) -> CrawlResult:
    result = run_crawl(label, replica.listing_url, pages, bare=False, plain=kind == "plain", count_cpu=True)
    crawls.append(result)
    assert result.cpu is not None
    logger.info("%s: %d articles, %.2f s CPU (%s), %.2f s wall", label, result.articles,
                result.cpu["total_s"],
                ", ".join(f"{k} {v:.2f}" for k, v in result.cpu["by_kind"].items() if v), result.wall_s)
    if result.articles < expected:
        raise BenchError(f"{label} crawled {result.articles} of {expected} articles")
    check(result)
    return result


def _marginal_ms(small: CrawlResult, large: CrawlResult, kind: str | None = None) -> float:
    """CPU ms of one more article between two crawls (``kind``: one process kind, else all)."""
    assert small.cpu is not None and large.cpu is not None
    articles = large.articles - small.articles
    if articles <= 0:
        raise BenchError(f"{small.label} and {large.label} crawled {small.articles} and {large.articles} articles")
    if kind is None:
        delta = large.cpu["total_s"] - small.cpu["total_s"]
    else:
        delta = large.cpu["by_kind"][kind] - small.cpu["by_kind"][kind]
    return 1000 * delta / articles


def measure(sizes: tuple[int, int], repeats: int, per_page: int = 20, seed: int = 11,
            crawls: list[CrawlResult] | None = None) -> dict[str, Any]:
    """The figure and its breakdown; ``sizes`` = (small, large) articles per crawl."""
    crawls = crawls if crawls is not None else []
    small, large = sizes
    pages = {size: max(1, -(-size // per_page)) for size in sizes}
    rounds: list[dict[str, Any]] = []
    with Replica(large, per_page, seed=seed) as replica:
        for r in range(1, repeats + 1):
            runs: dict[tuple[str, int], CrawlResult] = {}
            for kind, size in (("plain", small), ("full", small), ("full", large), ("plain", large)):
                runs[kind, size] = _crawl(f"cpu-{kind}-{size}-{r}", replica, pages[size], kind, size, crawls)
            plain_ms = _marginal_ms(runs["plain", small], runs["plain", large])
            full_ms = _marginal_ms(runs["full", small], runs["full", large])
            if plain_ms <= 0 or full_ms <= 0:
                raise BenchError(f"round {r}: the larger crawl took less CPU than the smaller "
                                 f"(plain {plain_ms:.2f}, full {full_ms:.2f} ms per article)")
            p_large, f_large = runs["plain", large], runs["full", large]
            assert p_large.cpu is not None and f_large.cpu is not None
            rounds.append({
                "plain_ms": plain_ms,
                "full_ms": full_ms,
                "full_ms_by_kind": {k: _marginal_ms(runs["full", small], f_large, k) for k in KINDS},
                "ratio": plain_ms / full_ms,
                "whole_ratio": (p_large.cpu["total_s"] / p_large.articles)
                / (f_large.cpu["total_s"] / f_large.articles),
                "wall_ratio": p_large.wall_s / f_large.wall_s,
                "cpu_s": {f"{k}-{s}": round(v.cpu["total_s"], 3) for (k, s), v in runs.items() if v.cpu},
                "articles": {f"{k}-{s}": v.articles for (k, s), v in runs.items()},
                "requests": {f"{k}-{s}": int(v.stats.get("downloader/request_count", 0))
                             for (k, s), v in runs.items()},
            })
            logger.info("cpu round %d: plain %.2f ms, full %.2f ms per article (%s): ratio %.3f", r,
                        plain_ms, full_ms, ", ".join(f"{k} {v:.2f}" for k, v in
                                                      rounds[-1]["full_ms_by_kind"].items()),
                        rounds[-1]["ratio"])

    def med(values: list[float], digits: int = 3) -> float:
        return round(statistics.median(values), digits)

    by_kind = {k: med([r["full_ms_by_kind"][k] for r in rounds], 2) for k in KINDS}
    return {
        "sizes": list(sizes),
        "per_page": per_page,
        "seed": seed,
        "repeats": repeats,
        "method": "difference of two crawl sizes (start-up cancelled); median over rounds",
        "pipeline_cpu_ratio": med([r["ratio"] for r in rounds]),
        "plain_cpu_ms_per_article": med([r["plain_ms"] for r in rounds], 2),
        "full_cpu_ms_per_article": med([r["full_ms"] for r in rounds], 2),
        "full_cpu_ms_crawl": by_kind["crawl"],
        "full_cpu_ms_store": by_kind["store"],
        "full_cpu_ms_workers": by_kind["workers"],
        "full_cpu_ms_other": by_kind["other"],
        "pipeline_cpu_ratio_whole": med([r["whole_ratio"] for r in rounds]),
        "pipeline_cpu_wall_ratio": med([r["wall_ratio"] for r in rounds]),
        "rounds": [
            {k: (round(v, 3) if isinstance(v, float) else
                 {kk: round(vv, 3) for kk, vv in v.items()} if k == "full_ms_by_kind" else v)
             for k, v in r.items()}
            for r in rounds
        ],
    }
