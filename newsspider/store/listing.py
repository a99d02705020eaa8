"""The keys the dashboard lists and searches by: string keys on one index each.

Every list the dashboard shows is newest first, filtered, and paged by
*keyset* (``key < last key seen``), never by ``skip``.  On nx-27017 a range
on a date (``published_at < D``) or on ``_id`` is answered by a scan (its
date comparisons go through SQLite's ``datetime()``, its ``_id`` ranges
through Python), while a range on an indexed *string* field is an index
range with ``ORDER BY … LIMIT`` (0.7 ms at 50,000 articles, against 246 ms
for the same page by date).  So each list gets a string key that sorts like
the date and is unique (the date, then the document's id), and MongoDB uses
the same keys the same way.

* ``article_keys`` — one small row per (term, article), ``_id`` = ``k`` =
  ``"<term>\\x1f<date>\\x1f<url>"`` (``k`` is indexed; ``_id`` only makes
  the writes idempotent).  Terms: ``*`` (every article, by ``published_at``),
  ``@<portal>`` (one portal's), ``+`` and ``+@<portal>`` (the same by
  ``first_seen_at``: what arrived when), and ``t:<token>`` for each token of
  the title (:func:`title_terms`), by ``published_at``.  The ``*`` row also
  carries the portal (``p``) and title (``t``): a title search reads rows,
  never article documents, until it shows a page.
* ``runs.list_key`` = ``"r:<started_at>\\x1f<_id>"`` and ``runs.status``
  (``ok`` / ``failed``, from the checks).
* ``rejects.list_key`` = ``"j:<at>\\x1f<_id>"`` and ``rejects.reason`` (the
  top-level field of the first error, as in the stats
  ``newsspider/validate/rejected/<field>``).

No key starts with a digit: nx-27017 takes a string that begins like a date
(``"2024-05-01…"``) for a date, and answers its range by a scan too
(:mod:`newsspider.store.nx27017`).

The writer (:mod:`newsspider.store.writer`) keeps them with every write;
:func:`reindex` builds them for documents stored before they existed
(``newsspider web --reindex``).  A marker row (``_id`` = :data:`COMPLETE`)
says every article has its rows: the store sets it when it opens an empty
``articles`` collection, :func:`reindex` when it is done.

Title tokens: the NFKC-folded, case-folded title split into runs of CJK
characters and runs of other letters and digits; a CJK run gives its
overlapping character pairs (a single character gives itself), any other run
is one token.  "华为发布Mate 70" → 华为, 为发, 发布, mate, 70.  A search
takes one query token's rows and keeps those whose title contains every
word of the query; a page reads at most a bounded number of rows
(see :mod:`newsspider.web.queries`).

Reads no settings, writes no stats.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pymongo.database import Database

ARTICLE_KEYS = "article_keys"
SEP = "\x1f"  # between the parts of a key: below every printable character
TOP = "\uffff"  # above every character a key holds: the end of a prefix range
COMPLETE = "~complete"  # the marker row: every article has its rows

ALL, PORTAL, ARRIVED, TITLE = "*", "@", "+", "t:"
RUN_KEY, REJECT_KEY = "r:", "j:"  # the prefixes of runs' and rejects' list_key
# The longest titles (some portals put a summary there) index their first tokens only.
MAX_TITLE_TERMS = 64
MAX_ROW_TITLE = 500  # title characters a row keeps (for search's check and the list)
HEALTHY_FINISH = ("finished", "closespider_itemcount")

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKENS = re.compile(f"[{_CJK}]+|[^\\W_{_CJK}]+")
_CJK_CHAR = re.compile(f"[{_CJK}]")


def key_time(value: Any) -> str:
    """A date as it sorts in keys: ``2024-05-01T08:30:00Z`` (UTC, whole seconds); "" if not a date."""
    if not isinstance(value, datetime):
        return ""
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def parse_key_time(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def fold(text: str) -> str:
    """What search compares: NFKC (full-width → ASCII), case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def title_terms(title: str) -> list[str]:
    """The index tokens of a title, in order, without repeats (see the module docstring)."""
    terms: dict[str, None] = {}
    for run in _TOKENS.findall(fold(title or "")):
        if _CJK_CHAR.match(run):
            if len(run) == 1:
                terms[run] = None
            for i in range(len(run) - 1):
                terms[run[i:i + 2]] = None
        else:
            terms[run] = None
        if len(terms) >= MAX_TITLE_TERMS:
            break
    return list(terms)[:MAX_TITLE_TERMS]


