"""RSS 2.0 export: one feed (optionally one portal's) with the full body in ``content:encoded``.

Written with lxml's incremental ``etree.xmlfile`` writer while the cursor streams, so a
feed of any size needs one article in memory at a time.

* channel ``title``/``link``/``description``: given by the caller, else from the newest
  article (``site_name`` when the feed is one portal's, the article URL's origin);
  ``lastBuildDate`` is the newest article's date, so re-exporting an unchanged store
  yields the same bytes.  A feed of changes (``--changed-since``, ``--state``) lists
  them in change order and ends the channel with the latest change's ``lastBuildDate``.
* item: ``title``, ``link`` = ``guid isPermaLink="true"`` = the canonical URL,
  ``pubDate`` RFC 822 (``Wed, 31 Aug 2022 07:58:00 GMT``), ``description`` = the summary,
  ``content:encoded`` = the normalized body in CDATA (a ``]]>`` inside the body splits
  the section: ``]]]]><![CDATA[>``), ``dc:creator`` = the byline, one ``category`` each.
* Characters XML 1.0 cannot carry (C0 controls, lone surrogates) are dropped.

Settings read: none.  Stats written: none (``export_rss`` returns the count).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import re
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from newsspider.export.files import open_output
from newsspider.export.source import (
    DEFAULT_BATCH_SIZE,
    ChangeKey,
    Document,
    article_date,
    iter_articles,
    rfc1123,
)
from newsspider.export.state import DEFAULT_LOOKBACK, export_window

logger = logging.getLogger(__name__)

CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
DC_NS = "http://purl.org/dc/elements/1.1/"
NSMAP = {"content": CONTENT_NS, "dc": DC_NS}
GENERATOR = "newsspider"
#: Flush the writer every so many items so output reaches the file as it is produced.
FLUSH_EVERY = 50

RSS_FIELDS = {
    "_id": 1,
    "url": 1,
    "portal": 1,
    "site_name": 1,
    "categories": 1,
    "title": 1,
    "author": 1,
    "summary": 1,
    "language": 1,
    "published_at": 1,
    "first_seen_at": 1,
    "body_html": 1,
}

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CDATA_END = "]]>"


def xml_text(value: Any) -> str:
    """``value`` as text XML 1.0 can hold."""
    return _XML_INVALID.sub("", "" if value is None else str(value))


def cdata_sections(text: str) -> list[etree.CDATA]:
    """``text`` as CDATA sections; ``]]>`` is split across two (``]]`` | ``>``)."""
    parts = xml_text(text).split(_CDATA_END)
    sections = [f"{part}]]" if i < len(parts) - 1 else part for i, part in enumerate(parts)]
    sections = [sections[0]] + [">" + part for part in sections[1:]]
    return [etree.CDATA(section) for section in sections]


def _leaf(xf: Any, tag: str, text: Any, **attrs: str) -> None:
    # Through xf.element (not a detached Element) so namespaces declared on <rss> are reused
    # instead of being re-declared on every leaf.
    with xf.element(tag, attrs):
        xf.write(xml_text(text))


def _origin(url: str | None) -> str:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}/" if parts.scheme and parts.netloc else ""


def _write_item(xf: Any, doc: Document) -> None:
    url = doc.get("url") or doc.get("_id") or ""
    with xf.element("item"):
        _leaf(xf, "title", doc.get("title") or "")
        _leaf(xf, "link", url)
        _leaf(xf, "guid", url, isPermaLink="true")
        published = article_date(doc)
        if published is not None:
            _leaf(xf, "pubDate", rfc1123(published))
        if doc.get("author"):
            _leaf(xf, f"{{{DC_NS}}}creator", doc["author"])
        for category in doc.get("categories") or ():
            _leaf(xf, "category", category)
        if doc.get("summary"):
            _leaf(xf, "description", doc["summary"])
        with xf.element(f"{{{CONTENT_NS}}}encoded"):
            xf.write(*cdata_sections(doc.get("body_html") or ""))
    xf.write("\n")


def export_rss(
    db: Any,
    out: str | os.PathLike[str],
    portal: str | None = None,
    since: Any = None,
    *,
    title: str | None = None,
    link: str | None = None,
    description: str | None = None,
    changed_since: Any = None,
    state: str | os.PathLike[str] | None = None,
    lookback: float = DEFAULT_LOOKBACK,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limit: int = 0,
) -> int:
    """Write an RSS 2.0 feed of matching articles; return the item count.

    Newest first; with ``changed_since``/``state`` only the changed ones, in change order,
    and ``lastBuildDate`` (after the items) is the latest change's ``updated_at``.
    """
    count = 0
    # A feed is only usable whole: even on standard output the state moves at the end.
    with export_window(state, export="rss", portal=portal, since=since,
                       changed_since=changed_since, streamed=False, lookback=lookback) as (
        window, tracker,
    ):
        articles = iter_articles(db, portal, since, window=window, projection=RSS_FIELDS,
                                 batch_size=batch_size, limit=limit)
        # The channel header needs the first article (defaults, lastBuildDate): peek at it.
        newest = next(articles, None)
        if title is None:
            if portal and newest is not None:
                title = newest.get("site_name") or portal
            else:
                title = portal or GENERATOR
        if link is None:
            link = _origin(newest.get("url") if newest is not None else None) or "http://localhost/"
        if description is None:
            description = f"{title}: articles harvested by {GENERATOR}"
        latest_change: dt.datetime | None = None
        before_replace = tracker.prepare_replace if tracker is not None else None
        with open_output(out, before_replace) as stream, etree.xmlfile(stream, encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element("rss", {"version": "2.0"}, nsmap=NSMAP):
                xf.write("\n")
                with xf.element("channel"):
                    xf.write("\n")
                    _leaf(xf, "title", title)
                    _leaf(xf, "link", link)
                    _leaf(xf, "description", description)
                    if newest is not None and newest.get("language"):
                        _leaf(xf, "language", newest["language"])
                    newest_date = article_date(newest) if newest is not None else None
                    if window is None and newest_date is not None:
                        _leaf(xf, "lastBuildDate", rfc1123(newest_date))
                    _leaf(xf, "generator", GENERATOR)
                    xf.write("\n")
                    head = () if newest is None else (newest,)
                    for doc in itertools.chain(head, articles):
                        _write_item(xf, doc)
                        count += 1
                        if tracker is not None:
                            tracker.record(doc)
                        if window is not None:
                            changed = ChangeKey.of(doc).updated_at
                            latest_change = max(latest_change or changed, changed)
                        if count % FLUSH_EVERY == 0:
                            xf.flush()
                    if latest_change is not None:
                        # RSS 2.0 does not order a channel's elements; only now is it known.
                        _leaf(xf, "lastBuildDate", rfc1123(latest_change))
                xf.write("\n")
        if tracker is not None:
            tracker.commit()
    logger.info("rss export: %d items written to %s", count, os.fspath(out))
    return count
