"""``newsspider``: crawl, demo, replica, store, runs, export.

Exit codes (every subcommand):
  0  done, every check passed
  1  the crawl ran but failed a health check, or left items journaled
     because the store was unreachable (the message says how many and where)
  2  usage error (bad arguments, unknown portal)
  3  the store could not be started or reached

The CLI is, with ``settings.py``, the only code that reads the environment.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

EXIT_OK, EXIT_CHECKS, EXIT_USAGE, EXIT_STORE = 0, 1, 2, 3


def _project_settings(overrides: Sequence[str] = ()) -> Any:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newsspider.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    for pair in overrides:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"newsspider: -s expects NAME=VALUE, got {pair!r}")
        settings.set(name, value, priority="cmdline")
    return settings


def _spider_args(pairs: Sequence[str]) -> dict[str, str]:
    args = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"newsspider: -a expects NAME=VALUE, got {pair!r}")
        args[name] = value
    return args


@contextmanager
def open_database(settings: Any) -> Iterator[Any]:
    """The configured database; starts the embedded store for the duration when MONGO_URI is unset."""
    from pymongo import MongoClient

    from newsspider.store.embedded import EmbeddedStore, StoreStartError

    uri = settings.get("MONGO_URI")
    embedded = None
    if not uri:
        data_dir = os.path.join(settings.get("NEWSSPIDER_DATA_DIR"), "store")
        embedded = EmbeddedStore(data_dir, start_timeout=settings.getfloat(
            "NEWSSPIDER_STORE_START_TIMEOUT", 30))
        try:
            uri = embedded.start()
        except StoreStartError as exc:
            print(f"newsspider: {exc}", file=sys.stderr)
            raise SystemExit(EXIT_STORE) from exc
    client: MongoClient = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=10000)
    try:
        yield client[settings.get("MONGO_DATABASE")]
    finally:
        client.close()
        if embedded is not None:
            embedded.stop()


# -- crawl -----------------------------------------------------------------


def run_crawl(
    portal: str,
    spider_args: dict[str, str],
    settings: Any,
    progress: bool = True,
) -> tuple[int, dict[str, Any]]:
    """Run one crawl in this process; returns ``(exit code, final stats)``."""
    from scrapy.crawler import CrawlerProcess

    from newsspider.portals import all_portals
    from newsspider.spiders.base import SpiderArgumentError

    if portal not in all_portals() and portal != "feed":
        known = ", ".join(sorted([*all_portals(), "feed"]))
        print(f"newsspider: unknown portal {portal!r}; known: {known}", file=sys.stderr)
        return EXIT_USAGE, {}
    if progress:
        extensions = dict(settings.getdict("EXTENSIONS"))
        extensions["newsspider.extensions.progress.ProgressLine"] = 900
        settings.set("EXTENSIONS", extensions, priority="cmdline")
    process = CrawlerProcess(settings, install_root_handler=True)
    crawler = process.create_crawler(portal)
    # The spider is created inside the running crawl, where an error is a traceback:
    # check the arguments and the browser first (newsspider.spiders.base.NewsSpider).
    from newsspider.runtime import RenderUnavailableError

    try:
        check: Any = getattr(crawler.spidercls, "check_arguments", None)
        if check is not None:  # every newsspider spider has it (NewsSpider)
            check(crawler.settings, **spider_args)
    except (SpiderArgumentError, RenderUnavailableError) as exc:
        print(f"newsspider: {exc}", file=sys.stderr)
        return EXIT_USAGE, {}
    process.crawl(crawler, **spider_args)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    return crawl_exit_code(crawler, stats), stats


def crawl_exit_code(crawler: Any, stats: dict[str, Any]) -> int:
    if stats.get("newsspider/store/unavailable"):
        return EXIT_STORE
    if stats.get("newsspider/store/journaled") or stats.get("newsspider/monitor/failed"):
        return EXIT_CHECKS
    if stats.get("finish_reason") not in ("finished", "closespider_itemcount", None):
        return EXIT_CHECKS
    return EXIT_OK


def cmd_crawl(args: argparse.Namespace) -> int:
    settings = _project_settings(args.set)
    code, _ = run_crawl(args.portal, _spider_args(args.arg), settings, progress=not args.quiet)
    return code


# -- demo ------------------------------------------------------------------


def summary_table(stats: dict[str, Any], elapsed: float) -> str:
    def get(key: str) -> int:
        return int(stats.get(key, 0) or 0)

    rows = [
        ("stored (new)", get("newsspider/store/inserted")),
        ("stored (updated)", get("newsspider/store/revised")),
        ("unchanged", get("newsspider/store/unchanged")),
        ("duplicates merged", get("newsspider/dedup/exact") + get("newsspider/dedup/near")),
        ("  exact", get("newsspider/dedup/exact")),
        ("  near (SimHash)", get("newsspider/dedup/near")),
        ("already stored, not fetched", get("newsspider/spider/articles_known")),
        ("rejected", get("newsspider/validate/rejected")),
    ]
    prefix = "newsspider/validate/rejected/"
    for key in sorted(k for k in stats if k.startswith(prefix)):
        rows.append((f"  {key[len(prefix):]}", get(key)))
    rows.append(("pages fetched", get("downloader/response_count")))
    width = max(len(name) for name, _ in rows)
    lines = [f"{'what':<{width}}  count", f"{'-' * width}  -----"]
    lines += [f"{name:<{width}}  {value:>5}" for name, value in rows]
    lines.append(f"{'elapsed':<{width}}  {elapsed:.1f}s")
    return "\n".join(lines)


def cmd_demo(args: argparse.Namespace) -> int:
    from newsspider.replica.server import ReplicaServer

    settings = _project_settings(args.set)
    if not os.environ.get("MONGO_DATABASE"):
        settings.set("MONGO_DATABASE", "newsspider_demo", priority="cmdline")
    settings.set("ROBOTSTXT_OBEY", True, priority="cmdline")
    settings.set("AUTOTHROTTLE_ENABLED", False, priority="cmdline")
    settings.set("LOG_LEVEL", args.log_level, priority="cmdline")
    with open_database(settings) as db:
        # The demo database is the demo's own: start from empty so the summary is the same each run.
        db.client.drop_database(db.name)
    with ReplicaServer(port=args.port) as replica:
        print(f"replica portal at {replica.listing_url}", file=sys.stderr)
        started = time.monotonic()
        code, stats = run_crawl(
            "ofweek", {"start_url": replica.listing_url}, settings, progress=not args.quiet
        )
        elapsed = time.monotonic() - started
    print(summary_table(stats, elapsed))
    data_dir = settings.get("NEWSSPIDER_DATA_DIR")
    where = settings.get("MONGO_URI") or f"embedded store in {os.path.abspath(data_dir)}/store"
    print(f"\narticles are in database {settings.get('MONGO_DATABASE')!r} ({where});")
    print("look at them with: newsspider export jsonl --out - "
          f"(MONGO_DATABASE={settings.get('MONGO_DATABASE')})")
    return code


# -- store, replica, runs, export -------------------------------------------


def cmd_store(args: argparse.Namespace) -> int:
    from newsspider.store.embedded import EmbeddedStore, StoreStartError

    settings = _project_settings()
    data_dir = args.data_dir or os.path.join(settings.get("NEWSSPIDER_DATA_DIR"), "store")
    store = EmbeddedStore(data_dir, port=args.port, host=args.host)
    try:
        uri = store.start()
    except StoreStartError as exc:
        print(f"newsspider: {exc}", file=sys.stderr)
        return EXIT_STORE
    print(f"embedded store listening: MONGO_URI={uri} (data in {store.data_dir}); Ctrl-C stops it",
          flush=True)
    try:
        while store.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        store.stop()
    return EXIT_OK


def cmd_replica(args: argparse.Namespace) -> int:
    from newsspider.replica import __main__ as replica_main

    return int(replica_main.main(args.replica_args) or 0)


def cmd_runs(args: argparse.Namespace) -> int:
    settings = _project_settings()
    with open_database(settings) as db:
        query = {"portal": args.portal} if args.portal else {}
        rows = list(db.runs.find(query).sort("started_at", -1).limit(args.limit))
    print(format_runs(rows))
    return EXIT_OK


def format_runs(rows: list[dict[str, Any]]) -> str:
    header = ("started (UTC)", "portal", "reason", "items", "rejects", "errors", "secs", "checks")
    table = [header]
    for run in rows:
        stats = run.get("stats", {})
        started = run.get("started_at")
        finished = run.get("finished_at")
        secs = (finished - started).total_seconds() if started and finished else 0.0
        checks = run.get("checks", {})
        table.append((
            started.strftime("%Y-%m-%d %H:%M:%S") if started else "-",
            str(run.get("portal", "")),
            str(run.get("finish_reason", "")),
            str(stats.get("item_scraped_count", 0)),
            str(stats.get("newsspider/validate/rejected", 0)),
            str(stats.get("log_count/ERROR", 0)),
            f"{secs:.1f}",
            "ok" if checks.get("passed", True) else "FAILED",
        ))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in table)


def cmd_export(args: argparse.Namespace) -> int:
    from newsspider.export.cli import run_export

    settings = _project_settings()
    with open_database(settings) as db:
        return int(run_export(args, db=db))


# -- the parser ------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from newsspider.export.cli import add_export_parser
    from newsspider.scheduler import add_schedule_parser

    parser = argparse.ArgumentParser(
        prog="newsspider",
        description="Harvest news portals into MongoDB.",
        epilog="exit codes: 0 ok; 1 crawl failed a check or left items journaled; "
        "2 usage error; 3 store unavailable",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    crawl = sub.add_parser("crawl", help="crawl one portal into the store",
                           description="Crawl one portal (see `scrapy list`) into the store.")
    crawl.add_argument("portal", help="portal (spider) name, e.g. ofweek, or feed")
    crawl.add_argument("-a", dest="arg", action="append", default=[], metavar="NAME=VALUE",
                       help="spider argument: start_url, max_pages, since, render=js, full=1")
    crawl.add_argument("-s", dest="set", action="append", default=[], metavar="NAME=VALUE",
                       help="override a setting")
    crawl.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    crawl.set_defaults(func=cmd_crawl)

    demo = sub.add_parser("demo", help="crawl the bundled replica portal into the embedded store",
                          description="Serve the bundled OFweek replica on loopback, crawl it "
                          "into the store (database newsspider_demo unless MONGO_DATABASE is "
                          "set) and print a summary.")
    demo.add_argument("--port", type=int, default=0, help="replica port (default: any free)")
    demo.add_argument("--log-level", default="WARNING", help="crawl log level (default WARNING)")
    demo.add_argument("-s", dest="set", action="append", default=[], metavar="NAME=VALUE")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    demo.set_defaults(func=cmd_demo)

    replica = sub.add_parser("replica", help="serve the bundled portal replica on loopback",
                             description="Serve the bundled portal replica; arguments are "
                             "passed to `python -m newsspider.replica` (see its --help).",
                             add_help=False)
    replica.add_argument("replica_args", nargs=argparse.REMAINDER)
    replica.set_defaults(func=cmd_replica)

    store = sub.add_parser("store", help="run the embedded MongoDB-compatible store",
                           description="Run nx-27017 in the foreground for consumers.")
    store.add_argument("--host", default="127.0.0.1")
    store.add_argument("--port", type=int, default=27017)
    store.add_argument("--data-dir", help="default: $NEWSSPIDER_DATA_DIR/store")
    store.set_defaults(func=cmd_store)

    runs = sub.add_parser("runs", help="show recent crawl runs",
                          description="Recent `runs` documents as a table.")
    runs.add_argument("--portal")
    runs.add_argument("--limit", type=int, default=20)
    runs.set_defaults(func=cmd_runs)

    export = add_export_parser(sub)
    export.set_defaults(func=cmd_export)
    add_schedule_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.captureWarnings(True)
    code = int(args.func(args))
    if argv is None and args.func is cmd_crawl:
        # The program is this crawl, and it is over (store flushed and
        # stopped, workers gone): leave without the interpreter's teardown,
        # as `scrapy crawl` does (newsspider.commands.crawl.exit_now).
        from newsspider.commands.crawl import exit_now

        exit_now(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
