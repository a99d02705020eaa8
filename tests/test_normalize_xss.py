"""OWASP-style XSS vectors: nothing executable survives normalization."""

from __future__ import annotations

import re

import pytest
from lxml import etree
from lxml import html as lxml_html

from newsspider.normalize.html import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, normalize_body

BASE = "https://news.example.com/a/1.html"
VECTORS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//xss.rocks/xss.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;1&#41;>",
    "<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29>",
    "<a href=\"jav&#x09;ascript:alert(1)\">tab</a>",
    "<a href=\"jav\nascript:alert(1)\">newline</a>",
    "<a href=\" &#14;  javascript:alert(1)\">leading junk</a>",
    "<a href=\"JAVASCRIPT:alert(1)\">upper</a>",
    "<a href=\"vbscript:msgbox(1)\">vb</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">data</a>",
    "<img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">",
    "<svg onload=alert(1)><circle r=1></svg>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<div style=\"background-image: url(javascript:alert(1))\">styled</div>",
    "<p style=\"width: expression(alert(1))\">ie expression</p>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<form action=\"javascript:alert(1)\"><input type=submit></form>",
    "<base href=\"javascript:alert(1)//\"><a href=\"/x\">rel</a>",
    "<template><img src=x onerror=alert(1)></template>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "<!--<img src=\"--><img src=x onerror=alert(1)//\">",
    "<style><img src=\"</style><img src=x onerror=alert(1)//\">",
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<a href=\"https://ok.example/\" onclick=\"alert(1)\" onmouseover=alert(1)>ok link</a>",
    "<img src=\"https://ok.example/a.png\" onload=\"alert(1)\" style=\"x\" class=\"c\" id=\"i\">",
    "<isindex type=image src=1 onerror=alert(1)>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<listing>&lt;img src=x onerror=alert(1)&gt;</listing>",
    "<pre><script>alert(1)</script></pre>",
    "<pre><img src=x onerror=alert(1)></pre>",
    "<a href=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)\">padded entities</a>",
    "<img src=`javascript:alert(1)`>",
    "<a href=\"//evil.example/%0a%0djavascript:alert(1)\">proto-relative</a>",
    "<img srcset=\"javascript:alert(1) 2x, https://ok.example/b.png 1x\">",
    "<img data-src=\"javascript:alert(1)\" src=\"https://ok.example/c.png\">",
    "<table background=\"javascript:alert(1)\"><tr><td>cell</td></tr></table>",
    "<p><a href=\"https://ok.example/\"><a href=\"javascript:alert(1)\">nested</a></a></p>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>alert(1);//<</script>",
    "<img \"\"\"><script>alert(1)</script>\">",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>svg link</text></a></svg>",
    "<math href=\"javascript:alert(1)\">CLICKME</math>",
    "<a href=\"https://cors.zfour.workers.dev/?javascript:alert(1)\">proxy</a>",
    "<img src=\"https://cors.zfour.workers.dev/?javascript:alert(1)\">",
]
_PARSER = lxml_html.HTMLParser(encoding="utf-8")
_SAFE_URL = re.compile(r"^(?:https?://[^\s/]|mailto:)", re.IGNORECASE)


def assert_safe(html: str) -> None:
    assert "<script" not in html.lower()
    if not html:
        return
    doc = etree.fromstring(("<html><body>" + html + "</body></html>").encode(), _PARSER)
    for el in doc.find("body").iterdescendants():
        assert isinstance(el.tag, str), "comment or PI survived"
        assert el.tag in ALLOWED_TAGS, el.tag
        assert set(el.attrib) <= ALLOWED_ATTRIBUTES.get(el.tag, frozenset()), dict(el.attrib)
        for name in ("href", "src"):
            if name in el.attrib:
                # A "javascript:" later in an https URL is just a path: harmless.
                assert _SAFE_URL.match(el.attrib[name]), el.attrib[name]


@pytest.mark.parametrize("vector", VECTORS)
def test_vector_is_neutralized(vector: str) -> None:
    result = normalize_body(vector, BASE)
    assert_safe(result.html)
    for image in result.images:
        assert _SAFE_URL.match(image["url"])
    # and the result stays put when normalized again
    assert normalize_body(result.html, BASE).html == result.html


def test_enough_vectors() -> None:
    assert len(VECTORS) >= 30


def _vector(start: str) -> str:
    return next(v for v in VECTORS if v.startswith(start))


def test_safe_content_of_vectors_survives() -> None:
    assert normalize_body(_vector("<a href=\"https://ok.example/\" onclick"), BASE).html == (
        '<p><a href="https://ok.example/">ok link</a></p>'
    )
    assert normalize_body(_vector("<img src=\"https://ok.example/a.png\""), BASE).html == (
        '<p><img src="https://ok.example/a.png"></p>'
    )
    # A javascript: lazy attribute is not a URL; the real src wins.
    assert normalize_body(_vector("<img data-src="), BASE).html == '<p><img src="https://ok.example/c.png"></p>'
    assert normalize_body(_vector("<img srcset="), BASE).html == '<p><img src="https://ok.example/b.png"></p>'
    assert normalize_body(_vector("<table background"), BASE).html == (
        "<table><tbody><tr><td>cell</td></tr></tbody></table>"
    )
    # <base href> is dropped: relative links resolve against the page URL.
    assert normalize_body(_vector("<base href"), BASE).html == '<p><a href="https://news.example.com/x">rel</a></p>'
