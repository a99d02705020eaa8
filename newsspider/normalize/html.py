"""Turn a portal's article body HTML into the safe normalized body (contract §5).

One lxml parse (``huge_tree``: 2048 levels of nesting; a body deeper than
that is refused, ``events["too_deep"]``, never cut), then in order: drop
(generic + portal rules), decode Cloudflare e-mail obfuscation, unwrap (SEO
links), resolve images, flatten what is nested more than 100 levels deep
(``events["flattened"]``), and a single walk that rebuilds the body from an allow-list into a canonical block
structure (layout wrappers unwrapped at block boundaries, inline runs wrapped
in ``<p>``, empty paragraphs dropped, whitespace collapsed).  nh3 then
sanitizes the serialized result against the same allow-list as defence in
depth; when the walk is right nh3 changes nothing, and that is what makes
``normalize(normalize(x)) == normalize(x)`` hold byte for byte.

Reads no settings and writes no stats; :class:`NormalizedBody.events` carries
counts the body stage turns into ``newsspider/body/...`` stats
(:mod:`newsspider.pipelines.body`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import nh3
from lxml import etree
from lxml import html as lxml_html

from newsspider.htmldepth import MAX_NESTING, BodyTooDeep, cut_short
from newsspider.normalize.images import (
    DEFAULT_IMAGE_CONFIG,
    ImageConfig,
    ImageRecord,
    absolutize,
    resolve_img,
)
from newsspider.normalize.rules import GENERIC_BODY_RULES, BodyRules
from newsspider.normalize.text import body_text, tree_text

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "ALLOWED_URL_SCHEMES",
    "NormalizedBody",
    "ResolvedBody",
    "normalize_body",
    "resolve_body",
    "sanitize",
]

# --- the allow-list (contract §5) ------------------------------------------
ALLOWED_TAGS = frozenset(
    {
        "p", "br", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "u", "sub", "sup",
        "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tfoot", "tr", "th", "td",
        "caption", "colgroup", "col", "figure", "figcaption", "pre", "code", "a", "img",
    }
)
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {"a": frozenset({"href"}), "img": frozenset({"src", "alt"})}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Removed with everything inside them, whatever the portal rules say.
_CLEAN_CONTENT_TAGS = frozenset(
    {
        "script", "style", "iframe", "object", "embed", "svg", "math", "template", "noscript",
        "textarea", "select", "button", "applet", "frame", "frameset", "noembed", "noframes",
        "xmp", "title", "head", "canvas", "video", "audio",
    }
)
# Built once: nh3 compiles the allow-list into its Rust sanitizer here.
# No `rel`/`target`: the body is data, the embedding page decides how links open.
_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(_CLEAN_CONTENT_TAGS),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(ALLOWED_URL_SCHEMES),
    link_rel=None,
    strip_comments=True,
    url_relative="deny",
)


def sanitize(html: str) -> str:
    """nh3 with the contract's allow-list (no structural normalization)."""
    return _CLEANER.clean(html)


