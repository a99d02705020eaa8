"""``python -m bench.stages [--articles N] [--py-spy PATH]``: where a full crawl's CPU goes, by stage.

Not part of ``make bench`` (it needs py-spy, which is no dependency of the
project: ``pip install --target DIR py-spy`` and pass ``--py-spy
DIR/bin/py-spy``).  Runs one full crawl of a fresh replica (seed 11, 20 per
listing page, as ``pipeline_cpu_ratio``) under ``py-spy record
--subprocesses --format raw`` — a sampling profiler that counts only samples
where a thread is on the CPU (no ``--idle``), in every Python process of the
crawl: the crawl process with all its threads, the embedded store server
(nx-27017 is Python) and the body workers — and attributes every sample to a
stage by the outermost frame of the stack that names one (the crawl
process's), or to the process it ran in (store, workers).  Prints one line per
stage, ``stage: share %``; with ``--json`` the counts.

The sampler costs a little CPU of its own in another process, not counted;
the shares are of samples, so they are what the figure's CPU time is made of,
not its absolute value (``pipeline_cpu_ratio`` measures that).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.procs import Replica, _crawl_command

# Stage of a frame, by the file it runs in; the first rule that matches the outermost
# matching frame wins.  The order matters: a pipeline calling the store is the store stage
# only from the store pipeline on.
_RULES = (
    ("start-up and shut-down (imports)", re.compile(r"^<module>|importlib\._bootstrap")),
    ("extraction (spider callbacks, newsspider.extract)", re.compile(r"newsspider/(spiders|extract)/")),
    ("body stage (images + normalize pipelines)",
     re.compile(r"newsspider/(pipelines/(images|normalize)|normalize)/?")),
    ("validate pipeline", re.compile(r"newsspider/pipelines/validate")),
    ("dedup pipeline", re.compile(r"newsspider/pipelines/dedup")),
    ("store pipeline and writer thread", re.compile(r"newsspider/(pipelines/store|store)/?")),
    ("runs, monitor, stats extensions", re.compile(r"newsspider/(extensions|monitor|stats)")),
    ("downloader, middlewares (ours)", re.compile(r"newsspider/(downloader|netguard|downloadermiddlewares)")),
    ("Scrapy engine, Twisted, asyncio (the rest)", re.compile(r".")),
)
# A raw line: "process 123:\"python -m scrapy crawl …\";thread (0x7f…);frame (file.py:12);… 42"
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")


def stage_of(frames: list[str]) -> str:
    """The stage one sampled stack (root first) counts for."""
    process = frames[0] if frames else ""
    if "nx-27017" in process:
        return "store server process (nx-27017)"
    if "newsspider.normalize.worker" in process:
        return "body worker processes"
    code = frames[2:]  # after the process and the thread
    for name, pattern in _RULES[:-1]:
        if any(pattern.search(frame) for frame in code[:3]) and name.startswith("start-up"):
            return name
    for frame in code:
        for name, pattern in _RULES[1:-1]:
            if pattern.search(frame):
                return name
    return _RULES[-1][0]


def profile(articles: int, py_spy: str, rate: int) -> Counter[str]:
    per_page = 20
    with Replica(articles, per_page, seed=11) as replica, \
            tempfile.TemporaryDirectory(prefix="newsspider-bench-stages-") as tmp:
        out = Path(tmp) / "raw.txt"
        env = {"AUTOTHROTTLE_ENABLED": "false", "NEWSSPIDER_DATA_DIR": tmp}
        import os

        env = {**{k: v for k, v in os.environ.items() if k not in ("MONGO_URI", "REDIS_URL")}, **env}
        command = _crawl_command(replica.listing_url, -(-articles // per_page), bare=False)
        subprocess.run([py_spy, "record", "--subprocesses", "--threads", "--format", "raw", "--rate",
                        str(rate), "--output", str(out), "--nonblocking", "--", *command],
                       cwd=Path(__file__).resolve().parent.parent, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3600)
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
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.py_spy:
        parser.error("py-spy not found: pip install --target DIR py-spy, then --py-spy DIR/bin/py-spy")
    counts = profile(args.articles, args.py_spy, args.rate)
    total = sum(counts.values()) or 1
    if args.json:
        print(json.dumps(dict(counts), indent=1, ensure_ascii=False))
    for stage, n in counts.most_common():
        print(f"{stage}: {100 * n / total:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
