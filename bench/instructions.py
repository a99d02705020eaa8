"""Instructions the crawl process executes per article: bare against full (callgrind).

``pipeline_overhead_ratio`` is a wall-clock figure, and on a shared host it
carries the host: the same bare crawl runs 130–270 articles/s within
minutes, and the helpers of the full crawl (body worker, embedded store) run
on the other CPU, which on a machine whose two vCPUs share one core slows
the crawl's own thread.  Instructions retired do not depend on any of that.

Each kind of crawl (bare, full: the same commands as the wall-clock figure)
runs twice under ``valgrind --tool=callgrind``, at two sizes, and the
difference between the sizes gives the instructions of one more article with
start-up and shut-down cancelled out.  Only the crawl process is counted
(every thread of it); its children (the embedded store, body workers) are
not traced, and run at full speed.  The store's writer flushes by batch size
only (``NEWSSPIDER_STORE_FLUSH_SECONDS`` raised): under valgrind the crawl runs
~50× slower, and a 0.25 s flush would write batches of one article, not the
~90 of a crawl at full speed.

The counts repeat to within ~1 % for the same code; ``valgrind`` must be on
``PATH`` (Debian's package ``valgrind``), else the figure is reported as not
measured.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.procs import BenchError, run_crawl

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


def counted_crawl(label: str, listing_url: str, pages: int, *, bare: bool, tool: str) -> tuple[int, int]:
    """(articles, instructions) of one crawl process run under callgrind."""
    with tempfile.TemporaryDirectory(prefix="newsspider-bench-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        prefix = [tool, "--tool=callgrind", "--trace-children=no", f"--callgrind-out-file={out}"]
        result = run_crawl(label, listing_url, pages, bare=bare, prefix=prefix, extra_args=_SLOW_CRAWL,
                           timeout_s=7200)
        return result.articles, callgrind_total(out)


def measure(listing_url: str, pages: tuple[int, int] = (3, 6)) -> dict[str, Any]:
    """Instructions per article of the bare and the full crawl process, and their ratio."""
    tool = valgrind()
    if tool is None:
        raise BenchError("valgrind is not installed (Debian: apt-get install valgrind)")
    small, large = pages
    runs = [(kind, size) for kind in ("bare", "full") for size in (small, large)]
    # Instruction counts do not depend on the other CPU's load: two at a time.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            run: pool.submit(counted_crawl, f"instructions-{run[0]}-{run[1]}", listing_url, run[1],
                             bare=run[0] == "bare", tool=tool)
            for run in runs
        }
        counts = {run: future.result() for run, future in futures.items()}
    per_article: dict[str, float] = {}
    for kind in ("bare", "full"):
        (articles_small, total_small), (articles_large, total_large) = counts[kind, small], counts[kind, large]
        if articles_large <= articles_small:
            raise BenchError(f"the {kind} crawls of {small} and {large} pages crawled "
                             f"{articles_small} and {articles_large} articles")
        per_article[kind] = (total_large - total_small) / (articles_large - articles_small)
    return {
        "pages": list(pages),
        "articles": {f"{kind}-{size}": counts[kind, size][0] for kind, size in runs},
        "instructions": {f"{kind}-{size}": counts[kind, size][1] for kind, size in runs},
        "bare_minstr_per_article": round(per_article["bare"] / 1e6, 3),
        "full_minstr_per_article": round(per_article["full"] / 1e6, 3),
        "pipeline_overhead_instructions_ratio": round(per_article["bare"] / per_article["full"], 3),
    }
