"""Hexo posts are safe for Hexo's template engine: rendered through the real Nunjucks.

Hexo passes every post through Nunjucks (its tag plugins) before Markdown.  The
npm package runs on the machine's node (``tests/js``, installed by ``.ci/run``:
``npm ci --prefix tests/js``); without them the test skips, and with ``CI=true``
it fails.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsspider.export.hexo import render_post, template_safe

JS = Path(__file__).resolve().parent / "js"

HOSTILE_BODIES = [
    "<p>{{ 7 * 7 }}</p>",
    "<p>{{ range(10) | join(',') }}{{{ triple }}}</p>",
    '<p>{% include "/etc/passwd" %}</p>',
    "<p>{% for x in [1,2,3] %}{{ x }}{% endfor %}</p>",
    "<p>{% raw %}inside{% endraw %} and {% endraw %} alone</p>",
    "<p>{# an unclosed comment swallows the rest</p><p>second</p>",
    "<p>{{ unclosed</p>",
    '<pre><code>const f = () =&gt; {{"a": 1}}; // {%- trim -%}</code></pre>',
    '<p><a href="https://a.test/?q={{x}}">link {%x%}</a><img src="https://a.test/{#}.png" alt="{{"></p>',
    '<p>{{ "".constructor.constructor("return process")().exit(3) }}</p>',
    "<p>plain { braces } and %} and }} and #} too</p>",
]


def _render(texts: list[str]) -> list[dict[str, str]]:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None or not (JS / "node_modules" / "nunjucks").is_dir():
        message = "needs node and tests/js/node_modules (npm ci --prefix tests/js)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run([node, str(JS / "render_nunjucks.js")], input=json.dumps(texts),
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def _post(body: str) -> str:
    """What Hexo hands to Nunjucks: the post after its front matter (parsed apart, as YAML)."""
    doc = {"_id": "https://a.test/1", "portal": "ofweek", "title": "t",
           "categories": ["新闻"], "site_name": "站", "body_html": body,
           "published_at": datetime(2024, 5, 1, tzinfo=UTC)}
    front, sep, content = render_post(doc).partition("\n---\n\n")
    assert sep and front.startswith("\n---\n")
    return content


def test_unescaped_bodies_are_template_code_to_nunjucks() -> None:
    # What the escaping is for: the raw bodies run, break, or vanish in Nunjucks.
    results = _render(HOSTILE_BODIES[:7])
    assert results[0] == {"out": "<p>49</p>"}
    assert any("error" in r for r in results)


def test_every_exported_post_renders_through_nunjucks_unchanged() -> None:
    posts = [_post(body) for body in HOSTILE_BODIES]
    results = _render(posts)
    for post, body, result in zip(posts, HOSTILE_BODIES, results, strict=True):
        assert result == {"out": post}, body
        # And to a browser the body is the same HTML: only "{" became "&#123;".
        assert html.unescape(template_safe(body)) == html.unescape(body)


def test_bodies_without_delimiters_are_exported_byte_for_byte() -> None:
    body = "<p>a { b } c</p><p>&amp; {x}</p>"
    assert template_safe(body) == body
    assert body in _post(body)
