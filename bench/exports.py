"""What an incremental export costs: the changed-since query, and a scheduled run's export.

A fresh embedded nx-27017 gets ``n`` article-sized documents (about 4 KB of Chinese body
each, :func:`newsspider.store.bench.sample_article`) through the store's own writer; then
two are revised (the writer stamps their ``updated_at``).  Measured, median of
``repeat``, every process counted (this one and the nx-27017 server, by their CPU times):

* ``changed_since_query_ms`` / ``…_cpu_ms`` — :func:`newsspider.export.source.iter_changes`
  from a window just before the two changes, drained (2 documents);
* ``id_lookup_ms`` — the same two documents by ``_id`` (the index-backed floor);
* ``first_jsonl_export_ms_per_article`` — the consumer's first ``export_jsonl(…, state=…)``:
  all ``n`` articles, in change order;
* ``incremental_jsonl_export_ms`` — its next run, which finds the two changes (the state
  file read, locked and written included), when the previous run came longer than the
  lookback after the last change: only the changes are read;
* ``incremental_after_burst_ms`` — the same right after the first export, whose ``n``
  articles were all written within the lookback (``NEWSSPIDER_EXPORT_LOOKBACK``) before
  it began: they are read again and skipped (the worst case; ``state_file_after_burst_kb``
  is then the state file's size).

On nx-27017 the date range reads every document (newsspider.store.nx27017), so the
query's cost grows with ``n``; on MongoDB it is an index range.  Runnable alone:
``python -m bench.exports [N …]``.

Reads no settings, writes no stats.
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
from pymongo import MongoClient

from newsspider.export.jsonl import export_jsonl
from newsspider.export.source import ChangeKey, Window, iter_changes
from newsspider.store.bench import sample_article
from newsspider.store.embedded import EmbeddedStore
from newsspider.store.store import Store

DATABASE = "bench_exports"


def _cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def _timed(work: Callable[[], Any], processes: list[psutil.Process], repeat: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``work()`` over ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        cpu, wall = _cpu(processes), time.perf_counter()
        work()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((_cpu(processes) - cpu) * 1000)
    return round(statistics.median(walls), 2), round(statistics.median(cpus), 2)


def measure(n: int = 20_000, repeat: int = 5) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="newsspider-bench-exports-") as tmp, \
            EmbeddedStore(Path(tmp) / "nx") as server:
        assert server.process is not None
        processes = [psutil.Process(), psutil.Process(server.process.pid)]
        client: MongoClient[dict[str, Any]] = MongoClient(server.uri, tz_aware=True)
        db = client[DATABASE]
        state, out = Path(tmp) / "jsonl.state", Path(tmp) / "out.jsonl"
        steady = Path(tmp) / "steady.state"
        store = Store(uri=server.uri, database=DATABASE, data_dir=Path(tmp) / "data",
                      batch_size=400, flush_seconds=60.0, batch_transactions=True)
        store.open()
        try:
            for i in range(n):
                store.put_article_blocking(sample_article(i))
            if not store.flush(1200):
                raise RuntimeError("the writer did not finish")
            # The scheduled consumer's first run: everything, and a state file.
            cpu, wall = _cpu(processes), time.perf_counter()
            if export_jsonl(db, out, state=state) != n:
                raise RuntimeError("the first export missed articles")
            first_ms = (time.perf_counter() - wall) * 1000
            first_cpu_ms = (_cpu(processes) - cpu) * 1000
            after_first = state.read_bytes()
            # A consumer whose last run came longer than its lookback after the last change
            # (the usual case): a 1 s lookback, the run 1.5 s after the writes.
            time.sleep(1.5)
            export_jsonl(db, out, state=steady, lookback=1.0)
            steady_first = steady.read_bytes()
            revised = [sample_article(i) for i in (n // 3, 2 * n // 3)]
            for doc in revised:
                doc["body_text"] += "\n更正。"
                doc["content_hash"] = hashlib.sha256(doc["body_text"].encode()).hexdigest()
                store.put_article_blocking(doc)
            if not store.flush(60):
                raise RuntimeError("the writer did not finish")
        finally:
            store.close()

        try:
            ids = sorted(doc["url"] for doc in revised)
            changed = [ChangeKey.of(d) for d in db.articles.find({"_id": {"$in": ids}})]
            window = Window(min(k.updated_at for k in changed) - timedelta(milliseconds=1))
            if sorted(d["_id"] for d in iter_changes(db, window)) != ids:
                raise RuntimeError("the changed-since query did not find the two changes")
            query_ms, query_cpu_ms = _timed(lambda: list(iter_changes(db, window)), processes, repeat)
            id_ms, id_cpu_ms = _timed(
                lambda: list(db.articles.find({"_id": {"$in": ids}})), processes, repeat)

            def next_run(path: Path, before: bytes) -> None:
                path.write_bytes(before)
                if export_jsonl(db, out, state=path) != 2:
                    raise RuntimeError("the incremental export did not find the two changes")

            export_ms, export_cpu_ms = _timed(lambda: next_run(steady, steady_first), processes,
                                              repeat)
            # The next run right after a burst: the first export's n versions were all
            # written within its lookback, so they are read again (and skipped).
            burst_ms, burst_cpu_ms = _timed(lambda: next_run(state, after_first), processes, repeat)
        finally:
            client.close()
    return {
        "n": n,
        "changed_since_query_ms": query_ms,
        "changed_since_query_cpu_ms": query_cpu_ms,
        "id_lookup_ms": id_ms,
        "id_lookup_cpu_ms": id_cpu_ms,
        "first_jsonl_export_ms_per_article": round(first_ms / n, 3),
        "first_jsonl_export_cpu_ms_per_article": round(first_cpu_ms / n, 3),
        "incremental_jsonl_export_ms": export_ms,
        "incremental_jsonl_export_cpu_ms": export_cpu_ms,
        "incremental_after_burst_ms": burst_ms,
        "incremental_after_burst_cpu_ms": burst_cpu_ms,
        "state_file_kb": round(len(steady_first) / 1024, 1),
        "state_file_after_burst_kb": round(len(after_first) / 1024, 1),
    }


if __name__ == "__main__":
    for size in [int(a) for a in sys.argv[1:]] or [20_000]:
        for name, value in measure(size).items():
            print(f"{name}: {value}", flush=True)
