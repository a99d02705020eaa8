"""README.md stays true: every setting and every portal is documented there."""

from __future__ import annotations

import re
from pathlib import Path

from newsspider import settings
from newsspider.portals import all_portals

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
ENV_NAMES = sorted(
    set(re.findall(r'_env\(\s*"([A-Z0-9_]+)"', Path(settings.__file__).read_text(encoding="utf-8")))
)


def test_every_environment_setting_is_in_the_readme() -> None:
    assert ENV_NAMES, "no settings found: the test would prove nothing"
    missing = [name for name in ENV_NAMES if f"`{name}`" not in README]
    assert missing == []


def test_every_portal_is_in_the_readme_portal_table() -> None:
    missing = [name for name in all_portals() if f"| `{name}` |" not in README]
    assert missing == []
    assert "| `feed` |" in README or "`feed`" in README


def test_quick_start_is_make_demo_and_make_test() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in quick and "make test" in quick
