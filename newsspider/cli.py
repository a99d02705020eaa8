"""``newsspider``: crawl, demo, replica, store, runs, export, extract, schema, web, schedule.

Exit codes (every subcommand; ``newsspider/exitcodes.py``):
  0  done, every check passed
  1  the crawl ran but failed a health check, or left items journaled
     because the store was unreachable (the message says how many and where)
  2  usage error (bad arguments, unknown portal, a setting's bad value): one line
  3  the store could not be started or reached

``newsspider crawl`` is ``scrapy crawl`` (the project's command,
``newsspider/commands/crawl.py``: same options, same exit codes) run from
anywhere, with a progress line when stderr is a terminal.  Errors become exit
codes in one place, :func:`main`.

The CLI is, with ``settings.py`` (``newsspider/config.py``), the only code that reads the environment.
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

from scrapy.cmdline import ScrapyArgumentParser
from scrapy.settings import SETTINGS_PRIORITIES

from newsspider.exitcodes import EXIT_OK, EXIT_STORE, EXIT_USAGE, UsageExit

CMDLINE = SETTINGS_PRIORITIES["cmdline"]  # what -s sets; the CLI's own choices yield to it


class CliError(Exception):
    """Ends a command with ``code`` and the one-line ``message`` (see :func:`main`)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class Parser(ScrapyArgumentParser):
    """Scrapy's argument parser (``-o -:json`` works) whose usage errors are one line, exit 2."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _project_settings() -> Any:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newsspider.settings")
    from scrapy.utils.project import get_project_settings

    return get_project_settings()


@contextmanager
def open_database(settings: Any) -> Iterator[Any]:
    """The configured database; starts the embedded store for the duration when MONGO_URI is unset.

    A store that does not answer, at the start or while the command reads it,
    ends the command with exit code 3 and one line, its URI redacted.
    """
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    from newsspider.store.embedded import EmbeddedStore, StoreStartError
    from newsspider.store.store import redact_uri

    uri = settings.get("MONGO_URI")
    embedded = None
    if not uri:
        data_dir = os.path.join(settings.get("NEWSSPIDER_DATA_DIR"), "store")
        embedded = EmbeddedStore(data_dir, start_timeout=settings.getfloat(
            "NEWSSPIDER_STORE_START_TIMEOUT", 30))
        try:
            uri = embedded.start()
        except (OSError, StoreStartError) as exc:  # OSError: its data directory, e.g.
            raise CliError(EXIT_STORE, str(exc)) from exc
    timeout = min(10.0, settings.getfloat("NEWSSPIDER_STORE_START_TIMEOUT", 30))
    client: MongoClient = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=int(timeout * 1000))
    try:
        try:
            client.admin.command("ping")
        except (PyMongoError, KeyError) as exc:  # KeyError: SCRAM against a server without auth
            raise CliError(EXIT_STORE, f"store unavailable: the store at {redact_uri(uri)} did not "
                                       f"answer within {timeout:g}s: {_first_line(exc)}") from exc
        try:
            yield client[settings.get("MONGO_DATABASE")]
        except PyMongoError as exc:
            raise CliError(EXIT_STORE, f"store unavailable: the store at {redact_uri(uri)} "
                                       f"failed: {_first_line(exc)}") from exc
    finally:
        client.close()
        if embedded is not None:
            embedded.stop()


def _first_line(exc: BaseException) -> str:
    # pymongo's selection errors append the whole topology description.
    text = str(exc).split(", Timeout:", 1)[0].splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}"


# -- crawl -----------------------------------------------------------------


def crawl_command(settings: Any) -> Any:
    """The project's ``scrapy crawl`` command, holding ``settings`` (as ``scrapy.cmdline`` sets it up)."""
    from newsspider.commands.crawl import Command

    command = Command()
    settings.setdict(command.default_settings, priority="command")
    command.settings = settings
    return command


def show_progress(settings: Any) -> None:
    """The progress line instead of Scrapy's periodic log line (unless ``-s LOGSTATS_INTERVAL``)."""
    extensions = dict(settings.getdict("EXTENSIONS"))
    extensions["newsspider.extensions.progress.ProgressLine"] = 900
    settings.set("EXTENSIONS", extensions, priority="cmdline")
    if (settings.getpriority("LOGSTATS_INTERVAL") or 0) < CMDLINE:
        settings.set("LOGSTATS_INTERVAL", 0, priority="cmdline")


