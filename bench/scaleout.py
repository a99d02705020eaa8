"""What a second and a third worker add to a shared (Redis) crawl: ``python -m bench.scaleout``.

Two figures (issue 20), each from whole ``scrapy crawl ofweek`` worker
processes sharing one crawl through a private ``redis-server`` into one
embedded store (nx-27017), against an in-process replica:

* ``scaleout_share_min`` — the smallest worker's share of the articles
  (items scraped or dropped as duplicates, from its ``runs`` record, over
  the crawl's) with 3
  workers on a 480-article replica whose every page takes 50 ms, per-host
  limit 8 (the default), the crawl walking its listing pages as usual.  A
  third is ideal; before the leases, one worker took everything (0.0).  The
  same crawl with 1 and 2 workers gives the detail: items per worker, the
  portal's peak in flight (never above 8, whatever the number of workers),
  the wall time.
* ``scaleout_speedup_2`` — whole wall time (launch to the last exit) of a
  CPU-bound crawl with 1 worker over the same crawl with 2: no latency,
  per-host limit 64 so no worker waits on the portal, an archive backfill
  (``pages=1-N``) so listing pages are never the bottleneck.  Alternated
  1-2-1-2-…-1, each 2-worker run against the mean of the 1-worker runs
  around it (the host drifts), median of the pairs.  A plain crawl (no
  Redis) of the same pages runs beside, for what the shared machinery costs
  one worker (``scaleout_plain_vs_shared_1``, wall ratio, 1.0 = free).

Every process of a crawl runs: the workers, their body workers, the store,
Redis.  ``cpu_s`` per run is the workers' user+system time (their reaped
helpers included) plus the store's and Redis's.  Wall-clock figures depend
on the host: on a machine whose two vCPUs share one core, and which other
work shares too, two CPU-bound workers cannot take twice the CPU.

Needs ``redis-server`` on ``PATH`` (Debian's ``redis-server``); without it
the figures are reported as not measured.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
from redis import Redis

from bench.procs import ROOT, BenchError

logger = logging.getLogger("bench.scaleout")


@dataclass(frozen=True)
class Sizes:
    share_articles: int = 480
    share_latency: float = 0.05
    share_limit: int = 8
    share_workers: tuple[int, ...] = (1, 2, 3)
    cpu_articles: int = 3000
    cpu_per_page: int = 50
    cpu_repeats: int = 3  # 2-worker runs, each between two 1-worker runs

    @classmethod
    def for_mode(cls, mode: str) -> Sizes:
        if mode == "quick":
            return cls(cpu_articles=1000, cpu_repeats=1)
        if mode == "tiny":
            return cls(share_articles=40, share_workers=(3,), cpu_articles=60, cpu_per_page=20,
                       cpu_repeats=1)
        return cls()


def redis_available() -> str | None:
    return shutil.which("redis-server")


@contextmanager
def redis_server(workdir: Path) -> Iterator[tuple[str, psutil.Process]]:
    """A private redis-server on a free loopback port, no persistence: ``(url, process)``."""
    exe = redis_available()
    if exe is None:
        raise BenchError("redis-server is not installed (Debian: apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except OSError as exc:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise BenchError(f"redis-server did not start: {exc}") from exc
            time.sleep(0.05)
    client.close()
    try:
        yield f"redis://127.0.0.1:{port}/0", psutil.Process(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Run:
    """One crawl: its workers' items, the portal's peak in flight, time and CPU."""

    label: str
    workers: int
    items: list[int]
    peak_in_flight: int
    wall_s: float
    cpu_s: float

    @property
    def share_min(self) -> float:
        total = sum(self.items)
        return min(self.items) / total if total else 0.0


class Bench:
    """The replica, store and Redis one bench run shares; :meth:`crawl` runs N workers."""

    def __init__(self, workdir: Path, store_uri: str, store_proc: psutil.Process,
                 redis_url: str, redis_proc: psutil.Process) -> None:
        self.workdir = workdir
        self.store_uri = store_uri
        self.store_proc = store_proc
        self.redis_url = redis_url
        self.redis_proc = redis_proc

    def crawl(self, label: str, replica: Any, workers: int, args: list[str],
              settings: dict[str, str], shared: bool = True) -> Run:
        from pymongo import MongoClient

        db_name = f"bench_{uuid.uuid4().hex[:10]}"
        env = {k: v for k, v in os.environ.items()
               if k not in ("MONGO_URI", "MONGO_DATABASE", "REDIS_URL", "NEWSSPIDER_DATA_DIR")}
        env.update({
            "MONGO_URI": self.store_uri, "MONGO_DATABASE": db_name,
            "AUTOTHROTTLE_ENABLED": "false", "NEWSSPIDER_MONITOR_MIN_ITEMS": "0",
        })
        if shared:
            env.update({
                "REDIS_URL": self.redis_url, "NEWSSPIDER_CRAWL_ID": db_name,
                "NEWSSPIDER_REDIS_IDLE_SECONDS": "1", "NEWSSPIDER_REDIS_HEARTBEAT_SECONDS": "0.2",
            })
        cmd = [sys.executable, "-m", "scrapy", "crawl", "ofweek",
               "-a", f"start_url={replica.listing_url}", "-a", "full=1", "-s", "LOG_LEVEL=INFO"]
        for arg in args:
            cmd += ["-a", arg]
        for name, value in settings.items():
            cmd += ["-s", f"{name}={value}"]
        replica.reset_hits()
        parts_before = (_children_cpu(), _cpu(self.store_proc), _cpu(self.redis_proc))
        logs = [self.workdir / f"{label}-{n}.log" for n in range(workers)]
        started = time.perf_counter()
        procs = [
            subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
                             env={**env, "NEWSSPIDER_DATA_DIR": str(self.workdir / f"{label}-{n}")})
            for n, log in enumerate(logs)
        ]
        codes = [proc.wait(timeout=3600) for proc in procs]
        wall = time.perf_counter() - started
        parts = [after - before for before, after in zip(
            parts_before, (_children_cpu(), _cpu(self.store_proc), _cpu(self.redis_proc)),
            strict=True)]
        cpu = sum(parts)
        for code, log in zip(codes, logs, strict=True):
            if code != 0:
                tail = "".join(log.read_text(errors="replace").splitlines(True)[-15:])
                raise BenchError(f"{label}: a worker exited with {code}:\n{tail}")
        client: MongoClient[dict[str, Any]] = MongoClient(self.store_uri)
        try:
            # Articles through the whole pipeline chain: stored, or merged as duplicates.
            items = [int(run["stats"].get("item_scraped_count", 0))
                     + int(run["stats"].get("item_dropped_count", 0))
                     for run in client[db_name].runs.find()]
            client.drop_database(db_name)
        finally:
            client.close()
        if len(items) != workers:
            raise BenchError(f"{label}: {len(items)} runs records for {workers} workers")
        run = Run(label, workers, sorted(items, reverse=True), replica.peak_in_flight, wall, cpu)
        logger.info("%s: items %s, peak in flight %d, %.2f s, CPU s: workers %.1f, store %.1f, "
                    "redis %.1f", label, run.items, run.peak_in_flight, wall, *parts)
        return run


def _share(bench: Bench, sizes: Sizes) -> dict[str, Any]:
    from newsspider.replica.model import Scenario
    from newsspider.replica.server import ReplicaServer

    scenario = Scenario.generated(sizes.share_articles, per_page=20, seed=31)
    settings = {"CONCURRENT_REQUESTS_PER_DOMAIN": str(sizes.share_limit)}
    runs: dict[int, Run] = {}
    with ReplicaServer(scenario=scenario, latency=sizes.share_latency) as replica:
        for workers in sizes.share_workers:
            runs[workers] = bench.crawl(f"share-{workers}w", replica, workers, ["max_pages=1000"],
                                        settings)
    most = max(sizes.share_workers)
    out: dict[str, Any] = {
        "articles": sizes.share_articles, "latency_s": sizes.share_latency,
        "per_host_limit": sizes.share_limit,
        "scaleout_share_min": round(runs[most].share_min, 3),
    }
    for workers, run in runs.items():
        out[f"items_{workers}w"] = run.items
        out[f"peak_in_flight_{workers}w"] = run.peak_in_flight
        out[f"wall_s_{workers}w"] = round(run.wall_s, 2)
    return out


def _speedup(bench: Bench, sizes: Sizes) -> dict[str, Any]:
    from newsspider.replica.model import Scenario
    from newsspider.replica.server import ReplicaServer

    pages = max(1, -(-sizes.cpu_articles // sizes.cpu_per_page))
    scenario = Scenario.generated(sizes.cpu_articles, per_page=sizes.cpu_per_page, seed=32)
    settings = {"CONCURRENT_REQUESTS_PER_DOMAIN": "64", "CONCURRENT_REQUESTS": "16"}
    args = [f"pages=1-{pages}"]
    one: list[Run] = []
    two: list[Run] = []
    plain: list[Run] = []
    with ReplicaServer(scenario=scenario) as replica:
        for n in range(sizes.cpu_repeats):
            one.append(bench.crawl(f"cpu-1w-{n + 1}", replica, 1, args, settings))
            plain.append(bench.crawl(f"cpu-plain-{n + 1}", replica, 1, args, settings, shared=False))
            two.append(bench.crawl(f"cpu-2w-{n + 1}", replica, 2, args, settings))
        one.append(bench.crawl(f"cpu-1w-{sizes.cpu_repeats + 1}", replica, 1, args, settings))
    for run in [*one, *two, *plain]:
        if sum(run.items) < sizes.cpu_articles:
            raise BenchError(f"{run.label} crawled {sum(run.items)} of {sizes.cpu_articles}")
    speedups = [((before.wall_s + after.wall_s) / 2) / pair.wall_s
                for before, pair, after in zip(one, two, one[1:], strict=False)]
    plain_ratios = [p.wall_s / ((before.wall_s + after.wall_s) / 2)
                    for before, p, after in zip(one, plain, one[1:], strict=False)]
    return {
        "articles": sizes.cpu_articles,
        "listing_pages": pages,
        "scaleout_speedup_2": round(statistics.median(speedups), 3),
        "bracketed_speedups": [round(s, 3) for s in speedups],
        "scaleout_plain_vs_shared_1": round(statistics.median(plain_ratios), 3),
        "wall_s_1w": [round(r.wall_s, 2) for r in one],
        "wall_s_2w": [round(r.wall_s, 2) for r in two],
        "wall_s_plain": [round(r.wall_s, 2) for r in plain],
        "items_2w": [r.items for r in two],
        "cpu_ms_per_article_1w": round(statistics.median(r.cpu_s for r in one)
                                       / sizes.cpu_articles * 1000, 2),
        "cpu_ms_per_article_2w": round(statistics.median(r.cpu_s for r in two)
                                       / sizes.cpu_articles * 1000, 2),
        "cpu_ms_per_article_plain": round(statistics.median(r.cpu_s for r in plain)
                                          / sizes.cpu_articles * 1000, 2),
    }


FIGURES = ("scaleout_share_min", "scaleout_speedup_2", "scaleout_plain_vs_shared_1")


def measure(sizes: Sizes, progress: Callable[[str, Any], None] | None = None) -> dict[str, Any]:
    """``{"figures": {...}, "share": {...}, "speedup": {...}}``; raises BenchError without Redis."""
    from newsspider.store.embedded import EmbeddedStore

    with tempfile.TemporaryDirectory(prefix="newsspider-bench-scaleout-") as tmp:
        workdir = Path(tmp)
        with EmbeddedStore(workdir / "store") as store, redis_server(workdir) as (redis_url, redis_proc):
            assert store.process is not None
            bench = Bench(workdir, store.uri, psutil.Process(store.process.pid), redis_url,
                          redis_proc)
            share = _share(bench, sizes)
            if progress is not None:
                progress("scaleout_share_min", share["scaleout_share_min"])
            speedup = _speedup(bench, sizes)
            if progress is not None:
                progress("scaleout_speedup_2", speedup["scaleout_speedup_2"])
                progress("scaleout_plain_vs_shared_1", speedup["scaleout_plain_vs_shared_1"])
    figures = {name: (share | speedup)[name] for name in FIGURES}
    return {"figures": figures, "share": share, "speedup": speedup, "sizes": asdict(sizes)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("full", "quick", "tiny"), default="full")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="# %(message)s", stream=sys.stderr)

    def progress(name: str, value: Any) -> None:
        print(f"{name}: {value}", flush=True)

    try:
        result = measure(Sizes.for_mode(args.mode), progress)
    except BenchError as exc:
        print(f"bench.scaleout: could not measure: {exc}", file=sys.stderr)
        return 1
    import json

    print(json.dumps({"share": result["share"], "speedup": result["speedup"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
