"""How fast the replica serves: ``python -m newsspider.replica.bench``.

Starts ``python -m newsspider.replica --scenario generated`` in its own process
(so the client's GIL is not the server's), then fetches distinct article pages
and listing pages over keep-alive connections from a few client threads, and
prints ``replica_pages_per_s: N``.

Reads no settings, writes no stats.
"""

from __future__ import annotations

import argparse
import http.client
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

from newsspider.replica.scenarios import generated_scenario


def _fetch_all(host: str, port: int, paths: list[str], errors: list[str]) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    for path in paths:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            errors.append(f"{path}: {response.status}")
    conn.close()


def measure(n_articles: int, n_requests: int, clients: int) -> float:
    """Pages per second for ``n_requests`` distinct pages fetched by ``clients`` connections."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsspider.replica",
            "--scenario",
            "generated",
            "--articles",
            str(n_articles),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        listing = urlsplit(proc.stdout.readline().strip())
        host, port = listing.hostname or "127.0.0.1", listing.port or 80
        scenario = generated_scenario(n_articles)
        site = scenario.site
        stride = max(1, n_articles // n_requests)
        # Mostly articles, one listing page in 20, as a crawl would ask for them.
        paths = [
            site.listing_page_path(1 + i // 20)
            if i % 20 == 0
            else scenario.articles[(i * stride) % n_articles].path
            for i in range(n_requests)
        ]
        errors: list[str] = []
        chunks = [paths[i::clients] for i in range(clients)]
        threads = [
            threading.Thread(target=_fetch_all, args=(host, port, chunk, errors))
            for chunk in chunks
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise RuntimeError(f"{len(errors)} failed requests, first: {errors[0]}")
        return n_requests / elapsed
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m newsspider.replica.bench")
    parser.add_argument("--articles", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args(argv)
    rate = measure(args.articles, args.requests, args.clients)
    print(f"replica_pages_per_s: {rate:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
