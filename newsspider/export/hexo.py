"""Hexo export: one Markdown post per article, byte for byte in the seed post's format.

The format is ``shared/seed/seed-post.md`` (an RSSHub-to-Hexo aggregator's 2022 posts)::

    \\n---\\ntitle: '…'\\ncategories: \\n - A\\n - B\\nheadimg: '…'\\nauthor: <site_name>\\n
    comments: false\\ndate: Wed, 31 Aug 2022 07:58:00 GMT\\nthumbnail: '…'\\n---\\n\\n
    <div>   \\n<body> \\n  \\n</div>\\n            (twelve spaces, no final newline)

Decisions (documented in the lead's README):

* ``title`` is always single-quoted (``'`` doubled), runs of whitespace collapsed to one
  space; ``author`` and category items stay plain scalars as in the seed, and are
  single-quoted only when a plain scalar would not read back as the same string.
* ``headimg``/``thumbnail`` are ``lead_image``, wrapped by the image proxy template when
  one is given.  Without a lead image we follow the corpus's 2021 posts: ``thumbnail: ''``
  and *no* ``headimg`` line (an empty ``headimg`` makes Hexo themes render a broken banner;
  a missing one makes them fall back to their default).
* ``date`` is ``published_at`` (else ``first_seen_at``) as RFC 1123 GMT; a document with
  neither gets no ``date`` line and Hexo uses the file time.
* With an image proxy every body ``<img src>`` becomes the template applied to the
  original URL (raw, not percent-encoded — the seed's ``cors.zfour.workers.dev/?http://…``)
  and gets ``referrerpolicy="no-referrer"``; without one the body is exported as stored.
* Hexo renders every post through its Nunjucks template engine (tag plugins) before
  Markdown, so a body's ``{{``, ``{%`` or ``{#`` would be read as template code: a
  broken site build, or code run at build time.  Every brace of such a delimiter is
  written ``&#123;``/``&#125;`` — the same HTML to a browser, plain text to Nunjucks
  (:func:`template_safe`; ``{% raw %}`` would be broken out of by a body holding
  ``{% endraw %}``).
* File names are ``YYYY-MM-DD-<portal>-<sha1(_id)[:12]>.md``: a re-export overwrites the
  same file, and when an article's date changed the file under its old date is removed.
  A file that already holds the post's bytes is left alone (its mtime too), so with
  ``--state`` exactly the new and revised articles' files change.

Settings read: none.  Stats written: none (``export_hexo`` returns the count).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsspider.export.files import write_bytes_atomic
from newsspider.export.source import (
    DEFAULT_BATCH_SIZE,
    Document,
    article_date,
    iter_articles,
    rfc1123,
)
from newsspider.export.state import DEFAULT_LOOKBACK, export_window

logger = logging.getLogger(__name__)

URL_PLACEHOLDER = "{url}"
#: The proxy the seed post's images go through.
SEED_IMAGE_PROXY = "https://cors.zfour.workers.dev/?{url}"

#: Only what a post needs travels from the store.
HEXO_FIELDS = {
    "_id": 1,
    "portal": 1,
    "site_name": 1,
    "categories": 1,
    "title": 1,
    "lead_image": 1,
    "published_at": 1,
    "first_seen_at": 1,
    "body_html": 1,
}

# Quoted attribute values may contain ">" (html5ever does not escape it in attributes).
_IMG_TAG = re.compile(r"""<img\b(?:[^>"']|"[^"]*"|'[^']*')*>""", re.IGNORECASE)
_SRC_ATTR = re.compile(
    r"""(?P<lead>\s)src\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s>"']+))""",
    re.IGNORECASE,
)
_REFERRERPOLICY = re.compile(r"\sreferrerpolicy\s*=", re.IGNORECASE)
_TAG_END = re.compile(r"\s*/?>$")
_WHITESPACE = re.compile(r"\s+")
# YAML forbids C0 controls (tab aside), DEL, C1 controls and lone surrogates in a stream.
_YAML_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]"
)
# A plain scalar that YAML 1.1 or 1.2 would read as something other than this string.
_YAML_NON_STRING = re.compile(
    r"""(?ix)
    ~ | = | << | null | true | false | yes | no | on | off | y | n
    | [-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:e[-+]?\d+)?
    | [-+]?\.(?:inf|nan) | 0x[0-9a-f_]+ | 0o?[0-7_]+ | 0b[01_]+
    | \d+(?::[0-5]?\d)+(?:\.\d*)?
    | \d{4}-\d\d?-\d\d?(?:[Tt ].*)?
    """
)
_YAML_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FILE_NAME = re.compile(r"^(?:\d{4}-\d{2}-\d{2}|undated)-.+-(?P<key>[0-9a-f]{12})\.md$")
# newsspider.export.files.atomic_output's temporary name for a post.
_TEMP_NAME = re.compile(r"^\.(?:\d{4}-\d{2}-\d{2}|undated)-.+-[0-9a-f]{12}\.md\.[^.]+\.tmp$")
#: A temporary post older than this was left by a killed export (one lives milliseconds).
STALE_TEMP_SECONDS = 60
_PORTAL_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


