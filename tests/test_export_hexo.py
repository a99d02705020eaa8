"""Hexo export against the real store: the seed post's format, proxying, stable files."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path

import lxml.html
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from newsspider.export.hexo import (
    SEED_IMAGE_PROXY,
    export_hexo,
    front_matter_lines,
    post_filename,
    proxy_body_images,
    render_post,
    validate_image_proxy,
    yaml_scalar,
    yaml_single_quoted,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The seed post (a copy of shared/seed/seed-post.md) and the seed article as stored (by hand).
SEED_POST = FIXTURES / "seed" / "seed-post.md"
SEED_ARTICLE = FIXTURES / "export" / "seed-article.json"
DATE_FIELDS = ("published_at", "first_seen_at", "last_crawled_at", "updated_at")


def seed_article() -> dict:
    """The seed article as the store holds it (contract §4), built by hand from the seed post."""
    doc = json.loads(SEED_ARTICLE.read_text(encoding="utf-8"))
    for field in DATE_FIELDS:
        doc[field] = dt.datetime.fromisoformat(doc[field])
    return doc


def article(n: int, **overrides: object) -> dict:
    doc = seed_article()
    url = f"https://www.ofweek.com/news/{n}.html"
    doc.update(
        _id=url,
        url=url,
        fetched_url=url,
        title=f"article {n}",
        published_at=dt.datetime(2022, 8, 1, 12, tzinfo=dt.UTC) + dt.timedelta(days=n),
    )
    doc.update(overrides)
    return doc


def seed_post() -> str:
    return SEED_POST.read_text(encoding="utf-8")


def body_of(post: str) -> str:
    return post.split("\n<div>   \n", 1)[1].rsplit(" \n  \n</div>", 1)[0]


def text_of(html: str) -> str:
    return re.sub(
        r"\s+", " ", lxml.html.fragment_fromstring(html, create_parent="div").text_content()
    ).strip()


def images_of(html: str) -> list[lxml.html.HtmlElement]:
    return list(lxml.html.fragment_fromstring(html, create_parent="div").iter("img"))


@pytest.fixture
def exported_seed(mongo_db, tmp_path: Path) -> str:
    mongo_db.articles.insert_one(seed_article())
    assert export_hexo(mongo_db, tmp_path, image_proxy=SEED_IMAGE_PROXY) == 1
    [path] = tmp_path.iterdir()
    return path.read_text(encoding="utf-8")


def test_seed_front_matter_line_for_line(exported_seed: str) -> None:
    expected = front_matter_lines(seed_post())
    assert len(expected) == 10
    assert front_matter_lines(exported_seed) == expected


def test_seed_post_bytes_outside_the_body(exported_seed: str) -> None:
    seed = seed_post()
    # Everything but the body is byte-identical: leading blank line, wrapper, 12 trailing spaces.
    assert exported_seed.split("<div>", 1)[0] == seed.split("<div>", 1)[0]
    assert exported_seed.startswith("\n---\ntitle: '")
    assert exported_seed.endswith("</p> \n  \n</div>\n            ")
    assert seed.endswith("</p> \n  \n</div>\n            ")


def test_seed_body_text_and_images(exported_seed: str) -> None:
    seed_body, body = body_of(seed_post()), body_of(exported_seed)
    assert text_of(body) == text_of(seed_body)
    seed_srcs = [img.get("src") for img in images_of(seed_body)]
    assert len(seed_srcs) == 6
    assert [img.get("src") for img in images_of(body)] == seed_srcs
    assert all(img.get("referrerpolicy") == "no-referrer" for img in images_of(body))
    assert body.count('referrerpolicy="no-referrer"') == 6


def test_seed_front_matter_is_yaml_with_the_stored_values(exported_seed: str) -> None:
    meta = yaml.safe_load("\n".join(front_matter_lines(exported_seed)))
    doc = seed_article()
    assert meta["title"] == doc["title"]
    assert meta["categories"] == doc["categories"]
    assert meta["author"] == doc["site_name"]
    assert (
        meta["thumbnail"] == meta["headimg"] == SEED_IMAGE_PROXY.replace("{url}", doc["lead_image"])
    )


def test_without_proxy_images_stay_original() -> None:
    doc = seed_article()
    post = render_post(doc)
    assert f"headimg: '{doc['lead_image']}'" in front_matter_lines(post)
    assert body_of(post) == doc["body_html"]
    assert "referrerpolicy" not in post


def test_without_lead_image_thumbnail_empty_and_no_headimg() -> None:
    doc = seed_article()
    doc.update(lead_image=None, images=[], body_html="<p>纯文字</p>")
    lines = front_matter_lines(render_post(doc, SEED_IMAGE_PROXY))
    assert "thumbnail: ''" in lines
    assert not any(line.startswith("headimg:") for line in lines)


def test_proxy_body_images_handles_entities_quotes_and_existing_proxy() -> None:
    html = (
        '<p><img src="http://a.example/x.png?a=1&amp;b=2" alt="a > b"></p>'
        '<img alt="no src"><img src="https://cors.zfour.workers.dev/?http://b.example/y.png">'
    )
    out = proxy_body_images(html, SEED_IMAGE_PROXY)
    srcs = [img.get("src") for img in images_of(out)]
    assert srcs == [
        "https://cors.zfour.workers.dev/?http://a.example/x.png?a=1&b=2",
        None,
        "https://cors.zfour.workers.dev/?http://b.example/y.png",
    ]
    assert [img.get("alt") for img in images_of(out)] == ["a > b", "no src", None]
    assert out.count('referrerpolicy="no-referrer"') == 3


@pytest.mark.parametrize("template", ["https://proxy.example/", "not a url {url}", "ftp://x/{url}"])
def test_bad_image_proxy_is_refused_with_a_reason(template: str) -> None:
    with pytest.raises(ValueError, match="--image-proxy"):
        validate_image_proxy(template)


def test_title_quotes_are_doubled_and_whitespace_collapsed() -> None:
    assert yaml_single_quoted("It's a\n 'test'") == "'It''s a ''test'''"


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
        # YAML indicators and the spellings of nulls, booleans and numbers
        st.text(alphabet="-?:,[]{}#&*!|>'\"%@`=<~ 0123456789.eE+xobtrunlsfyYNO\t\n", max_size=8),
    )
)
def test_front_matter_scalars_read_back_as_the_same_string(value: str) -> None:
    expected = re.sub(
        r"\s+",
        " ",
        re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]", "", value),
    ).strip()
    for rendered in (yaml_scalar(value), yaml_single_quoted(value)):
        loaded = yaml.safe_load(f"key: {rendered}\n")["key"]
        assert (loaded if loaded is not None else "") == expected, rendered


def test_file_names_are_stable_and_reexport_overwrites(mongo_db, tmp_path: Path) -> None:
    mongo_db.articles.insert_many([article(n) for n in range(5)])
    assert export_hexo(mongo_db, tmp_path, image_proxy=SEED_IMAGE_PROXY) == 5
    first = sorted(p.name for p in tmp_path.iterdir())
    assert len(first) == 5
    assert all(re.fullmatch(r"2022-08-0\d-ofweek-[0-9a-f]{12}\.md", name) for name in first)

    mongo_db.articles.update_one({"_id": article(0)["_id"]}, {"$set": {"title": "retitled"}})
    assert export_hexo(mongo_db, tmp_path, image_proxy=SEED_IMAGE_PROXY) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == first  # no temp files, no duplicates
    assert "title: 'retitled'" in (tmp_path / post_filename(article(0))).read_text(encoding="utf-8")


def test_moved_date_replaces_the_old_file(mongo_db, tmp_path: Path) -> None:
    mongo_db.articles.insert_one(article(1))
    export_hexo(mongo_db, tmp_path)
    old = post_filename(article(1))
    moved = dt.datetime(2023, 1, 2, tzinfo=dt.UTC)
    # delete + insert, not $set: nx-27017 0.8 stores a $set datetime as a string.
    mongo_db.articles.delete_one({"_id": article(1)["_id"]})
    mongo_db.articles.insert_one(article(1, published_at=moved))
    export_hexo(mongo_db, tmp_path)
    names = [p.name for p in tmp_path.iterdir()]
    assert names == [post_filename(article(1, published_at=moved))] and old not in names


def test_portal_and_since_filters(mongo_db, tmp_path: Path) -> None:
    docs = [article(n) for n in range(6)]
    docs += [article(n, portal="ithome", _id=f"https://ithome.example/{n}") for n in (10, 11)]
    mongo_db.articles.insert_many(docs)
    assert export_hexo(mongo_db, tmp_path / "ofweek", portal="ofweek") == 6
    assert export_hexo(mongo_db, tmp_path / "ithome", portal="ithome") == 2
    # article(n) is published 2022-08-(n+1) 12:00 UTC: since 08-04 keeps n = 3, 4, 5.
    assert export_hexo(mongo_db, tmp_path / "since", portal="ofweek", since="2022-08-04") == 3
    assert export_hexo(mongo_db, tmp_path / "none", since="2030-01-01") == 0
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        export_hexo(mongo_db, tmp_path / "bad", since="04/08/2022")


def test_naive_datetimes_from_a_non_tz_aware_client_are_utc() -> None:
    doc = copy.deepcopy(seed_article())
    doc["published_at"] = doc["published_at"].replace(tzinfo=None)
    assert "date: Wed, 31 Aug 2022 07:58:00 GMT" in front_matter_lines(render_post(doc))
