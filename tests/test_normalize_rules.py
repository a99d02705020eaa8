"""BodyRules: validated at construction, applied as unwrap/drop."""

from __future__ import annotations

import pytest

from newsspider.normalize.html import normalize_body
from newsspider.normalize.rules import GENERIC_BODY_RULES, BodyRules


def test_bad_selector_named_in_error() -> None:
    with pytest.raises(ValueError, match=r"unwrap.*'span\.\['"):
        BodyRules(unwrap=("span.[",))
    with pytest.raises(ValueError, match="drop"):
        BodyRules(drop=("",))


def test_rules_are_hashable_values_and_combine() -> None:
    a = BodyRules(unwrap=["span.hrefStyle"], drop=("div.ad",))
    assert a == BodyRules(unwrap=("span.hrefStyle",), drop=("div.ad",))
    assert hash(a) == hash(BodyRules(unwrap=("span.hrefStyle",), drop=("div.ad",)))
    both = a + BodyRules(drop=("div.ad", "aside"))
    assert both.drop == ("div.ad", "aside")
    assert "script" in GENERIC_BODY_RULES.drop and "svg" in GENERIC_BODY_RULES.drop


def test_unwrap_keeps_text_drop_removes_content() -> None:
    rules = BodyRules(unwrap=("span.hrefStyle", "a[data-link]"), drop=("div.ad", "#share"))
    html = (
        '<p>康桥<span class="hrefStyle"><a href="http://medical.ofweek.com/">医疗</a></span>健康'
        '<a data-link="1" href="https://aff.example/x">教程</a></p>'
        '<div class="ad"><p>广告<img src="https://ad.example/a.png"></p></div><div id="share">分享</div><p>end</p>'
    )
    result = normalize_body(html, "https://www.ofweek.com/a.html", rules)
    assert result.html == "<p>康桥医疗健康教程</p><p>end</p>"
    assert result.images == []
