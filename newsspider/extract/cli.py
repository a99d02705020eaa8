"""``newsspider extract FILE --url URL [--portal NAME]``: one saved page's stored fields as JSON.

For portal authors and users checking what a page would give: prints
:func:`newsspider.extract.extract_page` of the page (FILE ``-`` reads
standard input) as one JSON object, dates as in ``export jsonl``
(``2022-08-31T07:58:00Z``).  The file's bytes are decoded as a crawl decodes
a response (``<meta charset>``, BOM, the portal's declared encoding).

The only module of :mod:`newsspider.extract` that does I/O: it reads the page
it is given.  A missing file, an unknown portal or a relative URL is a usage
error (exit status 2, one line).  Settings read: none.  Stats written: none.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, BinaryIO, TextIO
from urllib.parse import urlsplit

from scrapy.exceptions import UsageError

from newsspider.export.jsonl import iso_utc
from newsspider.extract.encoding import decode_html
from newsspider.extract.page import extract_page

__all__ = ["add_extract_parser", "run_extract"]


def add_extract_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "extract", help="print what a saved page gives (the stored fields, as JSON)",
        description="Extract one saved article page as the pipelines would store it and print "
        "the fields that come from the page as JSON. Without --portal the page is extracted "
        "automatically (as the feed spider does); with it, the portal's selectors run and the "
        "automatic extractor fills each field they miss (the `extraction` field says which).",
    )
    parser.add_argument("file", metavar="FILE", help="the page's HTML as saved; - reads stdin")
    parser.add_argument("--url", required=True, help="the page's URL (links resolve against it)")
    parser.add_argument("--portal", metavar="NAME", help="a portal name (see `scrapy list`)")
    return parser


def _read(name: str, stdin: BinaryIO) -> bytes:
    if name == "-":
        return stdin.read()
    try:
        with open(name, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from exc


def _json(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return iso_utc(value)
    raise TypeError(f"cannot print a {type(value).__name__} value as JSON")


def run_extract(
    args: argparse.Namespace, stdin: BinaryIO | None = None, stdout: TextIO | None = None
) -> int:
    """Print the page's fields; raises :class:`~scrapy.exceptions.UsageError` for bad input."""
    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--url must be an absolute http(s) URL, got {args.url!r}")
    encoding = None
    if args.portal is not None:
        from newsspider.portals import get_portal

        try:
            encoding = get_portal(args.portal).encoding
        except KeyError as exc:
            raise UsageError(str(exc.args[0])) from exc
    raw = _read(args.file, stdin if stdin is not None else sys.stdin.buffer)
    html, _ = decode_html(raw, None, encoding)
    try:
        fields = extract_page(html, args.url, args.portal)
    except ValueError as exc:  # the normalizer failed on this body: what a crawl rejects
        raise UsageError(f"{args.file}: {exc}") from exc
    out = stdout if stdout is not None else sys.stdout
    out.write(json.dumps(fields, ensure_ascii=False, indent=2, default=_json) + "\n")
    return 0
