"""Every portal declaration loads, a broken one names its module and field, ``scrapy list`` names all."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from newsspider.portals import Portal, PortalDefinitionError, all_portals, get_portal
from newsspider.portals.base import ArticleRules, ListingRules, define

REPO = Path(__file__).resolve().parent.parent
EXPECTED = {
    "ofweek", "ofweek_ee", "ofweek_robot", "ofweek_medical",
    "zaker", "cnbeta", "ithome", "woshipm", "dockone",
}
LISTING = ListingRules(items=["div.item"], link=["a::attr(href)"])
ARTICLE = ArticleRules(title=["h1"], body=["div.body"], published=["span.time"])


def test_every_expected_portal_is_declared() -> None:
    assert EXPECTED <= set(all_portals())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_declaration_is_complete(name: str) -> None:
    portal = get_portal(name)
    assert isinstance(portal, Portal)
    assert portal.name == name
    assert portal.site_name and portal.categories and portal.categories[0] in ("新媒体", "编程")
    assert portal.categories[1:] == [portal.site_name, portal.channel]
    assert all(url.startswith("https://") for url in portal.start_urls)
    assert portal.allowed_domains and portal.language == "zh"
    assert portal.timezone == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("name", "site_name", "categories"),
    [
        ("zaker", "ZAKER", ["新媒体", "ZAKER", "channel"]),
        ("cnbeta", "cnBeta", ["新媒体", "cnBeta", "最新"]),
        ("ithome", "IT 之家", ["新媒体", "IT 之家", "分类资讯"]),
        ("woshipm", "人人都是产品经理", ["新媒体", "人人都是产品经理", "最新文章"]),
        ("dockone", "Dockone", ["编程", "Dockone", "周报"]),
        ("ofweek_ee", "OFweek电子工程网", ["新媒体", "OFweek电子工程网", "新闻"]),
    ],
)
def test_site_names_and_categories_follow_the_corpus(
    name: str, site_name: str, categories: list[str]
) -> None:
    portal = get_portal(name)
    assert portal.site_name == site_name
    assert portal.categories == categories


def test_ofweek_channel_list_urls() -> None:
    assert get_portal("ofweek_ee").start_urls == ["https://ee.ofweek.com/CATList-2800-8100-ee.html"]
    assert get_portal("ofweek_robot").start_urls == [
        "https://robot.ofweek.com/CATList-8321200-8100-robot.html"
    ]


def test_broken_selector_names_module_and_field() -> None:
    with pytest.raises(PortalDefinitionError) as caught:
        define(
            "newsspider.portals.broken",
            name="broken",
            site_name="Broken",
            channel="x",
            categories=["x"],
            start_urls=["https://example.com/"],
            listing={"items": ["div[["], "link": ["a::attr(href)"]},
            article=ARTICLE,
        )
    message = str(caught.value)
    assert "newsspider.portals.broken" in message
    assert "listing.items.0" in message and "div[[" in message


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("timezone", "Asia/Nowhere", "timezone"),
        ("encoding", "no-such-codec", "encoding"),
        ("start_urls", ["ftp://example.com/"], "start_urls"),
        ("name", "Bad-Name", "name"),
        ("categories", [], "categories"),
    ],
)
def test_invalid_fields_are_named(field: str, value: object, where: str) -> None:
    fields: dict[str, object] = {
        "name": "broken", "site_name": "Broken", "channel": "x", "categories": ["x"],
        "start_urls": ["https://example.com/"], "listing": LISTING, "article": ARTICLE,
    }
    fields[field] = value
    with pytest.raises(PortalDefinitionError) as caught:
        define("newsspider.portals.broken", **fields)
    assert "newsspider.portals.broken" in str(caught.value)
    assert f"  {where}" in str(caught.value)


def test_broken_module_fails_the_registry_loudly(tmp_path: Path) -> None:
    """A broken module in the package stops the registry with its name in the error."""
    package = tmp_path / "portals"
    package.mkdir()
    script = textwrap.dedent(
        """
        import sys
        import newsspider.portals as portals
        portals.__path__.append(sys.argv[1])
        try:
            portals.all_portals()
        except portals.PortalDefinitionError as exc:
            print(exc)
            sys.exit(3)
        sys.exit(0)
        """
    )
    (package / "zz_broken.py").write_text(
        "from newsspider.portals.base import ArticleRules, ListingRules, define\n"
        "PORTAL = define(__name__, name='zz_broken', site_name='B', channel='c', categories=['c'],\n"
        "    start_urls=['https://example.com/'], timezone='Mars/Base',\n"
        "    listing=ListingRules(items=['li'], link=['a::attr(href)']),\n"
        "    article=ArticleRules(title=['h1'], body=['div'], published=['time']))\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(package)],
        check=False, capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert "zz_broken" in done.stdout and "timezone" in done.stdout


def test_scrapy_list_names_every_portal() -> None:
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "scrapy"), "list"],
        check=False, capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert EXPECTED <= set(done.stdout.split())
