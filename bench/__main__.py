"""``python -m bench [--quick | --tiny] [--out DIR]``: measure, print, save (see :mod:`bench`).

Prints ``name: value`` per figure as soon as it is known, then writes
``report.json`` and ``crawls.png`` into the output directory.  Exit status 1
when a figure could not be measured; a missed target never fails the run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from bench import scaleout as scaleout_bench
from bench.procs import BenchError
from bench.runner import BenchConfig, run

# Targets (CONTRACT §6 and the issue): reported next to the figures, never enforced.  The
# wall-clock ratios (pipeline_overhead_ratio, unseen_900_wall_ratio, pipeline_cpu_wall_ratio)
# are information only: they carry the shared host's load (issue #25, "honest figures").
TARGETS = {
    "bulk_vs_naive_store_ratio": (">=", 3.0),
    "normalize_vs_trafilatura_ratio": ("<=", 0.1),
    "peak_rss_mb_10k": ("<=", 400.0),
    "peak_rss_mb_50k": ("<=", 400.0),
    "rss_growth_ratio": ("<=", 1.25),
    "web_scaling_ratio": ("<=", 3.0),
    "extraction_f1": (">=", 0.97),
    "extraction_time_ratio": ("<=", 1.2),
    "scaleout_share_min": (">=", 0.15),
}


def _config(args: argparse.Namespace) -> BenchConfig:
    if args.tiny:
        return BenchConfig.tiny()
    quick = args.quick or os.environ.get("BENCH_QUICK", "").strip().lower() in ("1", "true", "yes")
    return BenchConfig.quick() if quick else BenchConfig()


def _met(name: str, value: float) -> str:
    target = TARGETS.get(name)
    if target is None:
        return ""
    op, bound = target
    ok = value >= bound if op == ">=" else value <= bound
    return f"  # target {op} {bound}: {'met' if ok else 'MISSED'}"


def plot(report: dict[str, Any], path: Path) -> None:
    """Articles crawled and RSS over time, one line per crawl."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8), sharex=True)
    for label, series in report["series"].items():
        if series["items"]:
            xs, ys = zip(*series["items"], strict=True)
            top.plot(xs, ys, label=label, linestyle="--" if "bare" in label else "-")
        if series["rss"]:
            xs, ys = zip(*series["rss"], strict=True)
            bottom.plot(xs, ys, label=label, linestyle="--" if "bare" in label else "-")
    top.set_ylabel("articles stored (LogStats)")
    top.set_title(f"newsspider bench ({report['mode']} mode): throughput")
    top.legend(fontsize="small", ncol=2)
    bottom.set_ylabel("crawl process RSS (MB)")
    bottom.set_xlabel("seconds since the crawl process started")
    bottom.set_title("memory")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def scaleout(config: BenchConfig, report: dict[str, Any], progress: Any) -> None:
    """The scale-out figures (bench/scaleout.py) into the report; not measured without Redis."""
    if scaleout_bench.redis_available() is None:
        logging.getLogger("bench").warning(
            "scaleout_*: not measured (redis-server is not installed; Debian: redis-server)")
        return
    result = scaleout_bench.measure(scaleout_bench.Sizes.for_mode(config.mode), progress)
    report["figures"].update(result["figures"])
    report["details"]["scaleout"] = result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (also BENCH_QUICK=1)")
    parser.add_argument("--tiny", action="store_true", help="smoke-test sizes; numbers meaningless")
    parser.add_argument("--out", default=os.environ.get("BENCH_OUT", "bench/out"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="# %(message)s", stream=sys.stderr)
    config = _config(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"bench_mode: {config.mode}", flush=True)
    if config.mode != "full":
        print(
            f"# {config.mode.upper()} MODE: peak_rss_mb_10k/50k measured at "
            f"{config.rss_small}/{config.rss_large} articles, overhead at "
            f"{config.overhead_articles} articles x {config.overhead_repeats}",
            flush=True,
        )

    def progress(name: str, value: Any) -> None:
        print(f"{name}: {value}{_met(name, value)}", flush=True)

    try:
        report = run(config, progress)
        scaleout(config, report, progress)
    except (BenchError, ValueError, OSError) as exc:
        print(f"bench: could not measure: {exc}", file=sys.stderr)
        return 1
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False), "utf-8")
    plot(report, out / "crawls.png")
    print(f"# report: {out / 'report.json'}, plot: {out / 'crawls.png'} ({report['elapsed_s']} s)")
    for error in report["errors"]:
        print(f"bench: could not measure: {error}", file=sys.stderr)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
