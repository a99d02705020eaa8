"""``make bench``: the contract §6 figures, measured side by side in one run.

``python -m bench`` (or ``make bench``) prints one ``name: value`` line per
figure and writes ``bench/out/report.json`` and ``bench/out/crawls.png``
(articles crawled and RSS over time for every crawl it ran).  Every crawl is
a ``scrapy crawl ofweek`` subprocess against one generated replica served by
its own process, so the crawler, the replica and the store never share a GIL.

Sizes: the full run crawls 10,000 and 50,000 articles for the memory figures
(``BENCH_QUICK=1``: 23 minutes on two cores, roughly half of them for the
instruction counts under valgrind, :mod:`bench.instructions`); ``BENCH_QUICK=1`` runs the
same figures at smaller sizes, labelled as such in the output and the report.

``pipeline_cpu_ratio`` (:mod:`bench.cpu`) counts CPU time of every process of
a crawl — the crawl, the embedded store server, body workers — with
:mod:`bench.cputree`, against :mod:`bench.plain_spider`; the wall-clock
ratios are reported as information, not targets.  Where a crawl's CPU goes
by stage: ``python -m bench.stages`` (needs py-spy; not run by ``make bench``).

``extraction_f1`` and its companions (:mod:`bench.extraction`, runnable
alone as ``python -m bench.extraction``) score automatic extraction on the
article-extraction-benchmark pages in ``shared/aeb-dev`` beside the
repository, with plain trafilatura's score and CPU time in the same run.

The process exits non-zero only when a figure could not be measured, never
because a target was missed.  Reads the environment: ``BENCH_QUICK``,
``BENCH_OUT`` (output directory, default ``bench/out``), ``BENCH_AEB_DIR``
(the benchmark's pages).  Writes no stats.
"""

from __future__ import annotations

from bench.runner import BenchConfig, run

__all__ = ["BenchConfig", "run"]