# --- element classes used by the rebuilding walk ---------------------------
_HEADINGS = {"h1": "h2", "h2": "h2", "h3": "h3", "h4": "h4", "h5": "h5", "h6": "h6"}
# Blocks whose inline content is wrapped in the block's own (output) tag.
_PHRASING_BLOCKS = {**_HEADINGS, "p": "p", "address": "p", "dt": "p", "dd": "p", "summary": "p"}
_FLOW_BLOCKS = frozenset({"blockquote", "li", "figure"})
_LISTS = {"ul": "ul", "ol": "ol", "menu": "ul", "dir": "ul"}
_PRE_TAGS = frozenset({"pre", "listing", "plaintext"})
_TABLE_PARTS = frozenset({"caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "td", "th"})
_BLOCKS = frozenset(
    {*_PHRASING_BLOCKS, *_FLOW_BLOCKS, *_LISTS, *_PRE_TAGS, *_TABLE_PARTS, "table", "figcaption"}
)
# Layout wrappers: unwrapped, but their edges end the current paragraph.
_WRAPPERS = frozenset(
    {
        "div", "section", "article", "center", "header", "footer", "aside", "main", "nav",
        "details", "dl", "fieldset", "hgroup", "hr", "form", "body", "html", "legend",
        "search", "multicol", "marquee", "output",
    }
)
_INLINE_KEEP = frozenset({"strong", "em", "b", "i", "u", "sub", "sup", "code"})
_BLOCKISH = tuple(_BLOCKS | _WRAPPERS)
_VOID = frozenset({"br", "img", "col"})

_BOUNDARY = object()  # a block edge inside a stream of inline items
_BR = object()  # a synthetic line break between runs that must not glue

# --- source preparation ------------------------------------------------------
# Characters libxml2 refuses or that have no place in text: C0 controls
# (except tab/newline), DEL, lone surrogates, non-characters.
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_DOCUMENT_TAGS = re.compile(r"</?(?:html|head|body)\b[^>]*>|<!doctype[^>]*>", re.IGNORECASE)
_HAS_PRE = re.compile(r"<(?:pre|listing|xmp|plaintext)\b", re.IGNORECASE)
# Tokens of an HTML stream: comments, tags (quoted attribute values may hold
# '>'), and text.  Only used to find raw pseudo-tags inside <pre>.
_TOKEN = re.compile(
    r"<!--.*?(?:-->|$)|</?[A-Za-z][^\s/>]*(?:\"[^\"]*\"|'[^']*'|[^'\">])*>?|<[!?/][^>]*>?|[^<]+|<",
    re.DOTALL,
)
_TAG_NAME = re.compile(r"</?([A-Za-z][^\s/>]*)")
# Tags that may legitimately appear inside <pre> and stay markup there.
_PRE_MARKUP = frozenset(ALLOWED_TAGS | {"span", "font", "div", "kbd", "samp", "var", "tt", "s"})

# huge_tree: libxml2 otherwise stops at 256 levels of nesting and silently keeps
# what it had; with it the limit is 2048, and a body past that is refused
# (newsspider.htmldepth), never stored cut.
_PARSER = lxml_html.HTMLParser(
    remove_comments=True, remove_pis=True, no_network=True, recover=True,
    default_doctype=False, encoding="utf-8", huge_tree=True,
)
# Elements more than MAX_NESTING levels below the body (one XPath step per level:
# linear in the tree's size, in C).
_TOO_NESTED = etree.XPath("/".join(["*"] * (MAX_NESTING + 1)))

# --- Cloudflare e-mail obfuscation -----------------------------------------
_CFEMAIL = etree.XPath("//*[@data-cfemail]")
_CF_LINKS = etree.XPath("//a[contains(@href, '/cdn-cgi/l/email-protection')]")
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})+$")
_LINKS = etree.XPath("//a[@href]")

_WS_SPLIT = re.compile(r"([ \t\n\r\f\xa0\u3000]+)")
_ASCII_WS = re.compile(r"[ \t\n\r\f]+")


@dataclass(slots=True)
class NormalizedBody:
    """The normalized body and what the normalizer did to get it."""

    html: str
    text: str
    images: list[ImageRecord] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)

    @property
    def lead_image(self) -> str | None:
        return self.images[0]["url"] if self.images else None


@dataclass(slots=True)
class ResolvedBody:
    """Body HTML with images and links resolved, not yet sanitized.

    ``tree`` and ``records`` are the parsed, resolved body that ``html`` was
    serialized from: :func:`normalize_resolved` builds on them, so a body
    going through both stages in one process is parsed once.
    """

    html: str
    images: list[ImageRecord] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)
    tree: Any = None
    records: dict[Any, ImageRecord] = field(default_factory=dict)


def decode_cfemail(hex_string: str) -> str | None:
    """Decode Cloudflare's ``data-cfemail`` XOR scheme (first byte is the key)."""
    if not _HEX.match(hex_string or ""):
        return None
    data = bytes.fromhex(hex_string)
    key = data[0]
    try:
        return unquote(bytes(b ^ key for b in data[1:]).decode("utf-8"))
    except UnicodeDecodeError:
        return None


