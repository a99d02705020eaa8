"""The real posts the replica is built from, read from the package's own data.

``newsspider/replica/data/`` holds copies of the aggregator posts (Hexo
Markdown: YAML front matter, then the portal's body HTML inside one
``<div>``). At run time nothing outside the package is read.

Pure helpers live here too: the "plain" body (what the portal served, without
what the aggregator added), splitting a body into top-level blocks at
paragraph boundaries, and listing abstracts.

Reads no settings, writes no stats.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import cache
from importlib import resources

__all__ = [
    "BEIJING",
    "CORS_PREFIX",
    "Post",
    "abstract_of",
    "beijing_text",
    "iter_blocks",
    "load_posts",
    "load_seed",
    "plain_body",
    "split_blocks",
    "split_pages",
    "text_of",
]

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
CORS_PREFIX = "https://cors.zfour.workers.dev/?"

_FRONT_MATTER = re.compile(r"\A\s*---\n(.*?)\n---\n", re.DOTALL)
_SCALAR = re.compile(r"^(\w+):\s*(.*)$")
_REFERRER = re.compile(r'\s+referrerpolicy="no-referrer"')
# Tags and the attribute-free tail are enough for block scanning: the corpus
# bodies are machine-written HTML with quoted attributes and no comments.
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*?(/?)>")
_VOID = frozenset({"img", "br", "hr", "input", "meta", "link", "wbr", "source", "col"})
_STRIP_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Post:
    """One aggregator post: front matter plus the body as the aggregator stored it."""

    post_id: str
    title: str
    date: datetime  # aware, UTC
    author: str
    headimg: str | None
    body: str  # inner HTML of the wrapper <div>, as stored (CORS prefixes included)

    @property
    def published(self) -> str:
        """The Beijing time as OFweek prints it: ``YYYY-MM-DD HH:MM``."""
        return beijing_text(self.date)


def beijing_text(when: datetime) -> str:
    return when.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
        if value and value[0] == "'":
            value = value.replace("''", "'")
    return value


def parse_post(post_id: str, text: str) -> Post:
    """Parse one Hexo post. Only the scalar front-matter keys we need are read."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise ValueError(f"post {post_id}: no front matter")
    fields: dict[str, str] = {}
    for line in match.group(1).splitlines():
        scalar = _SCALAR.match(line)
        if scalar:
            fields[scalar.group(1)] = _unquote(scalar.group(2))
    rest = text[match.end() :]
    start = rest.find("<div>")
    end = rest.rfind("</div>")
    if start < 0 or end < start:
        raise ValueError(f"post {post_id}: no body <div>")
    body = rest[start + len("<div>") : end].strip()
    return Post(
        post_id=post_id,
        title=fields["title"],
        date=parsedate_to_datetime(fields["date"]).astimezone(UTC),
        author=fields.get("author", ""),
        headimg=fields.get("headimg") or None,
        body=body,
    )


@cache
def load_posts() -> tuple[Post, ...]:
    """The 24 OFweek posts, sorted by post id (stable across runs)."""
    folder = resources.files("newsspider.replica").joinpath("data", "ofweek")
    posts = [
        parse_post(entry.name.removesuffix(".md"), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".md")
    ]
    return tuple(sorted(posts, key=lambda post: post.post_id))


@cache
def load_seed() -> Post:
    entry = resources.files("newsspider.replica").joinpath("data", "seed-post.md")
    return parse_post("seed", entry.read_text(encoding="utf-8"))


def plain_body(body: str) -> str:
    """The body as the portal served it: aggregator image wrapping and referrer policy removed."""
    return _REFERRER.sub("", body.replace(CORS_PREFIX, ""))


def iter_blocks(body: str) -> Iterator[str]:
    """Top-level elements of an HTML fragment, lazily; trailing text joins the last one."""
    depth = 0
    start = 0
    pending: str | None = None
    for tag in _TAG.finditer(body):
        closing, name, self_closing = tag.group(1), tag.group(2).lower(), tag.group(3)
        if name in _VOID or self_closing:
            if depth:
                continue
        elif closing:
            depth -= 1
            if depth:
                continue
        else:
            depth += 1
            continue
        if pending is not None:
            yield pending
        pending = body[start : tag.end()]
        start = tag.end()
    if start < len(body):
        pending = (pending or "") + body[start:]
    if pending is not None:
        yield pending


