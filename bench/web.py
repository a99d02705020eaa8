"""``web_scaling_ratio``: the dashboard's slowest page on 50,000 articles over the same page on 500.

Two stores, each on its own nx-27017 server, are filled directly with bulk
writes (articles of ~4 KB of Chinese body, their ``article_keys`` rows, runs
with a crawl's stats, rejects with their items — the documents a crawl
leaves, in proportion: runs and rejects grow with the store), and ``newsspider
web`` serves each from its own process.  Every page — the portals, runs
(first and a deep page, a filter), a run, articles (first page, a deep page,
by portal, by dates, by arrival), title searches (a common and a rare token),
an article, rejects — is fetched over HTTP ``rounds`` times, the two stores
alternating request by request so a drift of the host hits both.  The median
wall time per page counts; the figure is the page slowest on the large store,
its median there over its median on the small one (target ≤ 3).  Reported
besides: each page's ratio, and the same from CPU time (the web process and
its store server, per request, the mean over the rounds: the kernel counts it
in 10 ms ticks), which the host's noise touches less.

``python -m bench.web [--small 500] [--large 50000] [--rounds 15]`` runs it
alone.  Reads the environment: nothing.  Writes no stats.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from pymongo import InsertOne, MongoClient

from newsspider.store.embedded import EmbeddedStore, free_port
from newsspider.store.listing import (
    ARTICLE_KEYS,
    article_rows,
    mark_complete,
    reject_keys,
    run_keys,
)
from newsspider.store.store import INDEXES, index_model

logger = logging.getLogger("bench")
ROOT = Path(__file__).resolve().parent.parent
PORTALS = ("ofweek", "ithome", "cnbeta", "zaker", "woshipm")
# Two-character words for titles: their pairs are the search tokens.
_WORDS = (
    "光伏", "芯片", "电池", "储能", "汽车", "智能", "手机", "华为", "小米", "苹果", "医疗", "机器", "显示", "通信", "物联",
    "半导", "材料", "制造", "工业", "能源", "电力", "电网", "数据", "算法", "模型", "网络", "安全", "云端", "平台", "软件",
    "硬件", "传感", "激光", "光纤", "雷达", "无人", "驾驶", "充电", "氢能", "风电", "市场", "投资", "融资", "上市", "财报",
    "营收", "利润", "增长", "下滑", "发布", "新品", "评测", "体验", "升级", "合作", "签约", "项目", "工厂", "产能", "订单",
)
_PARAGRAPH = "物联网与人工智能的结合正在改变制造业的生产方式，企业纷纷加大投入，市场规模持续扩大。"
RUNS_PER_1000 = 8  # runs per 1,000 articles (a portal crawled every 30 min, ~30 new each time)
REJECTS_PER_1000 = 20


def _title(rng: random.Random, i: int) -> str:
    words = rng.sample(_WORDS, rng.randint(3, 6))
    return f"{''.join(words[:2])}：{''.join(words[2:])}第{i}期"


def _article(rng: random.Random, i: int, n: int) -> dict[str, Any]:
    portal = PORTALS[i % len(PORTALS)]
    url = f"https://{portal}.bench.test/news/{i:08d}.html"
    text = "\n".join(f"{i} {k} {_PARAGRAPH * 2}" for k in range(10))
    published = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=int(i * 525600 / n))
    first_seen = published + timedelta(minutes=rng.randint(5, 600))
    return {
        "_id": url, "url": url, "fetched_url": url, "alternate_urls": [], "portal": portal,
        "site_name": "基准", "channel": "新闻", "categories": ["新闻"], "title": _title(rng, i),
        "author": f"作者{i % 37}", "published_at": published,
        "published_raw": f"{published + timedelta(hours=8):%Y-%m-%d %H:%M}",
        "body_html": "".join(f"<p>{p}</p>" for p in text.split("\n")), "body_text": text,
        "summary": text[:80], "lead_image": f"https://img.bench.test/{i}.jpg",
        "images": [{"url": f"https://img.bench.test/{i}.jpg", "src": f"/lazy/{i}.jpg", "alt": ""}],
        "language": "zh", "content_hash": hashlib.sha256(text.encode()).hexdigest(),
        "simhash": int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True),
        "revision": 1, "first_seen_at": first_seen, "last_crawled_at": first_seen,
        "updated_at": first_seen, "schema_version": 1,
    }


def _run(rng: random.Random, r: int, total: int) -> dict[str, Any]:
    started = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=int(r * 525600 / total))
    items = rng.randint(20, 40)
    failed = r % 17 == 0
    stats: dict[str, Any] = {f"downloader/response_status_count/{c}": rng.randint(0, 5)
                             for c in (301, 404, 500)}
    stats.update({
        "downloader/response_status_count/200": items + 3, "downloader/response_count": items + 9,
        "downloader/request_count": items + 9, "item_scraped_count": items,
        "newsspider/store/inserted": items, "newsspider/validate/rejected": rng.randint(0, 2),
        "newsspider/validate/rejected/body_text": 1, "retry/count": 2,
        "retry/reason_count/500 Internal Server Error": 2, "log_count/ERROR": int(failed),
        "elapsed_time_seconds": 40.0 + r % 20, "memusage/max": 110_000_000,
        **{f"newsspider/stage/{k}": k for k in range(40)},  # a crawl's stats are many
    })
    doc = {
        "_id": f"run{r:07d}", "portal": PORTALS[r % len(PORTALS)], "started_at": started,
        "finished_at": started + timedelta(seconds=45), "finish_reason": "finished",
        "worker": "bench:1", "stats": stats,
        "checks": {"passed": not failed, "failed": ["error_ratio"] if failed else []},
    }
    doc.update(run_keys(doc))
    return doc


def _reject(rng: random.Random, j: int, total: int) -> dict[str, Any]:
    portal = PORTALS[j % len(PORTALS)]
    url = f"https://{portal}.bench.test/bad/{j:07d}.html"
    field_name = ("body_text", "fetch", "title")[j % 3]
    doc = {
        "_id": f"{portal}:{url}", "url": url, "portal": portal,
        "errors": [{"field": field_name, "message": f"{field_name} broken ({j})"}],
        "item": {"url": url, "raw_body_html": _PARAGRAPH * 20},
        "at": datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=int(j * 525600 / total)),
    }
    doc.update(reject_keys(doc))
    return doc


def fill(db: Any, n: int, seed: int = 1, batch: int = 500) -> dict[str, Any]:
    """``n`` articles with their keys, and the runs and rejects of a store that size."""
    rng = random.Random(seed)
    for name, specs in INDEXES.items():
        db[name].create_indexes([index_model(spec) for spec in specs])
    articles, rows = [], []
    for i in range(n):
        doc = _article(rng, i, n)
        articles.append(InsertOne(doc))
        rows.extend(InsertOne(row) for row in article_rows(doc).values())
        if len(articles) >= batch:
            db.articles.bulk_write(articles, ordered=False)
            db[ARTICLE_KEYS].bulk_write(rows, ordered=False)
            articles, rows = [], []
    if articles:
        db.articles.bulk_write(articles, ordered=False)
        db[ARTICLE_KEYS].bulk_write(rows, ordered=False)
    runs = max(10, n * RUNS_PER_1000 // 1000)
    db.runs.bulk_write([InsertOne(_run(rng, r, runs)) for r in range(runs)], ordered=False)
    rejects = max(5, n * REJECTS_PER_1000 // 1000)
    for start in range(0, rejects, batch):
        db.rejects.bulk_write([InsertOne(_reject(rng, j, rejects))
                               for j in range(start, min(rejects, start + batch))], ordered=False)
    mark_complete(db)
    return {"articles": n, "runs": runs, "rejects": rejects}


def pages(db: Any) -> dict[str, str]:
    """The pages measured, with cursors taken from this store (the middle of each list)."""
    def middle(collection: str, query: dict[str, Any], key: str) -> str:
        # The key halfway down the list (a setup step, untimed: it reads them all).
        keys = [d[key] for d in db[collection].find(query, {key: 1}).sort(key, -1)]
        return keys[len(keys) // 2]

    article_key = middle(ARTICLE_KEYS, {"k": {"$gt": "*\x1f", "$lt": "*\x1f\uffff"}}, "k")
    run_key = middle("runs", {"list_key": {"$gt": "r:"}}, "list_key")
    article_url = article_key.split("\x1f", 2)[2]
    some_run = db.runs.find_one({"list_key": run_key})["_id"]
    q = urllib.parse.quote
    return {
        "portals": "/",
        "runs": "/runs",
        "runs_deep": "/runs?before=" + q(run_key),
        "runs_failed": "/runs?status=failed&portal=ofweek",
        "run": f"/runs/{some_run}",
        "articles": "/articles",
        "articles_deep": "/articles?before=" + q(article_key.partition("\x1f")[2]),
        "articles_portal": "/articles?portal=zaker",
        "articles_dates": "/articles?from=2024-06-01&to=2024-06-30",
        "articles_arrived": "/articles?sort=arrived&portal=ithome",
        "search_common": "/articles?q=" + q("光伏"),
        "search_rare": "/articles?q=" + q("光伏芯片"),
        "article": "/article?url=" + q(article_url),
        "rejects": "/rejects",
        "rejects_reason": "/rejects?reason=fetch&portal=cnbeta",
    }


@dataclass
class Served:
    label: str
    store: EmbeddedStore
    process: subprocess.Popen[str]
    url: str
    paths: dict[str, str]
    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def cpu_s(self) -> float:
        total = 0.0
        for pid in (self.process.pid, self.store.process.pid if self.store.process else None):
            if pid is None:
                continue
            try:
                proc = psutil.Process(pid)
                for p in (proc, *proc.children(recursive=True)):
                    times = p.cpu_times()
                    total += times.user + times.system
            except psutil.Error:
                continue
        return total

    def fetch(self, name: str) -> None:
        cpu0, wall0 = self.cpu_s(), time.perf_counter()
        with urllib.request.urlopen(self.url + self.paths[name], timeout=120) as response:
            body = response.read()
            if response.status != 200 or b"<main>" not in body:
                raise RuntimeError(f"{self.label} {name}: HTTP {response.status}")
        self.wall.setdefault(name, []).append(time.perf_counter() - wall0)
        self.cpu.setdefault(name, []).append(self.cpu_s() - cpu0)


@contextmanager
def serve(label: str, n: int, tmp: Path) -> Iterator[Served]:
    store = EmbeddedStore(tmp / label)
    store.start()
    try:
        started = time.perf_counter()
        client: MongoClient[dict[str, Any]] = MongoClient(store.uri, tz_aware=True)
        db = client["bench_web"]
        sizes = fill(db, n)
        paths = pages(db)
        client.close()
        logger.info("web bench: %s store (%s) filled in %.0f s", label, sizes,
                    time.perf_counter() - started)
        port = free_port()
        env = {**os.environ, "MONGO_URI": store.uri, "MONGO_DATABASE": "bench_web",
               "NEWSSPIDER_DATA_DIR": str(tmp / f"{label}-data")}
        env.pop("NEWSSPIDER_WEB_TOKEN", None)
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("newsspider")), "web", "--port", str(port),
             "--log-level", "warning"], cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("dashboard:"):
            process.kill()
            raise RuntimeError(f"newsspider web did not start: {line}")
        try:
            yield Served(label, store, process, f"http://127.0.0.1:{port}", paths)
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        store.stop()


def measure(small: int = 500, large: int = 50_000, rounds: int = 15) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="newsspider-bench-web-") as tmp, ExitStack() as stack:
        a = stack.enter_context(serve("small", small, Path(tmp)))
        b = stack.enter_context(serve("large", large, Path(tmp)))
        names = list(a.paths)
        for served in (a, b):  # warm up: first requests compile templates, fill caches
            for name in names:
                served.fetch(name)
            served.wall.clear()
            served.cpu.clear()
        for _ in range(rounds):
            for name in names:
                a.fetch(name)
                b.fetch(name)
    wall = {name: (statistics.median(a.wall[name]), statistics.median(b.wall[name])) for name in names}
    # CPU time is counted in clock ticks (10 ms): the mean over the rounds, not a median.
    cpu = {name: (statistics.fmean(a.cpu[name]), statistics.fmean(b.cpu[name])) for name in names}
    slowest = max(names, key=lambda name: wall[name][1])
    per_page = {name: round(big / max(s, 1e-6), 2) for name, (s, big) in wall.items()}
    cpu_slowest = max(names, key=lambda name: cpu[name][1])
    return {
        "small_articles": small, "large_articles": large, "rounds": rounds,
        "web_scaling_ratio": round(wall[slowest][1] / wall[slowest][0], 2),
        "web_slowest_page": slowest,
        "web_slowest_page_ms_large": round(wall[slowest][1] * 1000, 1),
        "web_worst_page_ratio": max(per_page.values()),
        "web_scaling_cpu_ratio": round(cpu[cpu_slowest][1] / max(cpu[cpu_slowest][0], 1e-6), 2),
        "page_ratios": per_page,
        "page_ms": {name: [round(s * 1000, 1), round(big * 1000, 1)] for name, (s, big) in wall.items()},
        "page_cpu_ms": {name: [round(s * 1000, 1), round(big * 1000, 1)] for name, (s, big) in cpu.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--large", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="# %(message)s", stream=sys.stderr)
    result = measure(args.small, args.large, args.rounds)
    for name in ("web_scaling_ratio", "web_slowest_page", "web_slowest_page_ms_large",
                 "web_worst_page_ratio", "web_scaling_cpu_ratio"):
        print(f"{name}: {result[name]}")
    for name, (small_ms, large_ms) in result["page_ms"].items():
        print(f"# {name}: {small_ms} ms at {args.small}, {large_ms} ms at {args.large} "
              f"(x{result['page_ratios'][name]}); CPU {result['page_cpu_ms'][name]} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