def start_crawl(command: Any, portal: str, opts: argparse.Namespace, progress: bool) -> int:
    """Run the crawl as ``scrapy.cmdline.execute`` runs ``scrapy crawl``; options already processed."""
    from scrapy.cmdline import _run_command
    from scrapy.crawler import AsyncCrawlerProcess, CrawlerProcess

    settings = command.settings
    if progress and sys.stderr.isatty():
        show_progress(settings)
    reactor = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
    asyncio = settings["TWISTED_REACTOR"] == reactor
    if (asyncio and not settings.getbool("FORCE_CRAWLER_PROCESS")) or not settings.getbool(
        "TWISTED_REACTOR_ENABLED"
    ):
        command.crawler_process = AsyncCrawlerProcess(settings)
    else:
        command.crawler_process = CrawlerProcess(settings)
    _run_command(command, [portal], opts)
    return int(command.exitcode)


def cmd_crawl(args: argparse.Namespace) -> int:
    command = args.crawl_command
    command.process_options([args.portal], args)
    return start_crawl(command, args.portal, args, progress=not args.quiet)


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
        ("already stored, revisited", get("newsspider/spider/articles_revisited")),
        ("rejected", get("newsspider/validate/rejected")),
        ("  repeats of a stored reject", get("newsspider/store/rejects_repeated")),
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

    command = args.crawl_command
    command.process_options(["ofweek"], args)
    settings = command.settings
    # The demo's own defaults, unless given with -s (or MONGO_DATABASE in the environment).
    demo = {"ROBOTSTXT_OBEY": True, "AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": "WARNING"}
    if not os.environ.get("MONGO_DATABASE"):
        demo["MONGO_DATABASE"] = "newsspider_demo"
    for name, value in demo.items():
        if (settings.getpriority(name) or 0) < CMDLINE:
            settings.set(name, value, priority="cmdline")
    with open_database(settings) as db:
        # The demo database is the demo's own: start from empty so the summary is the same each run.
        # Collection by collection, not dropDatabase: for that nx-27017 deletes the database's
        # file, under any other process that has it open (a running `newsspider web`), whose
        # next writes or checkpoint then corrupt what this crawl stores.
        for name in db.list_collection_names():
            db.drop_collection(name)
    with ReplicaServer(port=args.port) as replica:
        print(f"replica portal at {replica.listing_url}", file=sys.stderr)
        args.spargs["start_url"] = replica.listing_url
        started = time.monotonic()
        code = start_crawl(command, "ofweek", args, progress=not args.quiet)
        elapsed = time.monotonic() - started
    stats = command.crawler.stats.get_stats() if command.crawler is not None else {}
    print(summary_table(stats, elapsed))
    data_dir = settings.get("NEWSSPIDER_DATA_DIR")
    where = settings.get("MONGO_URI") or f"embedded store in {os.path.abspath(data_dir)}/store"
    print(f"\narticles are in database {settings.get('MONGO_DATABASE')!r} ({where});")
    print("look at them with: newsspider export jsonl --out - "
          f"(MONGO_DATABASE={settings.get('MONGO_DATABASE')})")
    print("\nopen the dashboard (then http://127.0.0.1:8080/):\n"
          f"  MONGO_DATABASE={settings.get('MONGO_DATABASE')} .venv/bin/newsspider web")
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
        raise CliError(EXIT_STORE, str(exc)) from exc
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

    return replica_main.serve(args)


def cmd_runs(args: argparse.Namespace) -> int:
    settings = _project_settings()
    with open_database(settings) as db:
        query = {"portal": args.portal} if args.portal else {}
        rows = list(db.runs.find(query).sort("started_at", -1).limit(args.limit))
    if args.json:
        import json

        from newsspider.store.values import json_safe

        print(json.dumps([json_safe(row) for row in rows], ensure_ascii=False, indent=1))
    else:
        print(format_runs(rows))
    return EXIT_OK


def _checks_cell(checks: Any) -> str:
    if not isinstance(checks, dict) or "failed" not in checks:
        return "-"
    failed = checks.get("failed") or []
    return f"FAILED {len(failed)}" if failed else "ok"


