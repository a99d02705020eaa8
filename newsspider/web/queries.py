"""The dashboard's reads: each an ``_id`` lookup or a keyset page on one index.

No ``skip``, no count, no scan: a list is ``find({equalities, key: range})
.sort(key).limit(n + 1)`` on a compound index whose last field is the key
(:data:`newsspider.store.store.INDEXES`), and the next page starts below the
last key shown.  The keys are the strings of :mod:`newsspider.store.listing`
(nx-27017 scans for a date range; it walks an index for a string range:
newsspider.store.nx27017, *listing keys*).

A title search reads the rows of one query token, newest first, and keeps
those whose title holds every word of the query; it reads at most
:data:`SEARCH_BUDGET` rows per page and then offers to go on from there, so a
common token costs one bounded page, not a pass over every title.

Reads no settings, writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from newsspider.store.listing import (
    ALL,
    ARRIVED,
    ARTICLE_KEYS,
    PORTAL,
    REJECT_KEY,
    RUN_KEY,
    SEP,
    TITLE,
    TOP,
    fold,
    is_complete,
    parse_key_time,
    query_terms,
    split_key,
    title_matches,
    title_row_id,
)

if TYPE_CHECKING:
    from pymongo.collection import Collection
    from pymongo.database import Database

    Db = Database[dict[str, Any]]

PAGE_SIZE = 50
REJECTS_PAGE_SIZE = 25  # a reject holds the item as scraped: the page reads fewer
SEARCH_BUDGET = 2000  # article_keys rows one search page may read
SEARCH_BATCH = 250
SEARCH_PROBE = 60  # rows read of each query token to find the sparsest
SEARCH_MAX_TERMS = 8  # query tokens probed (a long query: its first ones)
SPARK_RUNS = 30  # runs per portal in the overview's sparkline
MAX_PORTALS = 500
MAX_REASONS = 100
# What an article list shows of each article (read by _id for the page's rows).
LIST_FIELDS = {
    "title": 1, "portal": 1, "author": 1, "published_at": 1, "first_seen_at": 1,
    "revision": 1, "alternate_urls": 1, "site_name": 1, "channel": 1, "images": 1,
}
RUN_STATUSES = ("ok", "failed")
SORTS = ("published", "arrived")


class QueryError(ValueError):
    """A filter the dashboard cannot read (e.g. a malformed date); the page shows the message."""


@dataclass
class Page:
    """One page of a list, newest first; cursors are the keys to continue from."""

    items: list[dict[str, Any]]
    newer: str | None = None  # there are newer items: ?after=<newer>
    older: str | None = None  # there are older items: ?before=<older>
    note: str = ""
    examined: int = 0  # rows read (a search's)


# -- filters --------------------------------------------------------------------


def time_bound(text: str | None, label: str) -> str:
    """A date filter as a key prefix: ``2024-05-01`` or ``2024-05-01T08:30:00`` (UTC).

    An offset is converted to UTC; a date without one is read as UTC.
    """
    text = (text or "").strip()
    if not text:
        return ""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise QueryError(f"{label}: {text[:40]!r} is not a date (use YYYY-MM-DD, UTC)") from exc
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    if len(text) <= 10:
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def _range(lo: str, hi: str, before: str | None, after: str | None) -> dict[str, str]:
    rng: dict[str, str] = {}
    if after is not None and after >= lo:
        rng["$gt"] = after
    else:
        rng["$gte"] = lo
    rng["$lt"] = hi if before is None else min(hi, before)
    return rng


def keyset(
    collection: Collection[dict[str, Any]],
    equal: Mapping[str, Any],
    key: str,
    lo: str,
    hi: str,
    *,
    before: str | None = None,
    after: str | None = None,
    limit: int = PAGE_SIZE,
    projection: Mapping[str, Any] | None = None,
) -> Page:
    """Documents with ``lo <= doc[key] < hi`` (and ``equal``), newest (highest key) first.

    ``before``: the page below that key (older); ``after``: the page above it (newer).
    """
    query = {**equal, key: _range(lo, hi, before if after is None else None, after)}
    ascending = after is not None
    docs = list(collection.find(query, projection).sort(key, 1 if ascending else -1).limit(limit + 1))
    more = len(docs) > limit
    docs = docs[:limit]
    if ascending:
        docs.reverse()
        return Page(docs, newer=docs[0][key] if more and docs else None,
                    older=docs[-1][key] if docs else None)
    return Page(docs, newer=docs[0][key] if before is not None and docs else None,
                older=docs[-1][key] if more and docs else None)


def _distinct(collection: Collection[dict[str, Any]], name: str, limit: int) -> list[str]:
    """The values of an indexed string field, one index seek each (a skip scan)."""
    values: list[str] = []
    last = ""
    while len(values) < limit:
        doc = next(iter(collection.find({name: {"$gt": last}}, {name: 1}).sort(name, 1).limit(1)), None)
        if doc is None or not isinstance(doc.get(name), str):
            break
        last = doc[name]
        values.append(last)
    return values


# -- portals --------------------------------------------------------------------


def portal_names(db: Db) -> list[str]:
    """Portals with a run or an article: the runs' ``portal`` index and the
    ``@<portal>`` listing keys, skip-scanned."""
    names = set(_distinct(db.runs, "portal", MAX_PORTALS))
    last = PORTAL
    for _ in range(MAX_PORTALS):
        row = next(iter(db[ARTICLE_KEYS].find({"k": {"$gt": last, "$lt": PORTAL + TOP}}, {"k": 1})
                        .sort("k", 1).limit(1)), None)
        if row is None:
            break
        term = split_key(row["k"])[0]
        names.add(term[len(PORTAL):])
        last = term + SEP + TOP
    return sorted(names)


def recent_runs(db: Db, portal: str, limit: int = SPARK_RUNS) -> list[dict[str, Any]]:
    """A portal's last runs, newest first (index ``portal, started_at``)."""
    return list(db.runs.find({"portal": portal}).sort("started_at", -1).limit(limit))