def _prepare_source(html: str) -> str:
    html = _BAD_CHARS.sub("", html.replace("\r\n", "\n").replace("\r", "\n"))
    html = _DOCUMENT_TAGS.sub("", html)
    if _HAS_PRE.search(html):
        html = _escape_pre_pseudo_tags(html)
    return html


def _escape_pre_pseudo_tags(html: str) -> str:
    """Inside ``<pre>``, turn raw ``<groupId>``-style text back into text.

    Portals such as Dockone paste code (Maven POMs, ``FROM <base image>``)
    into ``<pre>`` unescaped; a parser would turn it into elements and the
    code would lose its angle brackets.  Only tags a code block can really
    contain stay markup.
    """
    out: list[str] = []
    depth = 0
    for match in _TOKEN.finditer(html):
        token = match.group(0)
        if token.startswith("<") and len(token) > 1:
            name_match = _TAG_NAME.match(token)
            name = name_match.group(1).lower() if name_match else ""
            if name in ("pre", "listing", "xmp", "plaintext"):
                depth = max(depth + (-1 if token.startswith("</") else 1), 0)
                out.append(token)
                continue
            if depth and name not in _PRE_MARKUP:
                out.append(token.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
                continue
        out.append(token)
    return "".join(out)


def _parse(html: str) -> Any:
    """The parsed fragment's container element (a ``<body>``), or None.

    Raises :class:`~newsspider.htmldepth.BodyTooDeep` when libxml2 stopped at
    its depth limit: the tree would be the body cut there.
    """
    if not html.strip():
        return None
    doc = etree.fromstring(("<html><body>" + html + "</body></html>").encode("utf-8"), _PARSER)
    if cut_short(_PARSER):
        raise BodyTooDeep
    if doc is None:
        return None
    return doc.find("body")


def _flatten_deep(root: Any, events: Counter[str]) -> None:
    """Unwrap every element nested more than MAX_NESTING levels below ``root``.

    The rebuilding walk recurses once per level or more, and such nesting (a
    ``<font>`` per line, never closed) carries no structure worth keeping: the
    text, images and line breaks stay, a block's end becomes a ``<br>``.
    """
    for top in _TOO_NESTED(root):
        if top.tag not in _VOID and top.getparent() is not None:
            _flatten(top, events)


def _flatten(top: Any, events: Counter[str]) -> None:
    """Replace ``top`` by a ``<span>`` (transparent to the walk) holding its subtree's
    text, ``<br>`` and ``<img>`` in document order: one pass, linear in its size."""
    flat = top.makeelement("span")
    last: Any = None  # the element the next text goes after (None: the span's text)

    def add_text(text: str | None) -> None:
        if not text:
            return
        if last is None:
            flat.text = (flat.text or "") + text
        else:
            last.tail = (last.tail or "") + text

    pieces: list[tuple[Any, str | None]] = []  # kept void elements, with the text after them
    for event, el in etree.iterwalk(top, events=("start", "end")):
        tag = el.tag
        if event == "start":
            if isinstance(tag, str) and tag not in _VOID:
                pieces.append((None, el.text))
            continue
        if tag in _VOID:
            pieces.append((el, None))
        else:
            events["flattened"] += 1
            if tag in _BLOCKS or tag in _WRAPPERS:
                pieces.append((flat.makeelement("br"), None))
        if el is not top:
            pieces.append((None, el.tail))
    for element, text in pieces:
        if element is None:
            add_text(text)
        else:
            element.tail = None
            flat.append(element)  # an <img> keeps its identity (the image records' key)
            last = element
    flat.tail = top.tail
    top.getparent().replace(top, flat)


def _replace_with_text(el: Any, text: str) -> None:
    """Replace ``el`` by ``text`` (keeping its tail) in its parent."""
    parent = el.getparent()
    if parent is None:
        return
    joined = text + (el.tail or "")
    previous = el.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + joined
    else:
        parent.text = (parent.text or "") + joined
    parent.remove(el)


def _apply_rules(root: Any, rules: BodyRules | None, events: Counter[str]) -> None:
    for rule_set in (GENERIC_BODY_RULES, rules):
        if rule_set is None:
            continue
        for el in rule_set.select_drop(root):
            if el is not root and el.getparent() is not None:
                el.drop_tree()
                events["dropped"] += 1
    for el in _CFEMAIL(root):
        decoded = decode_cfemail(el.get("data-cfemail", ""))
        if decoded is not None:
            _replace_with_text(el, decoded)
            events["emails_decoded"] += 1
    for el in _CF_LINKS(root):
        _, _, fragment = el.get("href", "").partition("#")
        decoded = decode_cfemail(fragment)
        if decoded and "@" in decoded:
            el.set("href", "mailto:" + decoded)
        else:
            el.drop_tag()
    if rules is not None:
        for el in rules.select_unwrap(root):
            if el is not root and el.getparent() is not None:
                _replace_with_text(el, el.text_content())
                events["unwrapped"] += 1


def _resolve_images(
    root: Any, base_url: str | None, config: ImageConfig, events: Counter[str]
) -> dict[Any, ImageRecord]:
    records: dict[Any, ImageRecord] = {}
    for legacy in root.iter("image"):
        legacy.tag = "img"  # what every HTML5 parser makes of <image>
    for img in list(root.iter("img")):
        record = resolve_img(img, base_url, config)
        if record is None:
            img.drop_tree()
            events["images_removed"] += 1
            continue
        if record["src"] != record["url"]:
            events["images_rewritten"] += 1
        records[img] = record
    return records


def _resolve_links(root: Any, base_url: str | None) -> None:
    for a in _LINKS(root):
        href = a.get("href", "")
        if href.strip().lower().startswith("mailto:"):
            continue
        absolute = absolutize(href, base_url)
        if absolute is None:
            del a.attrib["href"]
        else:
            a.set("href", absolute)


def _has_block(el: Any) -> bool:
    for _ in el.iterdescendants(*_BLOCKISH):
        return True
    return False


def _items(el: Any) -> Iterator[Any]:
    """The content of ``el`` as a stream: text, kept elements, boundaries.

    Unknown inline elements (span, font…) are transparent; layout wrappers
    are transparent but bracketed by boundaries; kept inline elements that
    contain blocks lose their formatting so the blocks can stay blocks.
    """
    if el.text:
        yield el.text
    for child in el:
        tag = child.tag
        if isinstance(tag, str):
            if tag in ("br", "img"):
                yield child
            elif tag in _INLINE_KEEP or tag == "a":
                if _has_block(child):
                    yield from _items(child)
                else:
                    yield child
            elif tag in _BLOCKS:
                yield child
            elif tag in _WRAPPERS:
                yield _BOUNDARY
                yield from _items(child)
                yield _BOUNDARY
            else:
                yield from _items(child)
        if child.tail:
            yield child.tail


class _Builder:
    """Rebuilds the body into fresh elements from the allow-list."""

    __slots__ = ("images", "records")

    def __init__(self, records: dict[Any, ImageRecord]) -> None:
        self.records = records
        self.images: list[ImageRecord] = []

    # -- flow ---------------------------------------------------------------
    def flow(self, items: Iterator[Any], parent: Any, run_tag: str | None, mode: str) -> None:
        """Emit a stream into ``parent``.

        ``mode``: "always" wraps every inline run in ``run_tag``; "mixed" wraps
        only when the stream also holds blocks; "never" appends runs directly.
        """
        segments: list[Any] = []
        run: list[Any] = []
        for item in items:
            if item is _BOUNDARY:
                if run:
                    segments.append(run)
                    run = []
            elif isinstance(item, str) or item.tag in ("br", "img", "a") or item.tag in _INLINE_KEEP:
                run.append(item)
            else:
                if run:
                    segments.append(run)
                    run = []
                segments.append(item)
        if run:
            segments.append(run)
        has_blocks = any(not isinstance(s, list) for s in segments)
        wrap = mode == "always" or (mode == "mixed" and has_blocks)
        if not wrap and mode == "mixed":
            # No blocks: one run, former boundaries become line breaks.
            merged: list[Any] = []
            for segment in segments:
                if merged:
                    merged.append(_BR)
                merged.extend(segment)
            self.inline_run(merged, parent)
            return
        for segment in segments:
            if not isinstance(segment, list):
                self.block(segment, parent)
            elif wrap:
                for piece in _split_paragraphs(segment):
                    out = etree.SubElement(parent, run_tag or "p")
                    self.inline_run(piece, out)
                    if _is_empty(out):
                        parent.remove(out)
            else:
                self.inline_run(segment, parent)

    def block(self, el: Any, parent: Any) -> None:
        tag = el.tag
        if tag in _PHRASING_BLOCKS:
            self.flow(_items(el), parent, _PHRASING_BLOCKS[tag], "always")
        elif tag == "figcaption":
            if parent.tag == "figure":
                self.flow(_items(el), parent, "figcaption", "always")
            else:
                self.flow(_items(el), parent, "p", "always")
        elif tag in _LISTS:
            self.list_block(el, parent, _LISTS[tag])
        elif tag == "li":
            if parent.tag in ("ul", "ol"):
                self.container(el, parent, "li", "mixed")
            else:
                holder = etree.SubElement(parent, "ul")
                self.container(el, holder, "li", "mixed")
                if not len(holder):
                    parent.remove(holder)
        elif tag == "blockquote":
            self.container(el, parent, "blockquote", "mixed")
        elif tag == "figure":
            self.container(el, parent, "figure", "never")
        elif tag in _PRE_TAGS:
            self.pre(el, parent)
        elif tag == "table":
            self.table(el, parent)
        else:
            # A table part outside a table: a plain layout wrapper.
            self.flow(_items(el), parent, "p", "always")

    def container(self, el: Any, parent: Any, tag: str, mode: str) -> None:
        out = etree.SubElement(parent, tag)
        self.flow(_items(el), out, "p", mode)
        if _is_empty(out):
            parent.remove(out)

    def list_block(self, el: Any, parent: Any, tag: str) -> None:
        out = etree.SubElement(parent, tag)
        loose: list[Any] = []
        for item in _items(el):
            if not isinstance(item, str) and item is not _BOUNDARY and item.tag == "li":
                self._loose_item(loose, out)
                loose = []
                self.container(item, out, "li", "mixed")
            else:
                loose.append(item)
        self._loose_item(loose, out)
        if not len(out):
            parent.remove(out)

    def _loose_item(self, items: list[Any], out: Any) -> None:
        # Content directly inside <ul> (text, a nested list) becomes an item.
        if any(not (isinstance(i, str) and not i.strip()) and i is not _BOUNDARY for i in items):
            li = etree.SubElement(out, "li")
            self.flow(iter(items), li, "p", "mixed")
            if _is_empty(li):
                out.remove(li)

    def table(self, el: Any, parent: Any) -> None:
        table = etree.Element("table")
        foster: list[Any] = []
        body: Any = None
        for item in _items(el):
            tag = None if isinstance(item, str) or item is _BOUNDARY else item.tag
            if tag == "caption":
                if len(table) == 0:
                    self.flow(_items(item), table, "caption", "always")
                else:
                    foster.append(item)
            elif tag in ("thead", "tbody", "tfoot"):
                section = etree.SubElement(table, tag)
                for row in _items(item):
                    if not isinstance(row, str) and row is not _BOUNDARY and row.tag == "tr":
                        self.row(row, section, foster)
                    else:
                        foster.append(row)
                if not len(section):
                    table.remove(section)
                body = None
            elif tag == "tr":
                if body is None:
                    body = etree.SubElement(table, "tbody")
                self.row(item, body, foster)
            elif tag in ("td", "th"):
                if body is None:
                    body = etree.SubElement(table, "tbody")
                # A cell without a row: give it one.
                row = etree.SubElement(body, "tr")
                self.container(item, row, tag, "mixed")
                if not len(row):
                    body.remove(row)
            elif tag in ("colgroup", "col"):
                continue  # no allowed attributes, so nothing to keep
            else:
                foster.append(item)
        for section in list(table):
            if section.tag != "caption" and not len(section):
                table.remove(section)
        # Stray content inside table markup goes before the table, as browsers do.
        self.flow(iter(foster), parent, "p", "always")
        if any(child.tag != "caption" for child in table):
            parent.append(table)
        elif len(table):
            caption = table[0]
            caption.tag = "p"
            parent.append(caption)

    def row(self, tr: Any, section: Any, foster: list[Any]) -> None:
        out = etree.SubElement(section, "tr")
        for item in _items(tr):
            if not isinstance(item, str) and item is not _BOUNDARY and item.tag in ("td", "th"):
                cell = etree.SubElement(out, item.tag)
                self.flow(_items(item), cell, "p", "mixed")
            elif not (isinstance(item, str) and not item.strip()) and item is not _BOUNDARY:
                foster.append(item)
        if not len(out):
            section.remove(out)

    # -- pre ----------------------------------------------------------------
    def pre(self, el: Any, parent: Any) -> None:
        out = etree.SubElement(parent, "pre")
        self._pre_into(el, out, in_link=False)
        # A parser drops the newline right after <pre>; drop them all so a
        # second pass sees the same text.
        if out.text:
            out.text = out.text.lstrip("\n")
        _rstrip_tree(out)
        if _is_empty(out):
            parent.remove(out)

    def _pre_into(self, src: Any, dst: Any, in_link: bool) -> None:
        if src.text:
            _append_text(dst, src.text)
        for child in src:
            tag = child.tag if isinstance(child.tag, str) else None
            if tag is None:
                pass
            elif tag == "br":
                # `<br>` followed by a newline is one line break, not two.
                if not (child.tail or "").startswith("\n"):
                    _append_text(dst, "\n")
            elif tag == "img":
                self.image(child, dst)
            elif tag in _INLINE_KEEP or (tag == "a" and child.get("href") and not in_link):
                out = etree.SubElement(dst, tag)
                if tag == "a":
                    out.set("href", child.get("href"))
                self._pre_into(child, out, in_link or tag == "a")
                if _is_empty(out):
                    _remove_keep_tail(out)
            else:
                self._pre_into(child, dst, in_link)
                if tag in _BLOCKS or tag in _WRAPPERS:
                    _append_text(dst, "\n")
            if child.tail:
                _append_text(dst, child.tail)

    # -- inline -------------------------------------------------------------
    def inline_run(self, items: list[Any], parent: Any) -> None:
        state = _InlineState()
        self._inline(items, parent, state, in_link=False)

    def _inline(self, items: Any, parent: Any, state: _InlineState, in_link: bool) -> None:
        for item in items:
            if isinstance(item, str):
                state.text(item, parent)
            elif item is _BR or item is _BOUNDARY:
                state.line_break()
            else:
                tag = item.tag
                if tag == "br":
                    state.line_break()
                elif tag == "img":
                    if item.get("src"):
                        state.flush(parent)
                        self.image(item, parent)
                        state.at_start = False
                elif tag == "a":
                    href = item.get("href")
                    if href and not in_link:
                        out = etree.SubElement(parent, "a")
                        out.set("href", href)
                        self._inline(_items(item), out, state, in_link=True)
                        if _is_empty(out):
                            parent.remove(out)
                    else:
                        self._inline(_items(item), parent, state, in_link)
                elif tag in _INLINE_KEEP:
                    out = etree.SubElement(parent, tag)
                    self._inline(_items(item), out, state, in_link)
                    if _is_empty(out):
                        parent.remove(out)
                else:
                    # Blocks never reach here: flow() splits them out first.
                    self._inline(_items(item), parent, state, in_link)

    def image(self, src_el: Any, parent: Any) -> None:
        url = src_el.get("src")
        if not url:
            return
        img = etree.SubElement(parent, "img")
        img.set("src", url)
        alt = (src_el.get("alt") or "").strip()
        if alt:
            img.set("alt", alt)
        record = self.records.get(src_el)
        if record is not None:
            self.images.append(record)


class _InlineState:
    """Whitespace collapsing across the text nodes of one inline run."""

    __slots__ = ("at_start", "pending_break", "pending_space")

    def __init__(self) -> None:
        self.at_start = True
        self.pending_space: str | None = None
        self.pending_break = False

    def line_break(self) -> None:
        # Breaks are emitted lazily so leading, trailing and repeated ones vanish.
        if not self.at_start:
            self.pending_break = True
        self.pending_space = None

    def flush(self, parent: Any) -> None:
        if self.pending_break:
            etree.SubElement(parent, "br")
            self.pending_break = False
            self.at_start = True
            self.pending_space = None
        if self.pending_space is not None and not self.at_start:
            _append_text(parent, self.pending_space)
        self.pending_space = None

    def text(self, text: str, parent: Any) -> None:
        # Words are gathered and appended once: appending each to the lxml node
        # re-copies the node's whole text every time.
        out: list[str] = []
        for index, piece in enumerate(_WS_SPLIT.split(text)):
            if not piece:
                continue
            if index % 2:
                if self.at_start and not self.pending_break:
                    continue
                self.pending_space = _merge_space(self.pending_space, piece)
                continue
            if self.pending_break:
                if out:
                    _append_text(parent, "".join(out))
                    out = []
                self.flush(parent)
            elif self.pending_space is not None:
                if not self.at_start:
                    out.append(self.pending_space)
                self.pending_space = None
            out.append(piece)
            self.at_start = False
        if out:
            _append_text(parent, "".join(out))


def _merge_space(pending: str | None, piece: str) -> str:
    """One collapsed space; full-width and no-break spaces survive as typed."""
    special = _ASCII_WS.sub("", (pending or "") + piece)
    return special or " "


def _split_paragraphs(run: list[Any]) -> list[list[Any]]:
    """Split a run at ``<br><br>`` (a paragraph break in br-formatted bodies)."""
    pieces: list[list[Any]] = []
    current: list[Any] = []
    last_br: int | None = None
    for item in run:
        is_br = item is _BR or (not isinstance(item, str) and item.tag == "br")
        if is_br:
            if last_br is not None and all(
                isinstance(x, str) and not x.strip(" \t\n\r\f") for x in current[last_br + 1 :]
            ):
                pieces.append(current[:last_br])
                current = []
                last_br = None
                continue
            last_br = len(current)
        current.append(item)
    pieces.append(current)
    return pieces


def _append_text(parent: Any, text: str) -> None:
    if len(parent):
        last = parent[-1]
        last.tail = (last.tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def _remove_keep_tail(el: Any) -> None:
    tail = el.tail
    parent = el.getparent()
    parent.remove(el)
    if tail:
        _append_text(parent, tail)


def _rstrip_tree(el: Any) -> None:
    """Strip trailing whitespace at the very end of ``el``'s content."""
    while True:
        if len(el):
            last = el[-1]
            if last.tail and last.tail.strip():
                last.tail = last.tail.rstrip()
                return
            last.tail = None
            if last.tag in _VOID:
                return
            el = last
        else:
            if el.text:
                el.text = el.text.rstrip() or None
            return


def _is_empty(el: Any) -> bool:
    """No visible text and no image anywhere inside."""
    if el.tag == "img":
        return False
    for node in el.iter():
        if node.tag == "img":
            return False
        if node is not el and node.tail and node.tail.strip(" \t\n\r\f\xa0\u3000"):
            return False
        if node.text and node.text.strip(" \t\n\r\f\xa0\u3000"):
            return False
    return True


# --- serialization, the html5ever way (so nh3 leaves it byte-identical) ----
def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("\xa0", "&nbsp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr(value: str) -> str:
    return value.replace("&", "&amp;").replace("\xa0", "&nbsp;").replace('"', "&quot;")


def _serialize(el: Any, out: list[str]) -> None:
    tag = el.tag
    out.append("<" + tag)
    for name, value in el.attrib.items():
        out.append(f' {name}="{_escape_attr(value)}"')
    out.append(">")
    if tag not in _VOID:
        if el.text:
            out.append(_escape_text(el.text))
        for child in el:
            _serialize(child, out)
        out.append(f"</{tag}>")
    if el.tail:
        out.append(_escape_text(el.tail))


def _serialize_children(root: Any) -> str:
    out: list[str] = []
    for child in root:
        _serialize(child, out)
    return "".join(out)


# --- entry points -------------------------------------------------------------
def _prepare_tree(
    html: str, base_url: str | None, rules: BodyRules | None, config: ImageConfig, events: Counter[str]
) -> tuple[Any, dict[Any, ImageRecord]]:
    root = _parse(_prepare_source(html))
    if root is None:
        return None, {}
    _apply_rules(root, rules, events)
    records = _resolve_images(root, base_url, config, events)
    _resolve_links(root, base_url)
    _flatten_deep(root, events)
    return root, records


def resolve_body(
    html: str,
    base_url: str | None,
    rules: BodyRules | None = None,
    config: ImageConfig = DEFAULT_IMAGE_CONFIG,
) -> ResolvedBody:
    """Images resolved to original absolute URLs, links made absolute.

    The markup is otherwise kept (the normalizer sanitizes it next), so a
    normalizer change can be re-run on it without losing the image records.
    """
    events: Counter[str] = Counter()
    try:
        root, records = _prepare_tree(html or "", base_url, rules, config, events)
    except BodyTooDeep:
        events["too_deep"] += 1
        return ResolvedBody("", [], events)
    except (etree.ParserError, ValueError, RecursionError) as exc:
        events["parse_failed"] += 1
        events[f"error/{type(exc).__name__}"] += 1
        return ResolvedBody("", [], events)
    if root is None:
        return ResolvedBody("", [], events)
    images = [records[img] for img in root.iter("img") if img in records]
    markup = (root.text or "") and _escape_text(root.text)
    markup += "".join(lxml_html.tostring(child, encoding="unicode") for child in root)
    return ResolvedBody(markup, images, events, root, records)


def normalize_body(
    html: str,
    base_url: str | None,
    rules: BodyRules | None = None,
    config: ImageConfig = DEFAULT_IMAGE_CONFIG,
) -> NormalizedBody:
    """The contract §5 body for ``html`` (a page's article body) at ``base_url``.

    Never raises on a ``str``: input the parser cannot make sense of gives an
    empty body and an ``events["parse_failed"]`` count; a body nested deeper
    than libxml2 parses gives an empty body and ``events["too_deep"]``.
    """
    events: Counter[str] = Counter()
    try:
        root, records = _prepare_tree(html or "", base_url, rules, config, events)
    except BodyTooDeep:
        events["too_deep"] += 1
        return NormalizedBody("", "", [], events)
    except (etree.ParserError, ValueError, RecursionError) as exc:
        events["parse_failed"] += 1
        events[f"error/{type(exc).__name__}"] += 1
        return NormalizedBody("", "", [], events)
    return _build(root, records, events)


def normalize_resolved(resolved: ResolvedBody) -> NormalizedBody:
    """:func:`normalize_body` of a body :func:`resolve_body` already parsed and resolved.

    Same output as ``normalize_body(resolved.html, …)`` without parsing,
    applying the rules and resolving the images a second time.
    """
    return _build(resolved.tree, resolved.records, Counter())


def _build(root: Any, records: dict[Any, ImageRecord], events: Counter[str]) -> NormalizedBody:
    if root is None:
        return NormalizedBody("", "", [], events)
    try:
        builder = _Builder(records)
        out = etree.Element("body")
        builder.flow(_items(root), out, "p", "always")
    except (etree.ParserError, ValueError, RecursionError) as exc:
        events["parse_failed"] += 1
        events[f"error/{type(exc).__name__}"] += 1
        return NormalizedBody("", "", [], events)
    serialized = _serialize_children(out)
    cleaned = _CLEANER.clean(serialized)
    if cleaned != serialized:
        # The rebuild let something through that the allow-list refuses, or
        # nh3's parser reads the markup differently: trust nh3's output and
        # derive the text from it, never from the tree it disagrees with.
        events["sanitizer_changed"] += 1
        return NormalizedBody(cleaned, body_text(cleaned), builder.images, events)
    return NormalizedBody(cleaned, tree_text(out), builder.images, events)
