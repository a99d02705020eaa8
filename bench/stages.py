"""``python -m bench.stages [--articles N] [--py-spy PATH]``: where a full crawl's CPU goes, by stage.

Not part of ``make bench`` (it needs py-spy, which is no dependency of the
project: ``pip install --target DIR py-spy`` and pass ``--py-spy
DIR/bin/py-spy``).  Runs one full crawl of a fresh replica (seed 11, 20 per
listing page, as ``pipeline_cpu_ratio``) under ``py-spy record
--subprocesses --format raw`` — a sampling profiler that counts only samples
where a thread is on the CPU (no ``--idle``), in every Python process of the
crawl: the crawl process with all its threads, the embedded store server
(nx-27017 is Python) and the body workers — and gives every sample of the
crawl process to a stage by the outermost newsspider frame of its stack
(an import anywhere: start-up), every sample of a child to its process.
Prints one line per stage, ``stage: share %`` of all samples and of the crawl
process's own (start-up excluded); with ``--json`` the counts; ``--plain``
profiles :mod:`bench.plain_spider` on the same pages instead.

py-spy counts samples where a thread is not idle, which is not CPU time: on
a loaded host its split *between* processes is off (``bench/cputree.py``
measures that one exactly), so use its split *within* the crawl process,
applied to ``full_cpu_ms_crawl``.  The sampler's own CPU is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.cputree import kind_of
from bench.procs import Replica, _crawl_command, _plain_command

STARTUP = "start-up and shut-down (imports)"
# Stage of a crawl-process sample: the outermost newsspider frame of its stack names it.
_RULES = (
    ("extraction (spider callbacks, newsspider.extract)",
     re.compile(r"\(newsspider/(spiders|extract)/|plain_spider\.py")),
    ("body stage, crawl side (images + normalize pipelines, the pool)",
     re.compile(r"\(newsspider/(pipelines/(images|normalize)|normalize/)")),
    ("validate pipeline", re.compile(r"\(newsspider/pipelines/validate")),
    ("dedup pipeline", re.compile(r"\(newsspider/pipelines/dedup")),
    ("store client (store pipeline, writer thread, pymongo)",
     re.compile(r"\(newsspider/(pipelines/store|store/)|thread \(\d+\): pymongo")),
    ("downloader (newsspider.downloader, netguard, retry → Scrapy's HTTP/1.1 handler)",
     re.compile(r"\(newsspider/(downloader|netguard|downloadermiddlewares)")),
    ("extensions (runs, monitor, stats, GC tuning)", re.compile(r"\(newsspider/(extensions|monitor|stats)")),
)
PROCESSES = ("store server process (nx-27017)", "body worker processes", "other processes")
_PROCESS_STAGE = dict(zip(("store", "workers", "other"), PROCESSES, strict=True))
REST = "Scrapy engine, scheduler, Twisted/asyncio loop (no newsspider frame)"
# A raw line: 'process 1:"cmd";[process 2:"cmd";]thread (2): MainThread;func (file.py:12);… 42'
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")


def stage_of(frames: list[str]) -> str:
    """The stage one sampled stack (outermost first) counts for."""
    children = [f for f in frames[1:] if f.startswith("process ")]
    if children:  # a sample of a child process (py-spy names the parent first)
        return _PROCESS_STAGE[kind_of(children[-1].split())]
    if any("importlib._bootstrap" in f for f in frames[2:]):  # an import, wherever it happens
        return STARTUP
    for frame in frames[1:]:
        if "newsspider/commands/" in frame:
            continue  # the root of every sample of ``scrapy crawl``
        for name, pattern in _RULES:
            if pattern.search(frame):
                return name
    return REST


def profile(articles: int, py_spy: str, rate: int, plain: bool = False, keep: str = "") -> Counter[str]:
    per_page = 20
    with Replica(articles, per_page, seed=11) as replica, \
            tempfile.TemporaryDirectory(prefix="newsspider-bench-stages-") as tmp:
        out = Path(tmp) / "raw.txt"
        env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URI", "REDIS_URL")}
        env.update(AUTOTHROTTLE_ENABLED="false", NEWSSPIDER_DATA_DIR=tmp)
        pages = -(-articles // per_page)
        if plain:
            command = _plain_command(replica.listing_url, pages)
        else:
            command = _crawl_command(replica.listing_url, pages, bare=False)
        subprocess.run([py_spy, "record", "--subprocesses", "--threads", "--format", "raw", "--rate",
                        str(rate), "--output", str(out), "--nonblocking", "--", *command],
                       cwd=tmp if plain else Path(__file__).resolve().parent.parent, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3600)
        if keep:
            shutil.copyfile(out, keep)
        counts: Counter[str] = Counter()
        for line in out.read_text(encoding="utf-8", errors="replace").splitlines():
            found = _LINE.match(line)
            if found:
                counts[stage_of(found.group("stack").split(";"))] += int(found.group("count"))
        return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1500)
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "")
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--plain", action="store_true", help="profile bench/plain_spider.py instead")
    parser.add_argument("--keep", default="", help="copy py-spy's raw samples to this file")
    args = parser.parse_args(argv)
    if not args.py_spy:
        parser.error("py-spy not found: pip install --target DIR py-spy, then --py-spy DIR/bin/py-spy")
    counts = profile(args.articles, args.py_spy, args.rate, plain=args.plain, keep=args.keep)
    total = sum(counts.values()) or 1
    # The crawl process without its start-up: the split docs/benchmarks.md uses.
    own = sum(n for stage, n in counts.items() if stage not in (STARTUP, *PROCESSES)) or 1
    if args.json:
        print(json.dumps(dict(counts), indent=1, ensure_ascii=False))
    print(f"# {total} samples; share of all, and of the crawl process's own without start-up")
    for stage, n in counts.most_common():
        share = "" if stage in (STARTUP, *PROCESSES) else f", {100 * n / own:.1f} % of the crawl process"
        print(f"{stage}: {100 * n / total:.1f} %{share}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