def query_terms(query: str) -> list[str]:
    """The tokens a search can look up: those of the query, less lone CJK characters
    (a title's pairs never hold one; the query's words still check them)."""
    return [t for t in title_terms(query) if not (len(t) == 1 and _CJK_CHAR.match(t))]


def title_matches(title: str, words: Iterable[str]) -> bool:
    """Every folded query word is in the folded title."""
    folded = fold(title or "")
    return all(word in folded for word in words)


def article_key(term: str, when: str, url: str) -> str:
    return f"{term}{SEP}{when}{SEP}{url}"


def split_key(key: str) -> tuple[str, str, str]:
    """``(term, date, url)`` of an ``article_keys`` key (the URL may hold anything)."""
    term, _, rest = key.partition(SEP)
    when, _, url = rest.partition(SEP)
    return term, when, url


def article_rows(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``article_keys`` rows of one article document, by ``_id``.

    Only the ``*`` row carries the portal (``p``) and title (``t``): every other
    row's key holds its date and URL, and so names its ``*`` row, where a
    search checks a title.  (A row is about the cost of a document on
    nx-27017 whatever its size; the leaner, the less the crawl encodes.)
    """
    url = str(doc.get("_id") or doc.get("url") or "")
    if not url:
        return {}
    portal = str(doc.get("portal") or "")
    rows: dict[str, dict[str, Any]] = {}
    published = key_time(doc.get("published_at"))
    if published:
        tail = f"{SEP}{published}{SEP}{url}"
        star = ALL + tail
        rows[star] = {"_id": star, "k": star, "p": portal,
                      "t": str(doc.get("title") or "")[:MAX_ROW_TITLE]}
        for term in (PORTAL + portal, *(TITLE + t for t in title_terms(str(doc.get("title") or "")))):
            key = term + tail
            rows[key] = {"_id": key, "k": key}
    arrived = key_time(doc.get("first_seen_at"))
    if arrived:
        tail = f"{SEP}{arrived}{SEP}{url}"
        for term in (ARRIVED, ARRIVED + PORTAL + portal):
            key = term + tail
            rows[key] = {"_id": key, "k": key}
    return rows


# What an article's rows are made of: (url, portal, title, published_at, first_seen_at).
RowSource = tuple[Any, ...]
_ROW_SOURCE = ("_id", "portal", "title", "published_at", "first_seen_at")


def row_source(doc: Mapping[str, Any] | None) -> RowSource:
    """The fields :func:`article_rows` reads; equal sources, equal rows (cheap to compare)."""
    if doc is None:
        return ()
    return tuple(doc.get(name) for name in _ROW_SOURCE)


def rows_of(source: RowSource) -> dict[str, dict[str, Any]]:
    return article_rows(dict(zip(_ROW_SOURCE, source, strict=True))) if source else {}


def title_row_id(key: str) -> str:
    """The ``*`` row (portal and title) of the article a row's key names
    (a row by publication date: ``@<portal>`` or ``t:<token>``)."""
    return ALL + SEP + key.partition(SEP)[2]


def row_changes(
    before: Mapping[str, dict[str, Any]], after: Mapping[str, dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """What turns an article's rows ``before`` into ``after``: ``(inserts, upserts, deletes)``.

    A new article's rows are inserts.  When any row changed, every row of
    ``after`` is upserted (which also heals an article stored before the keys
    existed) and the rows it no longer has are deleted; unchanged: nothing.
    """
    if not before:
        return list(after.values()), [], []
    if before == after:
        return [], [], []
    return [], list(after.values()), [key for key in before if key not in after]


def run_status(doc: Mapping[str, Any]) -> str:
    """``failed`` when a check failed (either shape of ``checks``) or, without checks,
    the run did not finish well; else ``ok``."""
    checks = doc.get("checks")
    if isinstance(checks, Mapping):
        return "failed" if failed_checks(checks) or checks.get("passed") is False else "ok"
    return "ok" if doc.get("finish_reason") in HEALTHY_FINISH else "failed"


def failed_checks(checks: Mapping[str, Any]) -> list[dict[str, str]]:
    """``[{name, message}]`` from ``checks.failed`` as names or as ``{name, message}``."""
    out = []
    for entry in checks.get("failed") or []:
        if isinstance(entry, Mapping):
            out.append({"name": str(entry.get("name", "")), "message": str(entry.get("message", ""))})
        else:
            out.append({"name": str(entry), "message": ""})
    return out


def run_keys(doc: Mapping[str, Any]) -> dict[str, str]:
    """``list_key`` and ``status`` of a ``runs`` document."""
    return {
        "list_key": f"{RUN_KEY}{key_time(doc.get('started_at'))}{SEP}{doc.get('_id')}",
        "status": run_status(doc),
    }


def reject_keys(doc: Mapping[str, Any]) -> dict[str, str]:
    """``list_key`` and ``reason`` of a ``rejects`` document."""
    errors = doc.get("errors") or []
    first = errors[0] if errors and isinstance(errors[0], Mapping) else {}
    reason = str(first.get("field") or "unknown").split(".")[0] or "unknown"
    return {"list_key": f"{REJECT_KEY}{key_time(doc.get('at'))}{SEP}{doc.get('_id')}",
            "reason": reason}


# -- building the keys of documents stored before them -----------------------

_ROW_FIELDS = {"_id": 1, "url": 1, "portal": 1, "title": 1, "published_at": 1, "first_seen_at": 1}


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def insert_rows(
    db: Database[dict[str, Any]], rows: list[dict[str, Any]], session: Any = None,
) -> list[dict[str, Any]]:
    """Insert rows, unordered, in one command; returns the write errors other than
    "already there" (a row's ``_id`` is its content: the same row)."""
    if not rows:
        return []
    reply = db.command("insert", ARTICLE_KEYS, ordered=False, documents=rows, session=session)
    return [e for e in reply.get("writeErrors") or [] if e.get("code") != 11000]


def reindex(db: Database[dict[str, Any]], batch: int = 500) -> dict[str, int]:
    """Build the keys of every article, run and reject that lacks them; idempotent.

    One pass over ``articles`` (a scan: this is the one-off migration, not a
    page), then the ``runs`` and ``rejects`` without ``list_key``.
    """
    from pymongo import UpdateOne

    counts = {"articles": 0, "rows": 0, "runs": 0, "rejects": 0}
    cursor = db.articles.find({}, _ROW_FIELDS, batch_size=batch)
    for docs in _chunks(iter(cursor), batch):
        rows = [row for doc in docs for row in article_rows(doc).values()]
        errors = insert_rows(db, rows)
        if errors:
            raise ValueError(f"article_keys: {errors[0].get('errmsg')}")
        counts["rows"] += len(rows)
        counts["articles"] += len(docs)
    for collection, keys_of in (("runs", run_keys), ("rejects", reject_keys)):
        missing = db[collection].find({"list_key": {"$exists": False}})
        for docs in _chunks(iter(missing), batch):
            db[collection].bulk_write(
                [UpdateOne({"_id": d["_id"]}, {"$set": keys_of(d)}) for d in docs], ordered=False
            )
            counts[collection] += len(docs)
    mark_complete(db)
    return counts


def mark_complete(db: Database[dict[str, Any]], session: Any = None) -> None:
    db[ARTICLE_KEYS].replace_one({"_id": COMPLETE}, {"_id": COMPLETE}, upsert=True, session=session)


def is_complete(db: Database[dict[str, Any]]) -> bool:
    return db[ARTICLE_KEYS].find_one({"_id": COMPLETE}, {"_id": 1}) is not None