def _coverage_lines(coverage: Any) -> list[str]:
    """``coverage`` and ``selectors`` detail lines of one run (shares to two decimals)."""
    if not isinstance(coverage, dict) or not coverage:
        return []
    plain = [f"{key} {value:.2f}" for key, value in coverage.items() if "/" not in key]
    found = [f"{key.split('/', 1)[1]} {value:.2f}" for key, value in coverage.items()
             if key.startswith("selectors/")]
    lines = ["  coverage   " + "  ".join(plain)]
    if found:
        lines.append("  selectors  " + "  ".join(found))
    return lines


def format_runs(rows: list[dict[str, Any]]) -> str:
    """The runs as a table; under each, its coverage and every failed check with its message."""
    header = ("started (UTC)", "portal", "reason", "items", "rejects", "errors", "secs", "checks")
    table = [header]
    details: list[list[str]] = [[]]
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
            _checks_cell(checks),
        ))
        lines = _coverage_lines(run.get("coverage"))
        for check in (checks.get("failed") or []) if isinstance(checks, dict) else []:
            if isinstance(check, dict):
                lines.append(f"  FAILED {check.get('name')}: {check.get('message')}")
            else:  # runs recorded before checks carried messages
                lines.append(f"  FAILED {check}")
        details.append(lines)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    out = []
    for row, lines in zip(table, details, strict=True):
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        out.extend(lines)
    return "\n".join(out)


def cmd_web(args: argparse.Namespace) -> int:
    from newsspider.store.listing import reindex
    from newsspider.web.app import create_app
    from newsspider.web.server import exposure_error, is_loopback, open_socket, serve

    settings = _project_settings()
    token = settings.get("NEWSSPIDER_WEB_TOKEN") or ""
    problem = exposure_error(args.host, token)
    if problem and not args.reindex:
        raise CliError(EXIT_USAGE, problem)
    if args.database:
        settings.set("MONGO_DATABASE", args.database, priority="cmdline")
    # Not chosen by the user: the demo's database is offered too (see newsspider.web.app).
    explicit = bool(args.database or os.environ.get("MONGO_DATABASE"))
    sock = None
    if not args.reindex:
        try:
            sock = open_socket(args.host, args.port)
        except OSError as exc:
            raise CliError(EXIT_USAGE, f"cannot listen on {args.host}:{args.port}: "
                           f"{exc.strerror or exc}") from exc
    try:
        with open_database(settings) as db:
            if args.reindex:
                counts = reindex(db)
                print(f"listing keys built in database {db.name!r}: {counts['articles']} articles "
                      f"({counts['rows']} rows), {counts['runs']} runs, {counts['rejects']} rejects")
                return EXIT_OK
            assert sock is not None
            app = create_app(db.client, db.name, offer_demo=not explicit, token=token or None,
                             loopback_only=is_loopback(args.host),
                             page_size=settings.getint("NEWSSPIDER_WEB_PAGE_SIZE", 50))
            host, port = sock.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            print(f"dashboard: http://{shown}:{port}/ (database {db.name!r}"
                  f"{', token required' if token else ''}); Ctrl-C stops it", flush=True)
            serve(app, sock, log_level=args.log_level)
    finally:
        if sock is not None:
            sock.close()
    return EXIT_OK


def cmd_extract(args: argparse.Namespace) -> int:
    from newsspider.extract.cli import run_extract

    return run_extract(args)


def cmd_export(args: argparse.Namespace) -> int:
    from newsspider.export.cli import run_export

    settings = _project_settings()
    args.lookback = settings.getfloat("NEWSSPIDER_EXPORT_LOOKBACK")
    with open_database(settings) as db:
        return int(run_export(args, db=db))


def cmd_schema(args: argparse.Namespace) -> int:
    from newsspider.models import article_json_schema_text

    sys.stdout.write(article_json_schema_text())
    return EXIT_OK


# -- the parser and the one place errors become exit codes -------------------


def version() -> str:
    from importlib.metadata import version as installed

    import scrapy

    return (f"newsspider {installed('newsspider')} (Scrapy {scrapy.__version__}, "
            f"Python {sys.version.split()[0]})")


