"""``newsspider export {hexo,jsonl,rss}``: the argparse half the lead's CLI mounts.

    parser = argparse.ArgumentParser(prog="newsspider")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_export_parser(subparsers)
    args = parser.parse_args()
    ...connect / start the embedded store...
    return run_export(args, db)

Bad ``--image-proxy`` templates, ``--since`` and ``--changed-since`` dates are rejected
by argparse itself (exit status 2 with the reason), before any store is started; a state
file that cannot be used (another format's, other filters, unreadable, locked by a
running export) exits 2 with the reason, before anything is written.

Settings read: none (``args.lookback``, when set, is ``NEWSSPIDER_EXPORT_LOOKBACK``).
Stats written: none.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from newsspider.exitcodes import EXIT_USAGE
from newsspider.export.hexo import SEED_IMAGE_PROXY, validate_image_proxy, write_hexo
from newsspider.export.jsonl import export_jsonl
from newsspider.export.rss import export_rss
from newsspider.export.source import DEFAULT_BATCH_SIZE, parse_changed_since, parse_since
from newsspider.export.state import DEFAULT_LOOKBACK, StateError


def _argument(check: Callable[[str], object]) -> Callable[[str], str]:
    """An argparse ``type``: the value unchanged, or ``check``'s ValueError as the reason."""

    def argument(value: str) -> str:
        try:
            check(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc
        return value

    return argument


_since_arg = _argument(parse_since)
_changed_since_arg = _argument(parse_changed_since)
_image_proxy_arg = _argument(validate_image_proxy)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from exc
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {number}")
    return number


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--portal", metavar="P", help="only this portal's articles (spider name)")
    parser.add_argument(
        "--since",
        metavar="YYYY-MM-DD",
        type=_since_arg,
        help="only articles published on or after this day (UTC midnight)",
    )
    parser.add_argument(
        "--changed-since",
        metavar="ISO-DATETIME",
        type=_changed_since_arg,
        help="only articles changed (new, revised, merged) at or after this instant, "
        "e.g. 2024-05-01T08:30:00Z (UTC unless it has an offset), in change order",
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        help="only what changed since the export that last used FILE; FILE then records "
        "how far this one got (created when missing; see docs/exports.md)",
    )
    parser.add_argument(
        "--limit", type=_positive_int, default=0,
        help="at most this many, newest first or in change order (0 = all)",
    )
    parser.add_argument(
        "--batch-size",
        type=_positive_int,
        default=DEFAULT_BATCH_SIZE,
        help=f"documents per cursor batch (default {DEFAULT_BATCH_SIZE})",
    )


def add_export_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``export`` with its ``hexo``/``jsonl``/``rss`` sub-commands; returns the parser."""
    export = subparsers.add_parser(
        "export", help="write stored articles as Hexo posts, JSON Lines or RSS"
    )
    formats = export.add_subparsers(dest="export_format", metavar="{hexo,jsonl,rss}", required=True)

    hexo = formats.add_parser("hexo", help="one Markdown post per article (the seed post's format)")
    hexo.add_argument("--out", required=True, metavar="DIR", help="directory for the posts")
    hexo.add_argument(
        "--image-proxy",
        metavar="TEMPLATE",
        type=_image_proxy_arg,
        help=f"wrap every image URL, e.g. {SEED_IMAGE_PROXY!r}",
    )
    _common(hexo)

    jsonl = formats.add_parser("jsonl", help="one JSON document per line")
    jsonl.add_argument("--out", required=True, metavar="FILE", help="output file, - for stdout")
    _common(jsonl)

    rss = formats.add_parser("rss", help="an RSS 2.0 feed with full content")
    rss.add_argument("--out", required=True, metavar="FILE", help="output file, - for stdout")
    rss.add_argument("--title", help="channel title (default: the portal's site name)")
    rss.add_argument("--link", help="channel link (default: the newest article's site)")
    rss.add_argument("--description", help="channel description")
    _common(rss)

    return export


def run_export(args: argparse.Namespace, db: Any = None) -> int:
    """Run the parsed ``export`` command against ``db`` (else ``args.db``); exit status."""
    if db is None:
        db = getattr(args, "db", None)
    if db is None:
        raise ValueError("run_export needs a pymongo Database (argument db or args.db)")
    common = {
        "portal": args.portal,
        "since": args.since,
        "changed_since": getattr(args, "changed_since", None),
        "state": getattr(args, "state", None),
        "lookback": getattr(args, "lookback", None) or DEFAULT_LOOKBACK,
        "batch_size": args.batch_size or DEFAULT_BATCH_SIZE,
        "limit": args.limit,
    }
    detail = ""
    try:
        if args.export_format == "hexo":
            result = write_hexo(db, args.out, image_proxy=args.image_proxy, **common)
            count, what = result.posts, "posts"
            detail = (f" ({result.added} added, {result.rewritten} rewritten, "
                      f"{result.unchanged} unchanged)")
        elif args.export_format == "jsonl":
            count, what = export_jsonl(db, args.out, **common), "documents"
        elif args.export_format == "rss":
            count = export_rss(
                db,
                args.out,
                title=args.title,
                link=args.link,
                description=args.description,
                **common,
            )
            what = "items"
        else:
            raise ValueError(f"unknown export format {args.export_format!r}")
    except StateError as exc:
        print(f"newsspider: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # stderr, so that `--out -` keeps stdout clean for the data.
    print(f"exported {count} {what} to {args.out}{detail}", file=sys.stderr)
    return 0
