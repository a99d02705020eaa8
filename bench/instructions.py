"""Instructions per article, every process counted (callgrind ``--trace-children=yes``).

``pipeline_overhead_ratio`` is a wall-clock figure, and on a shared host it
carries the host: the same bare crawl runs 130–270 articles/s within
minutes.  Instructions retired do not depend on the host's speed or load.

Three kinds of crawl run under ``valgrind --tool=callgrind
--trace-children=yes``, so the crawl process **and every process it starts**
(the embedded store server, body workers) is counted, one output file per
process: ``plain`` (:mod:`bench.plain_spider`, no pipelines, no store),
``bare`` (the portal spider with ``ITEM_PIPELINES={}`` and no store) and
``full`` (every pipeline and the store).  Each runs at two sizes, and the
difference between the sizes gives the instructions of one more article
with start-up and shut-down cancelled out.  Figures:
``pipeline_instructions_ratio`` (plain over full, the instruction-count
twin of ``pipeline_cpu_ratio``) and ``pipeline_overhead_instructions_ratio``
(bare over full), with the full crawl's millions of instructions per article
split by process (``full_minstr_crawl``, ``…_store``, ``…_workers``).  Every
process dumps its counts every :data:`DUMP_EVERY_BB` basic blocks (callgrind
``--dump-every-bb``) and the parts are summed: the crawl SIGKILLs its store
server at the end (and the body pool kills a worker slow to exit), and a
killed process never writes its final dump, so it loses at most its last
10 M basic blocks (~50 M instructions), at shut-down.  Not counted either:
the store's launcher before it execs nx-27017 (callgrind drops an image
replaced by ``exec``), start-up only, which the difference cancels anyway.  The store's writer flushes by
batch size only (``NEWSSPIDER_STORE_FLUSH_SECONDS`` raised): under valgrind
the crawl runs ~50× slower, and a 0.25 s flush would write batches of one
article, not the ~90 of a crawl at full speed.

The counts repeat to within ~1 % for the same code; ``valgrind`` must be on
``PATH`` (Debian's package ``valgrind``), else the figures are reported as
not measured.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.cputree import kind_of
from bench.procs import BenchError, run_crawl

KINDS = ("plain", "bare", "full")
# Basic blocks between callgrind's periodic dumps: a process killed at the end (the crawl
# SIGKILLs its store; the pool kills workers slow to exit) loses at most this many.
DUMP_EVERY_BB = 10_000_000
logger = logging.getLogger("bench")
# "cmd:  /usr/bin/python3 -m scrapy crawl ofweek …" (the traced process's command line)
_CMD = re.compile(r"^cmd:\s*(.*)$", re.MULTILINE)

# "summary: 6153587435" (callgrind's total of the event it counts, Ir by default)
_SUMMARY = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)
# Settings for a crawl that runs ~50x slower than usual: no timeouts, full store batches.
_SLOW_CRAWL = (
    "-s", "DOWNLOAD_TIMEOUT=900", "-s", "NEWSSPIDER_STORE_START_TIMEOUT=300",
    "-s", "NEWSSPIDER_STORE_FLUSH_SECONDS=3600",
)


def valgrind() -> str | None:
    """The ``valgrind`` executable, or None when it is not installed."""
    return shutil.which("valgrind")


def callgrind_total(path: Path) -> int:
    """The instruction total callgrind wrote to ``path``."""
    found = _SUMMARY.search(path.read_text(encoding="utf-8", errors="replace"))
    if found is None:
        raise BenchError(f"no instruction total in {path}")
    return int(found.group(1))


def process_kind(path: Path) -> str | None:
    """``crawl``, ``store``, ``workers`` or ``other``: what the process a callgrind file counts was.

    None for a file without a command line (a process killed before its final dump).
    """
    text = path.read_text(encoding="utf-8", errors="replace")[:20000]
    found = _CMD.search(text)
    if found is None:
        return None
    cmd = found.group(1)
    kind = kind_of(cmd.split())
    if kind == "other" and (" scrapy crawl " in f" {cmd} " or " scrapy runspider " in f" {cmd} "):
        return "crawl"
    return kind


def count_files(directory: Path) -> tuple[dict[str, int], list[str]]:
    """Instructions by process kind over every callgrind file (and dump part) in ``directory``.

    Also the kinds of the processes whose final dump is missing (killed): they
    are counted up to their last periodic dump.
    """
    by_pid: dict[str, list[Path]] = {}
    for path in directory.glob("callgrind.*"):
        by_pid.setdefault(path.name.split(".")[1], []).append(path)
    counts = {"crawl": 0, "store": 0, "workers": 0, "other": 0}
    killed: list[str] = []
    for paths in by_pid.values():
        # The process image that ran last names it (a fork execs its program): the final
        # dump, else the highest part.
        paths.sort(key=lambda p: int(p.name.split(".")[2]) if p.name.count(".") > 1 else 1 << 30)
        kinds = [k for k in map(process_kind, paths) if k is not None]
        kind = kinds[-1] if kinds else "other"
        for path in paths:
            if _SUMMARY.search(path.read_text(encoding="utf-8", errors="replace")):
                counts[kind] += callgrind_total(path)
            elif path.name.count(".") == 1:  # the final dump, never written: SIGKILLed
                killed.append(kind)
    return counts, killed


def counted_crawl(label: str, listing_url: str, pages: int, *, kind: str, tool: str
                  ) -> tuple[int, dict[str, int]]:
    """(articles, instructions by process kind) of one crawl and every process under it."""
    with tempfile.TemporaryDirectory(prefix="newsspider-bench-callgrind-") as tmp:
        prefix = [tool, "--tool=callgrind", "--trace-children=yes", f"--dump-every-bb={DUMP_EVERY_BB}",
                  f"--callgrind-out-file={Path(tmp) / 'callgrind.%p'}"]
        # The NEWSSPIDER_* settings mean nothing to the plain spider, and Scrapy ignores them.
        result = run_crawl(label, listing_url, pages, bare=kind == "bare", plain=kind == "plain",
                           prefix=prefix, extra_args=_SLOW_CRAWL, timeout_s=7200)
        counts, killed = count_files(Path(tmp))
        if killed:
            logger.info("%s: killed before their final dump, counted to their last: %s", label, killed)
        if counts["crawl"] == 0:
            raise BenchError(f"{label}: no callgrind file of the crawl process")
        if kind == "full" and counts["store"] == 0:
            raise BenchError(f"{label}: the store server was not traced")
        return result.articles, counts


def measure(listing_url: str, pages: tuple[int, int] = (3, 6)) -> dict[str, Any]:
    """Instructions per article of every kind of crawl (every process), and the ratios."""
    tool = valgrind()
    if tool is None:
        raise BenchError("valgrind is not installed (Debian: apt-get install valgrind)")
    small, large = pages
    runs = [(kind, size) for kind in KINDS for size in (small, large)]
    # Instruction counts do not depend on the other CPU's load: two at a time.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            run: pool.submit(counted_crawl, f"instructions-{run[0]}-{run[1]}", listing_url, run[1],
                             kind=run[0], tool=tool)
            for run in runs
        }
        counts = {run: future.result() for run, future in futures.items()}
    per_article: dict[str, float] = {}
    full_by_process: dict[str, float] = {}
    for kind in KINDS:
        (articles_small, by_small), (articles_large, by_large) = counts[kind, small], counts[kind, large]
        if articles_large <= articles_small:
            raise BenchError(f"the {kind} crawls of {small} and {large} pages crawled "
                             f"{articles_small} and {articles_large} articles")
        articles = articles_large - articles_small
        per_article[kind] = (sum(by_large.values()) - sum(by_small.values())) / articles
        if kind == "full":
            full_by_process = {k: (by_large[k] - by_small[k]) / articles for k in by_large}
    return {
        "pages": list(pages),
        "articles": {f"{kind}-{size}": counts[kind, size][0] for kind, size in runs},
        "instructions": {f"{kind}-{size}": counts[kind, size][1] for kind, size in runs},
        "plain_minstr_per_article": round(per_article["plain"] / 1e6, 3),
        "bare_minstr_per_article": round(per_article["bare"] / 1e6, 3),
        "full_minstr_per_article": round(per_article["full"] / 1e6, 3),
        **{f"full_minstr_{k}": round(v / 1e6, 3) for k, v in full_by_process.items()},
        "pipeline_instructions_ratio": round(per_article["plain"] / per_article["full"], 3),
        "pipeline_overhead_instructions_ratio": round(per_article["bare"] / per_article["full"], 3),
    }
