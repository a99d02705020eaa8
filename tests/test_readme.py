"""README.md stays a short user's document, and docs/ stays true.

Every setting is documented in docs/configuration.md, every portal in the
README's table; the README is at most 400 lines; every link between the
documents reaches a file and a heading that exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from scrapy.settings import default_settings

from newsspider import settings
from newsspider.config import DECLARED, REMOVED
from newsspider.portals import all_portals

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _section(text: str, heading: str) -> str:
    return text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def test_every_setting_is_in_the_configuration_table() -> None:
    assert settings.BOT_NAME and len(DECLARED) > 40, "no settings found: the test would prove nothing"
    table = _section(CONFIGURATION, "## Every setting")
    missing = [name for name in DECLARED if f"`{name}`" not in table]
    assert missing == []


def test_every_old_name_is_in_the_renamed_table() -> None:
    table = _section(CONFIGURATION, "## Renamed settings")
    renamed = {decl.old: decl.name for decl in DECLARED.values() if decl.old}
    assert renamed, "no renamed settings: the test would prove nothing"
    for old, new in renamed.items():
        assert f"| `{old}` | `{new}` |" in table


def test_every_removed_setting_is_in_the_removed_table() -> None:
    table = _section(CONFIGURATION, "## Removed settings")
    assert REMOVED, "no removed settings: the test would prove nothing"
    missing = [name for name in REMOVED if f"| `{name}` |" not in table]
    assert missing == []
    assert not set(REMOVED) & set(DECLARED)


def test_the_readme_names_settings_by_their_real_names() -> None:
    table = _section(README, "## Configuration")
    named = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", table, re.MULTILINE))
    named |= set(re.findall(r"^\| `[A-Z0-9_]+`, `([A-Z][A-Z0-9_]+)`", table, re.MULTILINE))
    assert len(named) >= 8
    unknown = [name for name in named if name not in DECLARED and not hasattr(default_settings, name)]
    assert unknown == []


def test_every_portal_is_in_the_readme_portal_table() -> None:
    missing = [name for name in all_portals() if f"| `{name}` |" not in README]
    assert missing == []
    assert "`feed`" in README


def test_quick_start_is_make_demo_and_make_test() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in quick and "make test" in quick


def test_the_readme_is_short() -> None:
    assert len(README.splitlines()) <= 400


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    headings = re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_link_between_documents_resolves(document: Path) -> None:
    for target in LINK.findall(document.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not ours to check offline
        file, _, anchor = target.partition("#")
        path = (document.parent / file).resolve() if file else document
        assert path.exists(), f"{document.name}: {target} does not exist"
        if anchor:
            assert anchor in _anchors(path), f"{document.name}: no heading for {target}"