def validate_image_proxy(template: str | None) -> str | None:
    """The template unchanged, or ``ValueError`` saying what is wrong with it."""
    if template is None:
        return None
    if URL_PLACEHOLDER not in template:
        raise ValueError(
            f"--image-proxy must contain {URL_PLACEHOLDER} where the image URL goes, "
            f"e.g. {SEED_IMAGE_PROXY!r}; got {template!r}"
        )
    if not template.startswith(("http://", "https://", "//", "/", URL_PLACEHOLDER)):
        raise ValueError(
            f"--image-proxy must be an http(s) URL template, e.g. {SEED_IMAGE_PROXY!r}; "
            f"got {template!r}"
        )
    if any(ch.isspace() for ch in template):
        raise ValueError(f"--image-proxy must not contain whitespace; got {template!r}")
    return template


def proxy_url(url: str, template: str | None) -> str:
    """``url`` wrapped by ``template``; an URL already behind the same proxy is kept."""
    if not template or not url:
        return url
    prefix = template.split(URL_PLACEHOLDER, 1)[0]
    if prefix and url.startswith(prefix):
        return url
    return template.replace(URL_PLACEHOLDER, url)


def _unescape_attr(value: str) -> str:
    # The sanitized body only carries the entities html5ever writes in attributes.
    return value.replace("&quot;", '"').replace("&#39;", "'").replace("&amp;", "&")


def _escape_attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;")


def proxy_body_images(body_html: str, template: str | None) -> str:
    """Every ``<img src>`` through ``template`` plus ``referrerpolicy="no-referrer"``.

    Works on the sanitized body's own bytes (a regex over ``<img>`` tags) rather than
    re-serializing a parsed tree, so the rest of the body reaches the post unchanged.
    """
    if not template:
        return body_html

    def rewrite(match: re.Match[str]) -> str:
        tag = match.group(0)
        src = _SRC_ATTR.search(tag)
        if src is not None:
            raw = src.group("dq") or src.group("sq") or src.group("bare") or ""
            wrapped = proxy_url(_unescape_attr(raw), template)
            tag = f'{tag[: src.start()]}{src.group("lead")}src="{_escape_attr(wrapped)}"{tag[src.end() :]}'
        if not _REFERRERPOLICY.search(tag):
            end = _TAG_END.search(tag)
            cut = end.start() if end is not None else len(tag) - 1
            tag = f'{tag[:cut]} referrerpolicy="no-referrer"{tag[cut:]}'
        return tag

    return _IMG_TAG.sub(rewrite, body_html)


def _clean_line(value: Any) -> str:
    text = _YAML_UNPRINTABLE.sub("", str(value))
    return _WHITESPACE.sub(" ", text).strip()


def yaml_single_quoted(value: Any) -> str:
    """A single-quoted YAML scalar on one line (``'`` doubled, as in the seed's title)."""
    return "'" + _clean_line(value).replace("'", "''") + "'"


def yaml_scalar(value: Any) -> str:
    """Plain like the seed's ``author:`` and category items when YAML reads it back as is."""
    text = _clean_line(value)
    plain_safe = (
        text
        and text[0] not in _YAML_INDICATORS
        and ": " not in text
        and " #" not in text
        and not text.endswith(":")
        and not _YAML_NON_STRING.fullmatch(text)
    )
    return text if plain_safe else yaml_single_quoted(text)


def render_front_matter(doc: Document, image_proxy: str | None = None) -> str:
    """The front matter block, from the leading blank line through the closing ``---``."""
    lead_image = proxy_url(doc.get("lead_image") or "", image_proxy)
    published = article_date(doc)
    lines = ["", "---", f"title: {yaml_single_quoted(doc.get('title') or '')}", "categories: "]
    lines += [f" - {yaml_scalar(category)}" for category in doc.get("categories") or ()]
    if lead_image:
        lines.append(f"headimg: {yaml_single_quoted(lead_image)}")
    lines.append(f"author: {yaml_scalar(doc.get('site_name') or doc.get('portal') or '')}")
    lines.append("comments: false")
    if published is not None:
        lines.append(f"date: {rfc1123(published)}")
    lines.append(f"thumbnail: {yaml_single_quoted(lead_image)}")
    lines.append("---")
    return "\n".join(lines) + "\n"


# A "{" opening a Nunjucks delimiter, a "}" closing one ("#}" alone is an error).
_TEMPLATE_BRACE = re.compile(r"\{(?=[{%#])|(?<=[}%#])\}")


def template_safe(body_html: str) -> str:
    """``body_html`` with every brace of a Nunjucks delimiter (``{{ }}``, ``{% %}``,
    ``{# #}``) as a character reference: ``&#123;`` / ``&#125;``.

    The body is HTML without scripts or styles (contract §5), where a character
    reference means the character itself: a reader sees the same text, links and
    code, and Hexo's renderer sees no template.
    """
    return _TEMPLATE_BRACE.sub(lambda m: "&#123;" if m.group(0) == "{" else "&#125;", body_html)