def newest_row(db: Db, term: str) -> dict[str, Any] | None:
    """The newest ``article_keys`` row of a term (``@ofweek``: the portal's newest article)."""
    return next(iter(db[ARTICLE_KEYS].find({"k": {"$gt": term + SEP, "$lt": term + SEP + TOP}})
                     .sort("k", -1).limit(1)), None)


def title_rows(db: Db, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The ``*`` rows (portal, title) of the articles ``rows`` name, by ``_id`` (one ``$in``)."""
    if not rows:
        return {}
    ids = list(dict.fromkeys(title_row_id(r["k"]) for r in rows))
    return {d["_id"]: d for d in db[ARTICLE_KEYS].find({"_id": {"$in": ids}})}


def keys_complete(db: Db) -> bool:
    """Every stored article has its listing rows (or there is no article at all)."""
    return is_complete(db) or db.articles.find_one({}, {"_id": 1}) is None


# -- runs -----------------------------------------------------------------------


def runs_page(
    db: Db, *, portal: str = "", status: str = "", start: str = "", end: str = "",
    before: str | None = None, after: str | None = None, limit: int = PAGE_SIZE,
) -> Page:
    if status and status not in RUN_STATUSES:
        raise QueryError(f"status: {status[:20]!r} is not one of {', '.join(RUN_STATUSES)}")
    equal = {name: value for name, value in (("portal", portal), ("status", status)) if value}
    lo, hi = RUN_KEY + start, RUN_KEY + (end + TOP if end else TOP)
    return keyset(db.runs, equal, "list_key", lo, hi, before=before, after=after, limit=limit)


def run(db: Db, run_id: str) -> dict[str, Any] | None:
    return db.runs.find_one({"_id": run_id})


def run_neighbours(db: Db, doc: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(newer run id, older run id)`` of the same portal."""
    key = doc.get("list_key")
    if not isinstance(key, str):
        return None, None
    equal = {"portal": doc.get("portal")}
    newer = next(iter(db.runs.find({**equal, "list_key": {"$gt": key}}, {"_id": 1})
                      .sort("list_key", 1).limit(1)), None)
    older = next(iter(db.runs.find({**equal, "list_key": {"$lt": key}}, {"_id": 1})
                      .sort("list_key", -1).limit(1)), None)
    return (newer or {}).get("_id"), (older or {}).get("_id")


# -- articles -------------------------------------------------------------------


@dataclass
class ArticleFilter:
    portal: str = ""
    start: str = ""  # time_bound() prefixes
    end: str = ""
    q: str = ""
    sort: str = "published"
    words: list[str] = field(default_factory=list)

    def term(self) -> str:
        base = ARRIVED if self.sort == "arrived" else ""
        if self.portal:
            return base + PORTAL + self.portal
        return base or ALL


def article_filter(portal: str = "", start: str = "", end: str = "", q: str = "",
                   sort: str = "") -> ArticleFilter:
    sort = sort or "published"
    if sort not in SORTS:
        raise QueryError(f"sort: {sort[:20]!r} is not one of {', '.join(SORTS)}")
    q = " ".join(q.split())[:200]
    if q and sort == "arrived":
        raise QueryError("a title search lists articles by publication date: sort=published")
    return ArticleFilter(portal=portal, start=time_bound(start, "from"), end=time_bound(end, "to"),
                         q=q, sort=sort, words=[fold(w) for w in q.split()])


def _join(db: Db, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The articles of a page's rows, in the rows' order (one ``_id $in``); rows
    whose article is gone are left out."""
    if not rows:
        return []
    urls = [split_key(r["k"])[2] for r in rows]
    found = {d["_id"]: d for d in db.articles.find({"_id": {"$in": urls}}, LIST_FIELDS)}
    items = []
    for row, url in zip(rows, urls, strict=True):
        doc = found.get(url)
        if doc is not None:
            items.append({"key": row["k"], "when": parse_key_time(split_key(row["k"])[1]),
                          "article": doc})
    return items


def _cursor(term: str, position: str | None) -> str | None:
    return None if position is None else term + SEP + position


def _position(key: str | None) -> str | None:
    """The part of a key after its term: what a page link carries."""
    return None if key is None else key.partition(SEP)[2]


def articles_page(
    db: Db, filt: ArticleFilter, *, before: str | None = None, after: str | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """A page of articles; ``before``/``after`` are positions (``<date>\\x1f<url>``)."""
    if filt.q:
        return search_page(db, filt, before=before, limit=limit)
    term = filt.term()
    lo = term + SEP + filt.start
    hi = term + SEP + (filt.end + TOP if filt.end else TOP)
    page = keyset(db[ARTICLE_KEYS], {}, "k", lo, hi, before=_cursor(term, before),
                  after=_cursor(term, after), limit=limit)
    return Page(_join(db, page.items), newer=_position(page.newer), older=_position(page.older))


def _term_range(term: str, filt: ArticleFilter, before: str | None) -> tuple[str, str]:
    lo = term + SEP + filt.start
    hi = term + SEP + (filt.end + TOP if filt.end else TOP)
    return lo, hi if before is None else min(hi, term + SEP + before)


def _rows(db: Db, lo: str, upper: str, limit: int) -> list[dict[str, Any]]:
    return list(db[ARTICLE_KEYS].find({"k": {"$gte": lo, "$lt": upper}}).sort("k", -1).limit(limit))


def search_page(db: Db, filt: ArticleFilter, *, before: str | None = None,
                limit: int = PAGE_SIZE) -> Page:
    """Titles holding every word of the query, newest first, from one token's rows.

    Every match is among the rows of each of its tokens; the sparsest token's
    are read (a probe of :data:`SEARCH_PROBE` rows per token tells: fewer rows,
    or its last one further back), at most :data:`SEARCH_BUDGET` rows per page.
    """
    terms = query_terms(filt.q)
    if not terms:
        raise QueryError("search: type a word, or at least two Chinese, Japanese or Korean "
                         "characters")
    probes = {}
    for token in terms[:SEARCH_MAX_TERMS]:
        lo, upper = _term_range(TITLE + token, filt, before)
        probes[token] = (lo, _rows(db, lo, upper, SEARCH_PROBE), upper)

    def density(token: str) -> tuple[bool, str]:
        rows = probes[token][1]
        full = len(rows) >= SEARCH_PROBE
        return full, (_position(rows[-1]["k"]) or "") if full else f"{len(rows):08d}"

    token = min(probes, key=density)
    lo, first, upper = probes[token]
    examined = sum(len(rows) for _, rows, _ in probes.values()) - len(first)
    matched: list[dict[str, Any]] = []
    exhausted = False
    batch, want = first, SEARCH_PROBE
    while True:
        titles = title_rows(db, batch)
        for row in batch:
            examined += 1
            upper = row["k"]
            star = titles.get(title_row_id(row["k"])) or {}
            if (not filt.portal or star.get("p") == filt.portal) and title_matches(
                    star.get("t", ""), filt.words):
                matched.append(row)
                if len(matched) > limit:
                    break
        if len(batch) < want:
            exhausted = True
            break
        if len(matched) > limit or examined >= SEARCH_BUDGET:
            break
        want = min(SEARCH_BATCH, SEARCH_BUDGET - examined)
        batch = _rows(db, lo, upper, want)
    older: str | None = None
    note = ""
    if len(matched) > limit:
        matched = matched[:limit]
        older = _position(matched[-1]["k"])
    elif not exhausted:
        older = _position(upper)
        when = parse_key_time(split_key(upper)[1])
        note = (f"searched {examined:,} titles, back to "
                f"{when:%Y-%m-%d} UTC" if when else f"searched {examined:,} titles")
    return Page(_join(db, matched), older=older, note=note, examined=examined)


def article(db: Db, url: str) -> dict[str, Any] | None:
    return db.articles.find_one({"_id": url})


def alias_target(db: Db, url: str) -> str | None:
    """The article a duplicate URL was merged into (``url_aliases``)."""
    doc = db.url_aliases.find_one({"_id": url})
    return str(doc["article"]) if doc and doc.get("article") else None


def revisions(db: Db, doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The archived earlier versions of an article, oldest first (``_id`` ``<url>#r<n>``)."""
    current = int(doc.get("revision") or 1)
    if current <= 1:
        return []
    ids = [f"{doc['_id']}#r{n}" for n in range(max(1, current - 50), current)]
    found = list(db.article_revisions.find({"_id": {"$in": ids}}))
    return sorted(found, key=lambda d: int(d.get("revision") or 0))


# -- rejects --------------------------------------------------------------------


def reject_reasons(db: Db) -> list[str]:
    return _distinct(db.rejects, "reason", MAX_REASONS)


def rejects_page(
    db: Db, *, portal: str = "", reason: str = "", before: str | None = None,
    after: str | None = None, limit: int = REJECTS_PAGE_SIZE,
) -> Page:
    equal = {name: value for name, value in (("portal", portal), ("reason", reason)) if value}
    return keyset(db.rejects, equal, "list_key", REJECT_KEY, REJECT_KEY + TOP, before=before,
                  after=after, limit=limit, projection={"item": 0})


def reject(db: Db, reject_id: str) -> dict[str, Any] | None:
    return db.rejects.find_one({"_id": reject_id})


def has_data(db: Db) -> bool:
    return (db.runs.find_one({}, {"_id": 1}) is not None
            or db.articles.find_one({}, {"_id": 1}) is not None)
