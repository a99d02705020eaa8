"""Subprocesses the benchmarks drive: the replica, and one crawl with its samples.

A crawl is ``python -m scrapy crawl ofweek`` from the repository root with
AutoThrottle off (so both sides run at the same fixed concurrency instead of
adapting to latency), Scrapy's LogStats every second, and a fresh
``NEWSSPIDER_DATA_DIR`` (so the embedded store starts empty).  A sampler
thread reads the crawl process's RSS with psutil every ``sample_s`` seconds;
the log reader turns LogStats lines into (time, items) points.

``count_cpu=True`` runs the crawl under :mod:`bench.cputree`, which counts the
CPU time of the crawl process and of every process under it (the embedded
store, body workers): :attr:`CrawlResult.cpu`.  ``plain=True`` runs
:mod:`bench.plain_spider` (``scrapy runspider``, outside the project, so none of
its settings load) instead of the portal spider.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import psutil

ROOT = Path(__file__).resolve().parent.parent

# "Crawled 120 pages (at 7200 pages/min), scraped 100 items (at 6000 items/min)"
_LOGSTATS = re.compile(r"Crawled (\d+) pages \(at \d+ pages/min\), scraped (\d+) items")
# A line of Scrapy's closing stats dump: " 'item_scraped_count': 1000,"
_STAT_LINE = re.compile(r"^\s*'([^']+)':\s*([0-9.]+),?\s*}?\s*$")
# Settings that make the crawl independent of any outside configuration.
_CLEAN_ENV = ("MONGO_URI", "MONGO_DATABASE", "REDIS_URL", "NEWSSPIDER_DATA_DIR")


class BenchError(RuntimeError):
    """A figure could not be measured (a subprocess failed or gave no numbers)."""


class Replica:
    """``python -m newsspider.replica --scenario generated`` in its own process."""

    def __init__(self, articles: int, per_page: int, seed: int = 1) -> None:
        self.articles = articles
        self.per_page = per_page
        self.seed = seed
        self.process: subprocess.Popen[str] | None = None
        self.listing_url = ""

    def __enter__(self) -> Self:
        cmd = [
            sys.executable, "-m", "newsspider.replica", "--scenario", "generated",
            "--articles", str(self.articles), "--per-page", str(self.per_page), "--port", "0",
            "--seed", str(self.seed),
        ]
        self.process = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.listing_url = self.process.stdout.readline().strip()
        if not self.listing_url.startswith("http"):
            self.close()
            raise BenchError(f"the replica did not start (printed {self.listing_url!r})")
        return self

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class CrawlResult:
    """What one crawl subprocess did, and how its process looked while doing it."""

    label: str
    kind: str  # "full" (every pipeline and the store), "bare" (no pipelines), "plain" (bench/plain_spider.py)
    articles: int  # items that went through the whole pipeline chain (scraped + dropped)
    elapsed_s: float  # Scrapy's elapsed_time_seconds: spider opened → closed
    wall_s: float  # the subprocess from start to exit (interpreter, store start included)
    peak_rss_mb: float  # the crawl process itself
    peak_tree_rss_mb: float  # the crawl process plus its children (the embedded store)
    stats: dict[str, float] = field(default_factory=dict)
    rss_samples: list[tuple[float, float]] = field(default_factory=list)  # (s, MB)
    item_samples: list[tuple[float, int]] = field(default_factory=list)  # (s, items)
    cpu: dict[str, Any] | None = None  # bench/cputree.py's report, when counted

    @property
    def articles_per_s(self) -> float:
        return self.articles / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "label": self.label, "kind": self.kind, "articles": self.articles,
            "elapsed_s": round(self.elapsed_s, 3), "wall_s": round(self.wall_s, 3),
            "articles_per_s": round(self.articles_per_s, 2),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "peak_tree_rss_mb": round(self.peak_tree_rss_mb, 1),
            **({"cpu_s": round(self.cpu["total_s"], 3),
                "cpu_s_by_kind": {k: round(v, 3) for k, v in self.cpu["by_kind"].items()}}
               if self.cpu else {}),
        }


def _crawl_command(listing_url: str, max_pages: int, bare: bool) -> list[str]:
    cmd = [
        sys.executable, "-m", "scrapy", "crawl", "ofweek",
        "-a", f"start_url={listing_url}", "-a", f"max_pages={max_pages}", "-a", "full=1",
        "-s", "LOG_LEVEL=INFO", "-s", "LOGSTATS_INTERVAL=1",
    ]
    if bare:
        # Same spider class, same requests; no pipelines, and nothing that
        # would start the store: no runs document, no end-of-crawl monitor, no
        # resume bookkeeping (the spider's crawl_state writes).
        cmd += [
            "-s", "ITEM_PIPELINES={}", "-s", "NEWSSPIDER_RUNS_ENABLED=false",
            "-s", "NEWSSPIDER_MONITOR_ENABLED=false", "-s", "NEWSSPIDER_RESUME_ENABLED=false",
        ]
    return cmd


PLAIN_SPIDER = ROOT / "bench" / "plain_spider.py"
CPUTREE = ROOT / "bench" / "cputree.py"


def _plain_command(listing_url: str, max_pages: int) -> list[str]:
    return [
        sys.executable, "-m", "scrapy", "runspider", str(PLAIN_SPIDER),
        "-a", f"start_url={listing_url}", "-a", f"max_pages={max_pages}",
        "-s", "LOG_LEVEL=INFO", "-s", "LOGSTATS_INTERVAL=1",
    ]


def _rss_mb(proc: psutil.Process, tree: bool) -> float:
    total = proc.memory_info().rss
    if tree:
        for child in proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue  # a child that just exited has no RSS to add
    return total / (1024 * 1024)


def run_crawl(
    label: str,
    listing_url: str,
    max_pages: int,
    *,
    bare: bool,
    sample_s: float = 0.25,
    timeout_s: float = 3600,
    extra_env: dict[str, str] | None = None,
    prefix: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    plain: bool = False,
    count_cpu: bool = False,
) -> CrawlResult:
    """Run one crawl to the end; raises :class:`BenchError` when it fails or says nothing.

    ``prefix`` runs the crawl under another command (``valgrind …``);
    ``extra_args`` are added to ``scrapy crawl``'s (``-s NAME=VALUE`` settings);
    ``plain`` and ``count_cpu``: see the module's docstring.
    """
    env = {k: v for k, v in os.environ.items() if k not in (*_CLEAN_ENV, "SCRAPY_SETTINGS_MODULE")}
    env["AUTOTHROTTLE_ENABLED"] = "false"
    env.update(extra_env or {})
    with tempfile.TemporaryDirectory(prefix="newsspider-bench-crawl-") as data_dir:
        env["NEWSSPIDER_DATA_DIR"] = data_dir
        log_path = Path(data_dir) / "crawl.log"
        cpu_path = Path(data_dir) / "cputree.json"
        if plain:
            # Run where no scrapy.cfg is found above: plain Scrapy, not the project's settings.
            command, cwd = _plain_command(listing_url, max_pages), Path(data_dir)
        else:
            command, cwd = _crawl_command(listing_url, max_pages, bare), ROOT
        wrapper = [sys.executable, str(CPUTREE), str(cpu_path), "--"] if count_cpu else []
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*wrapper, *prefix, *command, *extra_args], cwd=cwd, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace",
        )
        outer = psutil.Process(proc.pid)
        crawl_ps: list[psutil.Process] = [] if count_cpu else [outer]
        rss: list[tuple[float, float]] = []
        tree_peak = [0.0]
        items: list[tuple[float, int]] = [(0.0, 0)]
        stats: dict[str, float] = {}
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                try:
                    if not crawl_ps:  # under bench/cputree.py: the crawl is its child
                        crawl_ps.extend(outer.children()[:1])
                        if not crawl_ps:
                            stop.wait(0.01)
                            continue
                    ps = crawl_ps[0]
                    now = time.perf_counter() - started
                    rss.append((now, _rss_mb(ps, tree=False)))
                    tree_peak[0] = max(tree_peak[0], _rss_mb(ps, tree=True))
                except psutil.Error:
                    return  # the crawl has exited
                stop.wait(sample_s)

        sampler = threading.Thread(target=sample, name=f"rss-{label}", daemon=True)
        sampler.start()
        assert proc.stderr is not None
        with open(log_path, "w", encoding="utf-8") as log:
            for line in proc.stderr:
                log.write(line)
                found = _LOGSTATS.search(line)
                if found:
                    items.append((time.perf_counter() - started, int(found.group(2))))
                    continue
                stat = _STAT_LINE.match(line)
                if stat:
                    stats[stat.group(1)] = float(stat.group(2))
        try:
            code = proc.wait(timeout=timeout_s)
        finally:
            stop.set()
            sampler.join()
        wall = time.perf_counter() - started
        tail = _tail(log_path)
        cpu = _read_cpu(cpu_path) if count_cpu and code == 0 else None
    if code != 0 or "elapsed_time_seconds" not in stats:
        raise BenchError(f"crawl {label} exited with {code}; last log lines:\n{tail}")
    scraped = int(stats.get("item_scraped_count", 0))
    dropped = int(stats.get("item_dropped_count", 0))
    items.append((wall, scraped))
    return CrawlResult(
        label=label, kind="plain" if plain else "bare" if bare else "full", articles=scraped + dropped,
        elapsed_s=stats["elapsed_time_seconds"], wall_s=wall,
        peak_rss_mb=max((mb for _, mb in rss), default=0.0),
        peak_tree_rss_mb=tree_peak[0], stats=stats, rss_samples=rss, item_samples=items, cpu=cpu,
    )


def _read_cpu(path: Path) -> dict[str, Any]:
    import json

    try:
        report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(f"bench/cputree.py wrote no report at {path}: {exc}") from exc
    return report


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "".join(path.read_text(encoding="utf-8", errors="replace").splitlines(True)[-lines:])
    except OSError:
        return "(no log)"


def fetch(url: str, timeout: float = 30) -> bytes:
    """One GET from the loopback replica."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as response:  # the loopback replica only
        body: bytes = response.read()
        return body


def article_urls(listing_url: str, count: int, per_page: int) -> Sequence[str]:
    """The first ``count`` article URLs of the replica, read from its listing pages."""
    from newsspider.extract import decode_html, parse_listing
    from newsspider.extract.listing import page_url
    from newsspider.portals import get_portal

    portal = get_portal("ofweek")
    urls: list[str] = []
    page_no = 1
    url: str | None = listing_url
    while url and len(urls) < count:
        text, _ = decode_html(fetch(url), None, portal.encoding)
        page = parse_listing(text, url, portal)
        urls.extend(item.url for item in page.items)
        page_no += 1
        url = page.next_url or page_url(portal, listing_url, page_no)
        if not page.items:
            break
    return urls[:count]