def render_post(doc: Document, image_proxy: str | None = None) -> str:
    """The whole post: front matter, a blank line, the body in the seed's ``<div>`` wrapper."""
    body = template_safe(proxy_body_images((doc.get("body_html") or "").strip(), image_proxy))
    # The wrapper's odd whitespace is the aggregator's template, reproduced to the byte.
    return f"{render_front_matter(doc, image_proxy)}\n<div>   \n{body} \n  \n</div>\n            "


def post_key(doc: Document) -> str:
    """12 hex digits of SHA-1 of ``_id``: stable across re-exports, unique in practice."""
    return hashlib.sha1(str(doc["_id"]).encode("utf-8")).hexdigest()[:12]


def post_filename(doc: Document) -> str:
    """``YYYY-MM-DD-<portal>-<key>.md`` (``undated`` when the article has no date)."""
    published = article_date(doc)
    day = published.strftime("%Y-%m-%d") if published is not None else "undated"
    portal = _PORTAL_SAFE.sub("_", str(doc.get("portal") or "article")).strip("_") or "article"
    return f"{day}-{portal}-{post_key(doc)}.md"


def _existing_posts(out_dir: Path) -> dict[str, set[str]]:
    # One directory scan up front instead of a glob per article (O(n) instead of O(n^2)).
    posts: dict[str, set[str]] = {}
    now = time.time()
    with os.scandir(out_dir) as entries:
        for entry in entries:
            match = _FILE_NAME.match(entry.name)
            if match and entry.is_file():
                posts.setdefault(match.group("key"), set()).add(entry.name)
            elif _TEMP_NAME.match(entry.name) and now - entry.stat().st_mtime > STALE_TEMP_SECONDS:
                # Left by an export killed while writing that post (the post itself is whole).
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
    return posts


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except FileNotFoundError:
        return False


@dataclass(slots=True)
class HexoExport:
    """What one Hexo export did: ``posts`` exported = ``added`` + ``rewritten`` + ``unchanged``."""

    posts: int = 0
    added: int = 0
    rewritten: int = 0
    unchanged: int = 0  # the file already held these bytes: not written again


def write_hexo(
    db: Any,
    out_dir: str | os.PathLike[str],
    image_proxy: str | None = None,
    portal: str | None = None,
    since: Any = None,
    *,
    changed_since: Any = None,
    state: str | os.PathLike[str] | None = None,
    lookback: float = DEFAULT_LOOKBACK,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limit: int = 0,
) -> HexoExport:
    """Write one post per matching article into ``out_dir``; say what was written.

    ``changed_since``/``state``: only the articles changed since then (see
    :mod:`newsspider.export.state`).  A post whose file already holds the same bytes is
    not written again, so a post's file changes exactly when its article's post does.
    """
    validate_image_proxy(image_proxy)
    result = HexoExport()
    with export_window(state, export="hexo", portal=portal, since=since,
                       changed_since=changed_since, streamed=True, lookback=lookback) as (
        window, tracker,
    ):
        articles = iter_articles(db, portal, since, window=window, projection=HEXO_FIELDS,
                                 batch_size=batch_size, limit=limit)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        existing = _existing_posts(out)
        for doc in articles:
            name = post_filename(doc)
            data = render_post(doc, image_proxy).encode("utf-8")
            key = post_key(doc)
            if _same_bytes(out / name, data):
                result.unchanged += 1
            else:
                write_bytes_atomic(out / name, data)
                if existing.get(key):
                    result.rewritten += 1
                else:
                    result.added += 1
            # The article moved to another date: drop the post under its old name.
            for stale in existing.get(key, set()) - {name}:
                (out / stale).unlink(missing_ok=True)
            existing[key] = {name}
            result.posts += 1
            if tracker is not None:
                tracker.record(doc)
        if tracker is not None:
            tracker.commit()
    logger.info("hexo export: %d posts to %s (%d added, %d rewritten, %d unchanged)",
                result.posts, out_dir, result.added, result.rewritten, result.unchanged)
    return result


def export_hexo(db: Any, out_dir: str | os.PathLike[str], *args: Any, **kwargs: Any) -> int:
    """:func:`write_hexo` (the same arguments); returns how many posts were exported."""
    return write_hexo(db, out_dir, *args, **kwargs).posts


def front_matter_lines(post: str) -> list[str]:
    """The front matter lines of a post (for comparisons): between the two ``---``."""
    head = post.split("\n---\n", 2)
    return head[1].split("\n") if len(head) == 3 else []


__all__ = [
    "SEED_IMAGE_PROXY",
    "HexoExport",
    "export_hexo",
    "front_matter_lines",
    "post_filename",
    "proxy_body_images",
    "proxy_url",
    "render_front_matter",
    "render_post",
    "validate_image_proxy",
    "write_hexo",
    "yaml_scalar",
    "yaml_single_quoted",
]