def split_blocks(body: str) -> list[str]:
    """Split HTML into its top-level elements, byte for byte (joined, they give ``body`` back)."""
    return list(iter_blocks(body))


def split_pages(body: str, n_pages: int) -> list[str]:
    """Cut a body into ``n_pages`` parts of similar length, only between top-level blocks."""
    if n_pages <= 1:
        return [body]
    blocks = split_blocks(body)
    if len(blocks) < n_pages:
        return [body]
    target = len(body) / n_pages
    pages: list[str] = []
    current: list[str] = []
    size = 0
    for index, block in enumerate(blocks):
        current.append(block)
        size += len(block)
        remaining_blocks = len(blocks) - index - 1
        remaining_pages = n_pages - len(pages) - 1
        # Close a page once it is long enough, or when every later page needs one block.
        if remaining_pages and (size >= target or remaining_blocks == remaining_pages):
            pages.append("".join(current))
            current, size = [], 0
    pages.append("".join(current))
    return [page for page in pages if page]


def text_of(fragment: str) -> str:
    """Plain text of an HTML fragment, whitespace collapsed."""
    return _SPACES.sub(" ", html.unescape(_STRIP_TAGS.sub("", fragment))).strip()


def abstract_of(body: str, limit: int = 80) -> str:
    """The listing abstract: the first paragraph with text, cut at ``limit`` characters."""
    for block in iter_blocks(body):
        text = text_of(block)
        if text:
            return text if len(text) <= limit else text[:limit] + "..."
    return ""


_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r'([a-zA-Z_:][-\w:.]*)(?:\s*=\s*"([^"]*)")?')
_SRC = re.compile(r'(\ssrc=")([^"]*)(")')
LOADING_GIF = "/images/loading.gif"
IMAGE_MODES = ("plain", "lazy", "cors", "local", "mixed")
_LOCAL_HOST = "http://images.ofweek.com"


def img_attrs(tag: str) -> dict[str, str]:
    inner = tag[4:].rstrip("/>").strip()
    return {name.lower(): html.unescape(value or "") for name, value in _ATTR.findall(inner)}


def expected_url(attrs: dict[str, str]) -> str:
    """Where an image really is: the lazy attribute over ``src``, CORS wrapper removed."""
    url = attrs.get("data-original") or attrs.get("src", "")
    return url.removeprefix(CORS_PREFIX)


def apply_image_mode(body: str, mode: str) -> str:
    """Rewrite every ``<img>`` of a plain body the way ``mode`` says.

    ``lazy`` puts the real URL in ``data-original`` behind a placeholder ``src``;
    ``cors`` wraps it in the CORS proxy (with the aggregator's referrer policy);
    ``local`` makes images.ofweek.com images site-relative, so the replica hosts
    them; ``mixed`` cycles plain, lazy and cors image by image.
    """
    if mode not in IMAGE_MODES:
        raise ValueError(f"unknown image mode {mode!r}; expected one of {IMAGE_MODES}")
    if mode == "plain":
        return body
    counter = iter(range(1_000_000))

    def rewrite(match: re.Match[str]) -> str:
        tag = match.group(0)
        index = next(counter)
        this = ("plain", "lazy", "cors")[index % 3] if mode == "mixed" else mode
        src_match = _SRC.search(tag)
        if src_match is None or this == "plain":
            return tag
        url = src_match.group(2)
        if this == "lazy":
            new_src = f' src="{LOADING_GIF}" data-original="{url}"'
        elif this == "cors":
            new_src = f' src="{CORS_PREFIX}{url}" referrerpolicy="no-referrer"'
        else:
            new_src = f' src="{url.removeprefix(_LOCAL_HOST)}"'
        return tag[: src_match.start()] + new_src + tag[src_match.end() :]

    return _IMG.sub(rewrite, body)
