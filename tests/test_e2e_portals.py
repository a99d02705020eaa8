"""End to end for every aggregator-family portal: ``scrapy crawl <portal>`` against its replica.

Each portal's replica (``newsspider.replica.family``: real corpus bodies in the
portal's own layout) is served on loopback; the crawl runs as a subprocess into
the real store, and the stored articles are read back with pymongo and checked
against the replica's ground truth, plus the portal's body trap.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from lxml import html as lxml_html
from pymongo import MongoClient

from newsspider.portals import get_portal
from newsspider.replica.family import FAMILY_PORTALS, family_scenario, text_of
from newsspider.replica.server import ReplicaServer
from tests.conftest import CrawlResult, scrapy_crawl

ALLOWED_TAGS = {
    "p", "br", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "u", "sub", "sup",
    "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tfoot", "tr", "th", "td",
    "caption", "colgroup", "col", "figure", "figcaption", "pre", "code", "a", "img",
}
_SPACE = re.compile(r"\s+")


def squash(text: str) -> str:
    return _SPACE.sub("", text)


def _zaker(docs: list[dict]) -> None:
    for doc in docs:
        for image in doc["images"]:
            assert image["url"].startswith("http://zkres"), image
            assert "loading.gif" not in image["url"]
        if doc["images"]:
            assert doc["lead_image"] == doc["images"][0]["url"]


def _cnbeta(docs: list[dict]) -> None:
    for doc in docs:
        assert "duomai.com" not in doc["body_html"] and "pvxt.net" not in doc["body_html"]
        assert "京东618" not in doc["body_text"]
        assert all("cnbetacdn.com/topics/" not in i["url"] for i in doc["images"])
        assert all("618.jpg" not in i["url"] for i in doc["images"])
    gameboy = next(d for d in docs if "Game Boy" in d["title"])
    assert "bilibili" not in gameboy["body_html"]
    # The affiliate link's word survives as text.
    assert "教程" in gameboy["body_text"]
    linux = next(d for d in docs if "RDNA 3" in d["title"])
    assert "[email protected]" not in linux["body_text"]


def _ithome(docs: list[dict]) -> None:
    for doc in docs:
        assert "data-vmark" not in doc["body_html"]
        assert "ithome_super_player" not in doc["body_html"]
        assert all("video-preview" not in i["url"] for i in doc["images"])
    d1 = next(d for d in docs if "D1 芯片" in d["title"])
    assert d1["lead_image"] == (
        "https://img.ithome.com/newsuploadfiles/2021/9/b902ad39-8750-45b6-a015-2fb3fde3d02a.png"
    )
    pi = next(d for d in docs if "树莓派" in d["title"])
    assert "$@" in pi["body_text"] and "[email protected]" not in pi["body_text"]


def _woshipm(docs: list[dict]) -> None:
    for doc in docs:
        assert "<svg" not in doc["body_html"]
        assert "给作者打赏" not in doc["body_text"] and "赞赏" not in doc["body_text"]
    assert any("原创发布于人人都是产品经理" in d["body_text"] for d in docs)


def _dockone(docs: list[dict]) -> None:
    spring = next(d for d in docs if "Spring Boot" in d["title"])
    assert "<pre>" in spring["body_html"]
    assert "org.springframework.boot" in spring["body_text"]
    assert "spring-boot-maven-plugin" in spring["body_text"]


def _ofweek(docs: list[dict]) -> None:
    for doc in docs:
        assert "hrefStyle" not in doc["body_html"]
        assert "style=" not in doc["body_html"]


TRAPS: dict[str, Callable[[list[dict]], None]] = {
    "zaker": _zaker,
    "cnbeta": _cnbeta,
    "ithome": _ithome,
    "woshipm": _woshipm,
    "dockone": _dockone,
    "ofweek_ee": _ofweek,
    "ofweek_robot": _ofweek,
    "ofweek_medical": _ofweek,
}


@pytest.fixture(scope="module")
def client(mongo_uri: str) -> Iterator[MongoClient]:
    client: MongoClient = MongoClient(mongo_uri, tz_aware=True)
    yield client
    client.close()


@pytest.mark.parametrize("portal", sorted(FAMILY_PORTALS))
def test_crawl_stores_every_listed_article(portal, mongo_uri, client, tmp_path) -> None:
    scenario = family_scenario(portal)
    db = client[f"e2e_{portal}_{uuid.uuid4().hex[:8]}"]
    try:
        with ReplicaServer(scenario=scenario) as replica:
            code, out, err = scrapy_crawl(
                mongo_uri, db.name, tmp_path / "data", portal,
                f"start_url={replica.listing_url}",
            )
            assert code == 0, CrawlResult(code, out, err, db)
            base = replica.base_url
            specs = scenario.listed_articles
            docs = list(db.articles.find())
            assert db.rejects.count_documents({}) == 0, list(db.rejects.find())
            assert len(docs) == len(specs), CrawlResult(code, out, err, db)
            declared = get_portal(portal)
            by_id = {doc["_id"]: doc for doc in docs}
            for spec in specs:
                doc = by_id[spec.url(base)]
                assert doc["portal"] == portal
                assert doc["site_name"] == declared.site_name
                assert doc["categories"] == declared.categories
                assert doc["title"] == spec.title
                assert doc["author"] == spec.author
                assert doc["published_raw"] == spec.published
                assert doc["published_at"] == spec.published_at
                # The first paragraph of the real body is in the stored text.
                first = next(t for t in (text_of(p) for p in re.split(r"</p>|<br>", spec.body_html)) if t)
                assert squash(first[:30]) in squash(doc["body_text"]), (spec.corpus_id, first[:30])
                root = lxml_html.fragment_fromstring(doc["body_html"], create_parent="div")
                tags = {el.tag for el in root.iter() if isinstance(el.tag, str)} - {"div"}
                assert tags <= ALLOWED_TAGS, (spec.corpus_id, tags - ALLOWED_TAGS)
            TRAPS[portal](docs)
            runs = list(db.runs.find())
            assert len(runs) == 1 and runs[0]["portal"] == portal
    finally:
        client.drop_database(db.name)
