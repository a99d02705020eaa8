"""Properties of the normalizer on generated tag soup (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from lxml import html as lxml_html

from newsspider.normalize.html import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, normalize_body, sanitize
from newsspider.normalize.text import body_text, simhash64

BASE = "https://news.example.com/a/b.html"
TAGS = [
    "p", "div", "span", "br", "h1", "h2", "h4", "strong", "em", "b", "a", "img", "ul", "ol", "li",
    "table", "tr", "td", "th", "tbody", "caption", "blockquote", "pre", "code", "figure",
    "figcaption", "section", "center", "font", "script", "style", "svg", "iframe", "sub", "dl",
    "dt", "hr", "textarea", "select", "option", "noscript", "template", "math", "xmp",
]
ATTRS = [
    "", ' class="x"', ' style="color:red"', ' href="/rel?a=1&b=2"', ' href="javascript:alert(1)"',
    ' src="//cdn.example.com/i.png"', ' src="data:image/gif;base64,R0lGOD"', ' data-src="a.jpg"',
    ' onclick="x()"', ' alt="a &amp; b"', ' srcset="a.jpg 1x, b.jpg 2x"', " id=i",
]
TEXTS = [
    "text", "中文段落", " ", "\n", "\u3000\u3000缩进", "\xa0", "&nbsp;", "&amp;", "&lt;x&gt;", "a  b",
    "<", ">", "&", '"', "'", "<!-- c -->", "<!--", "-->", "<![CDATA[x]]>", "</", "\t", "1×1",
]


@st.composite
def soup(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.integers(0, 3))
        tag = draw(st.sampled_from(TAGS))
        if kind == 0:
            parts.append(f"<{tag}{draw(st.sampled_from(ATTRS))}>")
        elif kind == 1:
            parts.append(f"</{tag}>")
        else:
            parts.append(draw(st.sampled_from(TEXTS)))
    return "".join(parts)


html_inputs = st.one_of(soup(), st.text(max_size=200))
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_PARSER = lxml_html.HTMLParser(encoding="utf-8")


@FAST
@given(html_inputs)
def test_idempotent_and_deterministic(html: str) -> None:
    first = normalize_body(html, BASE)
    again = normalize_body(html, BASE)
    assert first.html == again.html and first.text == again.text
    second = normalize_body(first.html, BASE)
    assert second.html == first.html
    assert second.text == first.text


@FAST
@given(html_inputs)
def test_output_is_canonical_and_allowed(html: str) -> None:
    result = normalize_body(html, BASE)
    assert sanitize(result.html) == result.html
    assert body_text(result.html) == result.text
    if result.html:
        doc = etree.fromstring(("<html><body>" + result.html + "</body></html>").encode(), _PARSER)
        for el in doc.find("body").iterdescendants():
            assert el.tag in ALLOWED_TAGS
            assert set(el.attrib) <= ALLOWED_ATTRIBUTES.get(el.tag, frozenset())
    assert "\n\n" not in result.text
    assert -(2**63) <= simhash64(result.text) < 2**63


@FAST
@given(st.text(max_size=300))
def test_never_raises_on_any_string(text: str) -> None:
    result = normalize_body(text, BASE)
    assert isinstance(result.html, str) and isinstance(result.text, str)
