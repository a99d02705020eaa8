"""JSON Lines export: one article document per line, as stored, ``_id`` included.

* Dates are ISO 8601 in UTC with a ``Z`` suffix — ``2022-08-31T07:58:00Z``, or with
  milliseconds (``…07:58:00.123Z``) when the stored value has them (BSON dates hold
  milliseconds).  ``datetime.fromisoformat`` (3.11+), JavaScript's ``Date`` and
  MongoDB Extended JSON (relaxed) all read this form.
* UTF-8, not ASCII-escaped (``ensure_ascii=False``) except U+2028/U+2029, which stay
  ``\\u`` escapes so line-splitting readers see one document per line; ``\\n`` after each.
* Other BSON values: ObjectId as its hex string; anything else unexpected is an error
  naming the field's type rather than a silent ``str()``.

Settings read: none.  Stats written: none (``export_jsonl`` returns the count).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from typing import Any

from bson import ObjectId

from newsspider.export.files import is_stdout, open_output
from newsspider.export.source import DEFAULT_BATCH_SIZE, Document, as_utc, iter_articles
from newsspider.export.state import DEFAULT_LOOKBACK, export_window

logger = logging.getLogger(__name__)


def iso_utc(value: dt.datetime) -> str:
    """``2022-08-31T07:58:00Z`` (milliseconds only when present)."""
    value = as_utc(value)
    timespec = "milliseconds" if value.microsecond else "seconds"
    return value.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if isinstance(value, ObjectId):
        return str(value)
    raise TypeError(f"cannot export a {type(value).__name__} value as JSON")


def to_json_line(doc: Document) -> str:
    """One document as one JSON line (with its trailing newline)."""
    line = json.dumps(doc, ensure_ascii=False, default=_json_default, separators=(",", ":"))
    # U+2028/U+2029 are line breaks to str.splitlines() and to JavaScript: keep them escaped.
    return line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"


def export_jsonl(
    db: Any,
    out: str | os.PathLike[str],
    portal: str | None = None,
    since: Any = None,
    *,
    changed_since: Any = None,
    state: str | os.PathLike[str] | None = None,
    lookback: float = DEFAULT_LOOKBACK,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limit: int = 0,
) -> int:
    """Write matching articles to ``out`` (``-`` = stdout); return the count.

    Newest first; with ``changed_since``/``state`` only the changed ones, in change order
    (see :mod:`newsspider.export.state`).
    """
    streamed = is_stdout(out)
    count = 0
    with export_window(state, export="jsonl", portal=portal, since=since,
                       changed_since=changed_since, streamed=streamed, lookback=lookback) as (
        window, tracker,
    ):
        articles = iter_articles(db, portal, since, window=window, batch_size=batch_size,
                                 limit=limit)
        before_replace = tracker.prepare_replace if tracker is not None else None
        with open_output(out, before_replace) as stream:
            for doc in articles:
                stream.write(to_json_line(doc).encode("utf-8"))
                count += 1
                if tracker is not None:
                    if streamed:
                        stream.flush()  # the line is out before it is recorded
                    tracker.record(doc)
        if tracker is not None:
            tracker.commit()
    logger.info("jsonl export: %d documents written to %s", count, os.fspath(out))
    return count
