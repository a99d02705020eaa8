"""RSS 2.0 export against the real store, read back with feedparser and lxml."""

from __future__ import annotations

import calendar
import datetime as dt
import json
from pathlib import Path

import feedparser
from lxml import etree

from newsspider.export.rss import CONTENT_NS, export_rss

SEED = Path(__file__).resolve().parent / "fixtures" / "export" / "seed-article.json"
DATE_FIELDS = ("published_at", "first_seen_at", "last_crawled_at", "updated_at")


def article(n: int, portal: str = "ofweek", **overrides: object) -> dict:
    doc = json.loads(SEED.read_text(encoding="utf-8"))
    for field in DATE_FIELDS:
        doc[field] = dt.datetime.fromisoformat(doc[field])
    url = f"https://{portal}.example/news/{n}.html?a=1&b=2"
    doc.update(
        _id=url,
        url=url,
        portal=portal,
        title=f"标题 {n} <&> 'q'",
        published_at=dt.datetime(2022, 8, 1, 7, 58, tzinfo=dt.UTC) + dt.timedelta(days=n),
    )
    doc.update(overrides)
    return doc


def test_feed_reads_back_with_titles_links_dates_content(mongo_db, tmp_path: Path) -> None:
    docs = [article(n) for n in range(3)]
    mongo_db.articles.insert_many([dict(d) for d in docs])
    out = tmp_path / "ofweek.xml"
    assert export_rss(mongo_db, out, portal="ofweek") == 3
    feed = feedparser.parse(out.read_bytes())
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "rss20"
    assert feed.feed.title == "高科技行业门户"
    assert feed.feed.link == "https://ofweek.example/"
    assert feed.feed.description
    newest_first = list(reversed(docs))
    assert [e.title for e in feed.entries] == [d["title"] for d in newest_first]
    assert [e.link for e in feed.entries] == [d["url"] for d in newest_first]
    assert [e.id for e in feed.entries] == [d["url"] for d in newest_first]
    assert [calendar.timegm(e.published_parsed) for e in feed.entries] == [
        int(d["published_at"].timestamp()) for d in newest_first
    ]
    assert feed.entries[0].published == "Wed, 03 Aug 2022 07:58:00 GMT"
    assert [t.term for t in feed.entries[0].tags] == docs[0]["categories"]
    assert feed.entries[0].author == "OFweek医疗网"

    # content:encoded carries the stored body verbatim (checked on the raw XML: feedparser
    # rewrites HTML it considers unsafe).
    root = etree.parse(str(out)).getroot()
    bodies = [e.text for e in root.iter(f"{{{CONTENT_NS}}}encoded")]
    assert bodies == [d["body_html"] for d in newest_first]
    assert feed.entries[0].content[0].value.count("<img") == 6
    assert [g.get("isPermaLink") for g in root.iter("guid")] == ["true"] * 3
    assert out.read_bytes().count(b"xmlns:dc=") == 1  # declared once, on <rss>


def test_cdata_end_and_control_characters_in_bodies(mongo_db, tmp_path: Path) -> None:
    body = "<p>a]]>b</p><pre>x ]]> y ]]]]> z</pre><p>\x01bell\x0b</p>"
    mongo_db.articles.insert_one(article(1, body_html=body, title="t\x08itle"))
    out = tmp_path / "f.xml"
    assert export_rss(mongo_db, out) == 1
    raw = out.read_bytes()
    assert b"]]]]><![CDATA[>" in raw
    root = etree.fromstring(raw)
    [encoded] = root.iter(f"{{{CONTENT_NS}}}encoded")
    assert encoded.text == body.replace("\x01", "").replace("\x0b", "")
    feed = feedparser.parse(raw)
    assert not feed.bozo and feed.entries[0].title == "title"


def test_filters_stdout_and_empty_feed(mongo_db, capsysbinary, tmp_path: Path) -> None:
    mongo_db.articles.insert_many([article(n) for n in range(4)] + [article(7, "ithome")])
    assert export_rss(mongo_db, "-", since="2022-08-03", title="T", link="https://x.example/") == 3
    feed = feedparser.parse(capsysbinary.readouterr().out)
    assert not feed.bozo
    assert (feed.feed.title, feed.feed.link) == ("T", "https://x.example/")
    assert [e.link.split("/")[2] for e in feed.entries] == [
        "ithome.example",
        "ofweek.example",
        "ofweek.example",
    ]

    assert export_rss(mongo_db, tmp_path / "none.xml", portal="nope") == 0
    empty = feedparser.parse((tmp_path / "none.xml").read_bytes())
    assert not empty.bozo and empty.entries == [] and empty.feed.title == "nope"


def test_reexport_of_unchanged_store_is_byte_identical(mongo_db, tmp_path: Path) -> None:
    mongo_db.articles.insert_many([article(n) for n in range(3)])
    export_rss(mongo_db, tmp_path / "a.xml")
    export_rss(mongo_db, tmp_path / "b.xml")
    assert (tmp_path / "a.xml").read_bytes() == (tmp_path / "b.xml").read_bytes()
