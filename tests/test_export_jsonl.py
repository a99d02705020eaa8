"""JSON Lines export against the real store: round trip, dates, order, filters, stdout."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from newsspider.export.jsonl import export_jsonl, iso_utc, to_json_line

SEED = Path(__file__).resolve().parent / "fixtures" / "export" / "seed-article.json"
DATE_FIELDS = ("published_at", "first_seen_at", "last_crawled_at", "updated_at")


def article(n: int, portal: str = "ofweek") -> dict:
    doc = json.loads(SEED.read_text(encoding="utf-8"))
    for field in DATE_FIELDS:
        doc[field] = dt.datetime.fromisoformat(doc[field])
    url = f"https://{portal}.example/news/{n}.html"
    doc.update(
        _id=url,
        url=url,
        portal=portal,
        title=f'标题 {n} "quoted" \u2028 line',
        published_at=dt.datetime(2022, 8, 1, 12, 30, 15, 123000, tzinfo=dt.UTC)
        + dt.timedelta(days=n),
    )
    return doc


def parse_back(line: str) -> dict:
    doc = json.loads(line)
    for field in DATE_FIELDS:
        doc[field] = dt.datetime.fromisoformat(doc[field])
    return doc


def test_round_trip_keeps_every_field_and_date(mongo_db, tmp_path: Path) -> None:
    docs = [article(n) for n in range(4)]
    mongo_db.articles.insert_many([dict(d) for d in docs])
    out = tmp_path / "articles.jsonl"
    assert export_jsonl(mongo_db, out) == 4
    raw = out.read_bytes()
    assert "标题".encode() in raw  # UTF-8, not \\u escapes
    # ...except U+2028/2029, escaped so that splitlines() readers see one document a line
    assert "\u2028".encode() not in raw and b"\\u2028" in raw
    lines = raw.decode("utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == 5
    back = [parse_back(line) for line in lines[:-1]]
    # newest first
    assert [d["_id"] for d in back] == [d["_id"] for d in reversed(docs)]
    for got, want in zip(back, reversed(docs), strict=True):
        assert got == want
    assert json.loads(lines[0])["published_at"] == "2022-08-04T12:30:15.123Z"


def test_iso_dates_are_utc_with_z() -> None:
    beijing = dt.timezone(dt.timedelta(hours=8))
    assert iso_utc(dt.datetime(2022, 8, 31, 15, 58, tzinfo=beijing)) == "2022-08-31T07:58:00Z"
    assert iso_utc(dt.datetime(2022, 8, 31, 7, 58)) == "2022-08-31T07:58:00Z"


def test_unknown_bson_types_are_an_error_not_a_guess() -> None:
    with pytest.raises(TypeError, match="set"):
        to_json_line({"_id": "x", "odd": {1, 2}})


def test_filters_and_stdout(mongo_db, capsysbinary) -> None:
    mongo_db.articles.insert_many([article(n) for n in range(5)] + [article(9, "ithome")])
    assert export_jsonl(mongo_db, "-", portal="ofweek", since="2022-08-03") == 3
    lines = capsysbinary.readouterr().out.decode("utf-8").splitlines()
    assert [json.loads(line)["_id"] for line in lines] == [
        f"https://ofweek.example/news/{n}.html" for n in (4, 3, 2)
    ]
    assert export_jsonl(mongo_db, "-", portal="ithome") == 1


def test_failed_export_leaves_the_previous_file(mongo_db, tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    out.write_text("previous\n")
    mongo_db.articles.insert_one({**article(1), "odd": b"\x00\x01"})
    with pytest.raises(TypeError):
        export_jsonl(mongo_db, out)
    assert out.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.jsonl"]