def build_parser(settings: Any) -> argparse.ArgumentParser:
    from newsspider.export.cli import add_export_parser
    from newsspider.extract.cli import add_extract_parser
    from newsspider.replica import __main__ as replica_main
    from newsspider.scheduler import add_schedule_parser

    parser = Parser(
        prog="newsspider",
        description="Harvest news portals into MongoDB.",
        epilog="exit codes: 0 ok; 1 crawl failed a check or left items journaled; "
        "2 usage error; 3 store unavailable",
    )
    parser.add_argument("--version", action="version", version=version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    crawl = sub.add_parser(
        "crawl", help="crawl one portal into the store (= scrapy crawl)",
        description="Crawl one portal (see `scrapy list`) into the store: `scrapy crawl` with "
        "the same options and exit codes, from any directory, with a progress line on a terminal.",
    )
    crawl.add_argument("portal", help="portal (spider) name, e.g. ofweek, or feed")
    crawl.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    command = crawl_command(settings)
    command.add_options(crawl)
    crawl.set_defaults(func=cmd_crawl, crawl_command=command)

    demo = sub.add_parser(
        "demo", help="crawl the bundled replica portal into the embedded store",
        description="Serve the bundled OFweek replica on loopback, crawl it into the store "
        "(database newsspider_demo unless MONGO_DATABASE is set; log level WARNING unless -L) "
        "and print a summary. Takes the options of `newsspider crawl`.",
    )
    demo.add_argument("--port", type=int, default=0, help="replica port (default: any free)")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    demo_command = crawl_command(settings.copy())
    demo_command.add_options(demo)
    demo.set_defaults(func=cmd_demo, crawl_command=demo_command)

    replica = sub.add_parser("replica", help="serve the bundled portal replica on loopback",
                             description=replica_main.DESCRIPTION)
    replica_main.add_arguments(replica)
    replica.set_defaults(func=cmd_replica)

    store = sub.add_parser("store", help="run the embedded MongoDB-compatible store",
                           description="Run nx-27017 in the foreground for consumers.")
    store.add_argument("--host", default="127.0.0.1")
    store.add_argument("--port", type=int, default=27017)
    store.add_argument("--data-dir", help="default: $NEWSSPIDER_DATA_DIR/store")
    store.set_defaults(func=cmd_store)

    runs = sub.add_parser("runs", help="show recent crawl runs, their coverage and failed checks",
                          description="Recent `runs` documents as a table, each with its field "
                          "coverage and failed health checks (see docs/monitoring.md).")
    runs.add_argument("--portal")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true",
                      help="print the documents as a JSON array (dates in ISO 8601) for scripts")
    runs.set_defaults(func=cmd_runs)

    web = sub.add_parser("web", help="serve the read-only dashboard",
                         description="Serve the read-only dashboard over the store (MONGO_URI, "
                         "or the embedded store). Any --host but loopback needs "
                         "NEWSSPIDER_WEB_TOKEN. See docs/dashboard.md.")
    web.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    web.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any free)")
    web.add_argument("--database", help="database to show (default: MONGO_DATABASE)")
    web.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    web.add_argument("--reindex", action="store_true",
                     help="build the dashboard's listing keys for documents stored before "
                     "them, then exit (the one command of the dashboard that writes)")
    web.set_defaults(func=cmd_web)

    export = add_export_parser(sub)
    export.set_defaults(func=cmd_export)
    schema = sub.add_parser("schema", help="print the article document's JSON Schema",
                            description="Print the JSON Schema of a stored article (as "
                            "`export jsonl` writes it): docs/article.schema.json.")
    schema.set_defaults(func=cmd_schema)
    add_extract_parser(sub).set_defaults(func=cmd_extract)
    add_schedule_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run the command, and turn what went wrong into its exit code and one line."""
    from pymongo.errors import ConnectionFailure
    from scrapy.exceptions import UsageError

    logging.captureWarnings(True)
    try:
        args = build_parser(_project_settings()).parse_args(argv)
        code = int(args.func(args))
    except UsageExit:  # its line is already printed
        return EXIT_USAGE
    except UsageError as exc:
        print(f"newsspider: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"newsspider: {exc}", file=sys.stderr)
        return exc.code
    except ConnectionFailure as exc:
        print(f"newsspider: store unavailable: {exc}", file=sys.stderr)
        return EXIT_STORE
    return code


if __name__ == "__main__":
    sys.exit(main())
