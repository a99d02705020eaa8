"""Parsing once: building on resolve_body's tree gives the same body as normalizing its HTML."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsspider.normalize.html import normalize_body, normalize_resolved, resolve_body
from tests.test_normalize_corpus import BASE_URLS, FILES, RULES, read_body


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_normalize_resolved_equals_normalize_of_the_resolved_html(path: Path) -> None:
    portal = path.parent.name
    rules = RULES.get(portal)
    resolved = resolve_body(read_body(path), BASE_URLS[portal], rules)
    via_tree = normalize_resolved(resolved)
    via_html = normalize_body(resolved.html, BASE_URLS[portal], rules)
    assert via_tree.html == via_html.html
    assert via_tree.text == via_html.text
    assert [i["url"] for i in via_tree.images] == [i["url"] for i in resolved.images]


@pytest.mark.parametrize("html", ["", "   ", "<p></p>", "<<<>>>", "<table><tr><td>x"])
def test_degenerate_bodies_agree_too(html: str) -> None:
    resolved = resolve_body(html, "https://example.com/a.html")
    assert normalize_resolved(resolved).html == normalize_body(resolved.html, "https://example.com/").html
