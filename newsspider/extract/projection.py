"""trafilatura's choice of text, projected onto the page's own markup.

trafilatura, run for text only (no links, no images: with them it keeps
captions and related links, see docs/extraction.md), says *which* text is the
article.  The page says how that text is marked up: links, lazy-load image
attributes, tables, bare text between blocks.  :func:`project` finds the
page's smallest element holding the kept text and takes out of it every run
of text trafilatura did not keep.

A *run* is the text of one block up to a block boundary (a child block or a
``<br>``): a paragraph, a list item, a line of a ``<br>``-separated block,
the bare text after a ``<div>``.  Runs are matched against trafilatura's text
with whitespace removed, each stretch of that text claimed once: long runs
first (a repeated text goes to the copy among matched neighbours), then short
runs only between their matched neighbours, so a "Comments" label cannot
match a word of the body.

The body is that element — with, when the page splits the article into
sibling sections between advert rows, the sections that follow it
(:func:`_continuations`) — minus what trafilatura did not keep.  An
unmatched run stays only when the page's structure says it is body: bare
text between two matched runs, a list item or a quote line among them, a
link whose text is a URL after one (a reference); images among them, and an
unlinked one right before or after them (a lead or closing image).  Of the
matched runs, a run made mostly of link text (a "Related: …" line), a
section whose text is a third links (a "latest news" box), a cluster of
links inside a paragraph (a hover card) and lines repeating the page's
title or URL go.

Pure: lxml trees in, an HTML string out.  Reads no settings, writes no stats.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from lxml import etree
from lxml import html as lxml_html

__all__ = ["Layout", "Selection", "layout", "project", "reads_like_article", "squash"]

BLOCK_TAGS: Final = frozenset({
    "address", "article", "aside", "blockquote", "caption", "center", "dd", "details", "dialog",
    "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
    "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "menu", "nav", "ol", "p", "pre",
    "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})
# The container is searched among these: a lone <p> or <ul> holding all the text is body
# content.  <form>: ASP.NET pages wrap the whole page in one.
WRAPPER_TAGS: Final = frozenset({
    "article", "center", "div", "font", "form", "main", "section", "span", "table", "tbody",
    "td", "tr",
})
HEADING_TAGS: Final = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
MEDIA_TAGS: Final = ("img", "picture", "video", "audio", "iframe", "svg")
NOT_CONTENT_TAGS: Final = ("script", "style", "noscript", "template")

# A child must hold this share of the matched text for the search to descend into it.
CONTAINER_COVERAGE = 0.9
# Runs this long are matched anywhere in the kept text; shorter ones only between neighbours.
LONG_RUN = 25
# A long run that is not found whole is matched by pieces of this size...
PIECE = 16
# ...and counts as matched when this share of its pieces is found.
PIECE_SHARE = 0.6
# A matched run of at least LINK_RUN_MIN characters with this share of link text is a link line.
LINK_RUN_SHARE = 0.8
LINK_RUN_MIN = 15
# A section of the container with this share of link text in its matched text is a teaser list.
LINK_BLOCK_SHARE = 0.35
LINK_BLOCK_MIN = 50
# An inline element with this many links and this share of link text inside a paragraph is a
# link cluster (a hover card, a "more from" box rendered inline).
CLUSTER_LINKS = 3
CLUSTER_SHARE = 0.9

# Whitespace and the invisible characters trafilatura strips from its text.
_SQUASH = re.compile(r"[\s\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]+")
_URL_TEXT = re.compile(r"(?:https?://|www\.)\S+$")
_HEADLINES = etree.XPath(
    "/html/head/title/text()"
    "|/html/head/meta[@property='og:title' or @name='twitter:title']/@content"
)
_DESCRIPTIONS = etree.XPath(
    "/html/head/meta[@property='og:description' or @name='description'"
    " or @name='twitter:description']/@content"
)
_TEXT, _TAIL, _ELEM = 0, 1, 2


def squash(text: str) -> str:
    """The text without whitespace (and invisible characters): how runs and kept text compare."""
    return _SQUASH.sub("", text)


@dataclass(frozen=True, slots=True)
class Selection:
    """trafilatura's kept text, squashed, with the headings it put first set aside."""

    text: str
    # Leading headings (title, standfirst, kicker): kept only when the page's own
    # body element holds them and they are not the page's title or description.
    lead: frozenset[str]

    @classmethod
    def of(cls, body: etree._Element) -> Selection:
        """From trafilatura's XML body (``<head>``, ``<p>``, ``<list>``…); ``body`` is modified."""
        lead = set()
        for element in list(body):
            if element.tag == "head":
                lead.add(squash("".join(element.itertext())))
                tail = element.tail
                _remove(element, keep_tail=True)
                if tail and tail.strip():
                    break
            elif "".join(element.itertext()).strip():
                break
        return cls(squash("".join(body.itertext())), frozenset(lead))


@dataclass(slots=True)
class _Run:
    block: lxml_html.HtmlElement
    # The run's pieces: the block's text, inline children, their tails.  None for a whole
    # block (one without blocks or <br> inside), listed only when needed.
    _items: list[tuple[int, lxml_html.HtmlElement]] | None
    line: bool  # bounded by a <br>: a line of a block, not a whole block
    text: str = ""
    span: tuple[int, int] | None = None  # where it matched in the kept text
    keep: bool = False
    _links: int = -1

    @property
    def whole(self) -> bool:
        return self._items is None

    @property
    def items(self) -> list[tuple[int, lxml_html.HtmlElement]]:
        if self._items is None:
            block = self.block
            items = [(_TEXT, block)] if _has_text(block.text) else []
            for child in block:
                if isinstance(child.tag, str):
                    items.append((_ELEM, child))
                if _has_text(child.tail):
                    items.append((_TAIL, child))
            return items
        return self._items

    @items.setter
    def items(self, value: list[tuple[int, lxml_html.HtmlElement]]) -> None:
        self._items = value

    @property
    def covered(self) -> bool:
        return self.span is not None

    def links(self) -> int:
        """Characters of link text in the run."""
        if self._links < 0:
            if self._items is None:
                links = self.block.iter("a")
            else:
                links = (a for kind, node in self._items if kind == _ELEM for a in node.iter("a"))
            self._links = sum(len(squash(a.text_content())) for a in links)
        return self._links

    def is_url_link(self) -> bool:
        return all(kind == _ELEM and node.tag == "a" for kind, node in self.items) and bool(
            _URL_TEXT.match(self.text)
        )

    def is_bare(self) -> bool:
        """Text directly in a block that also holds blocks (text between two ``<div>`` s)."""
        return all(kind != _ELEM for kind, _ in self.items) and any(
            isinstance(child.tag, str) and child.tag in BLOCK_TAGS for child in self.block
        )

    def linked(self) -> bool:
        """Whether the run holds or sits in a link (for an image run: a linked image)."""
        return any(
            kind == _ELEM and next(node.iter("a"), None) is not None for kind, node in self.items
        ) or next(self.block.iterancestors("a"), None) is not None

    def media(self) -> bool:
        return any(
            kind == _ELEM and next(node.iter(*MEDIA_TAGS), None) is not None
            for kind, node in self.items
        )


def _item_text(kind: int, node: lxml_html.HtmlElement) -> str:
    if kind == _TEXT:
        return node.text or ""
    if kind == _TAIL:
        return node.tail or ""
    return str(node.text_content())


def _has_text(value: str | None) -> bool:
    return bool(value) and not value.isspace()  # type: ignore[union-attr]


def _runs(
    root: lxml_html.HtmlElement,
) -> tuple[list[_Run], dict[lxml_html.HtmlElement, tuple[int, int]]]:
    """Every run of ``root`` in document order, and which runs each block's subtree holds.

    Iterative: pages nest thousands deep.  A block's runs are contiguous:
    ``runs[start:end]`` for its ``(start, end)``.
    """
    holds_block: set[lxml_html.HtmlElement] = set()
    for element in root.iter(*BLOCK_TAGS):
        parent = element.getparent()
        while parent is not None and parent not in holds_block:
            holds_block.add(parent)
            parent = parent.getparent()
    runs: list[_Run] = []
    spans: dict[lxml_html.HtmlElement, tuple[int, int]] = {}
    blocks = BLOCK_TAGS
    # A frame: [block, its children, the open run's items, whether a <br> opened it, first run].
    text = root.text
    stack: list[list] = [
        [root, iter(root), [(_TEXT, root)] if text and not text.isspace() else [], False, 0]
    ]
    while stack:
        frame = stack[-1]
        block, children, items, after_br, first = frame
        in_pre = block.tag == "pre"
        for child in children:
            tag = child.tag
            tail = child.tail
            if tag.__class__ is not str:  # a comment or processing instruction
                if tail and not tail.isspace():
                    items.append((_TAIL, child))
                continue
            is_br = tag == "br" and not in_pre
            nested = child in holds_block
            if not (is_br or nested or tag in blocks):
                items.append((_ELEM, child))
                if tail and not tail.isspace():
                    items.append((_TAIL, child))
                continue
            if items:
                runs.append(_Run(block, items, after_br or is_br))
                items = []
            after_br = is_br
            if nested or (
                not is_br and tag != "pre" and next(child.iterchildren("br"), None) is not None
            ):
                frame[2], frame[3] = items, after_br
                text = child.text
                stack.append(
                    [child, iter(child), [(_TEXT, child)] if text and not text.isspace() else [],
                     False, len(runs)]
                )
                break
            if not is_br:
                # A whole block: one run, its text in one C-level call.
                spans[child] = (len(runs), len(runs) + 1)
                runs.append(_Run(child, None, False, squash(child.text_content())))
            if tail and not tail.isspace():
                items.append((_TAIL, child))
        else:
            if items:
                runs.append(_Run(block, items, after_br))
            spans[block] = (first, len(runs))
            stack.pop()
            tail = block.tail
            if stack and tail and not tail.isspace():
                stack[-1][2].append((_TAIL, block))
    for run in runs:
        if run._items is not None:
            run.text = squash("".join(_item_text(kind, node) for kind, node in run._items))
    return runs, spans


class _Claims:
    """Which stretches of the kept text a run has matched already."""

    __slots__ = ("claimed", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.claimed = bytearray(len(text))

    def find(self, piece: str, lo: int = 0, hi: int | None = None) -> int:
        hi = len(self.text) if hi is None else hi
        pos = self.text.find(piece, lo, hi)
        while pos >= 0 and 1 in self.claimed[pos : pos + len(piece)]:
            pos = self.text.find(piece, pos + 1, hi)
        return pos

    def claim(self, pos: int, size: int) -> None:
        self.claimed[pos : pos + size] = b"\x01" * size


def _match_long(run: _Run, claims: _Claims) -> None:
    text = run.text
    pos = claims.find(text)
    if pos >= 0:
        claims.claim(pos, len(text))
        run.span = (pos, pos + len(text))
        return
    if len(text) < 2 * PIECE:
        return
    # trafilatura changed the text a little (dropped a footnote mark, split a line).
    pieces = [text[i : i + PIECE] for i in range(0, len(text) - 4, PIECE)]
    found = [(p, len(piece)) for piece in pieces if (p := claims.find(piece)) >= 0]
    if len(found) >= PIECE_SHARE * len(pieces):
        for p, size in found:
            claims.claim(p, size)
        run.span = (min(p for p, _ in found), max(p + size for p, size in found))


def _align(runs: list[_Run], kept: str) -> None:
    """Match runs against the kept text (sets ``run.span``)."""
    claims = _Claims(kept)
    texty = [run for run in runs if run.text]
    counts = Counter(run.text for run in texty)
    longs = [run for run in texty if len(run.text) >= LONG_RUN]
    for run in sorted((r for r in longs if counts[r.text] == 1), key=lambda r: -len(r.text)):
        _match_long(run, claims)
    # A text the page repeats (a teaser, a pull quote): the copy among matched neighbours first.
    index = {id(run): i for i, run in enumerate(texty)}

    def neighbours(run: _Run) -> int:
        i = index[id(run)]
        return sum(
            1 for j in (i - 2, i - 1, i + 1, i + 2) if 0 <= j < len(texty) and texty[j].covered
        )

    repeated = [r for r in longs if counts[r.text] > 1]
    for run in sorted(repeated, key=lambda r: (-len(r.text), -neighbours(r))):
        _match_long(run, claims)
    # Short runs: only between the matches of their neighbours.
    starts = [len(kept)] * len(texty)
    nxt = len(kept)
    for i in range(len(texty) - 1, -1, -1):
        starts[i] = nxt
        span = texty[i].span
        if span is not None:
            nxt = span[0]
    end = 0
    for i, run in enumerate(texty):
        if run.span is not None:
            end = run.span[1]
            continue
        if len(run.text) >= LONG_RUN or end > starts[i]:
            continue
        pos = claims.find(run.text, end, starts[i])
        if pos >= 0:
            claims.claim(pos, len(run.text))
            run.span = (pos, pos + len(run.text))
            end = run.span[1]


def _headlines(root: lxml_html.HtmlElement) -> list[str]:
    """The page's title as its ``<title>`` and ``og:title`` give it."""
    return [t for t in (squash(str(t)) for t in _HEADLINES(root)) if len(t) >= 4]


def _descriptions(root: lxml_html.HtmlElement) -> list[str]:
    return [t for t in (squash(str(d)) for d in _DESCRIPTIONS(root)) if len(t) >= 4]


def _title_like(text: str, titles: list[str]) -> bool:
    return any(text in t or (len(t) >= 10 and t in text) for t in titles)


@dataclass(slots=True)
class Layout:
    """The page's runs matched against trafilatura's text, and the element holding them."""

    container: lxml_html.HtmlElement
    runs: list[_Run]  # the container's runs, in document order
    matched: list[_Run] = field(default_factory=list)
    headlines: list[str] = field(default_factory=list)  # the page's title (see _headlines)
    descriptions: list[str] = field(default_factory=list)  # its description meta tags
    url: str = ""  # the page's URL, squashed
    # The container, then the rest of a body split into sections (see _continuations).
    sections: list[lxml_html.HtmlElement] = field(default_factory=list)

    @property
    def link_share(self) -> float:
        """Share of link text in the matched runs (a navigation dump is mostly links)."""
        total = sum(len(r.text) for r in self.matched)
        return sum(r.links() for r in self.matched) / total if total else 0.0

    def line_sizes(self) -> list[int]:
        """Characters per matched line, without headings, link text and the page's title.

        A table row is one line, not one line per cell.
        """
        lines: Counter[int] = Counter()
        for run in self.matched:
            if run.block.tag in HEADING_TAGS or run.text in self.headlines:
                continue
            row = next(run.block.iterancestors("tr"), None) if run.block.tag in ("td", "th") else None
            lines[id(row) if row is not None else id(run)] += len(run.text) - run.links()
        return list(lines.values())


def reads_like_article(sizes: list[int], min_chars: int, min_line: int, long_line: int) -> bool:
    """Whether lines of these sizes read like an article rather than page furniture.

    At least ``min_chars`` in all, one line of ``min_line``, and most text in
    lines of ``long_line`` (bylines, tag lists, disclaimers are short lines).
    """
    total = sum(sizes)
    if total < min_chars or max(sizes, default=0) < min_line:
        return False
    return sum(s for s in sizes if s >= long_line) >= total * 0.5


def layout(
    tree: lxml_html.HtmlElement, selection: Selection, url: str | None = None
) -> Layout | None:
    """Match the page against the selection; ``None`` when no text of the page matched.

    Does not change the page (beyond dropping scripts and styles), so a
    second selection can be laid out on the same tree.
    """
    etree.strip_elements(tree, *NOT_CONTENT_TAGS, with_tail=False)
    bodies = tree.xpath("//body")
    if not bodies or not selection.text:
        return None
    body = bodies[0]
    runs, spans = _runs(body)
    _align(runs, selection.text)
    matched = [0]  # matched[i]: characters matched in runs[:i]
    for run in runs:
        matched.append(matched[-1] + (len(run.text) if run.covered else 0))
    total = matched[-1]
    if not total:
        return None

    def weight(element: lxml_html.HtmlElement) -> int:
        start, end = spans.get(element, (0, 0))
        return matched[end] - matched[start]

    node = body
    while True:
        child = next(
            (c for c in node if c.tag in WRAPPER_TAGS and weight(c) >= CONTAINER_COVERAGE * total),
            None,
        )
        if child is None:
            break
        node = child
    sections = [node, *_continuations(node, body)]
    section_runs: list[_Run] = []
    for section in sections:
        start, end = spans.get(section, (0, 0))
        if section is not node:
            for run in runs[start:end]:
                if run.text and not run.covered and not _in_caption(run.block, section):
                    run.span = (-2, -2)  # the rest of a body split into sections
        section_runs += runs[start:end]
    runs = section_runs
    headlines, descriptions = _headlines(tree), _descriptions(tree)
    if selection.lead:
        titles = headlines + descriptions + [squash(h1.text_content()) for h1 in tree.iter("h1")]
        for run in runs:
            if not run.covered and run.text in selection.lead and not _title_like(run.text, titles):
                run.span = (-1, -1)  # a section heading the body element holds
    return Layout(
        node, runs, [run for run in runs if run.covered], headlines, descriptions,
        squash(url or ""), sections,
    )


# Between two sections of one split body: ads, a share bar (less text than this, no headline).
SECTION_GAP_CHARS = 200


def _same_kind(a: lxml_html.HtmlElement, b: lxml_html.HtmlElement) -> bool:
    return a.tag == b.tag and bool(a.get("class")) and a.get("class") == b.get("class")


def _continuations(node: lxml_html.HtmlElement, body: lxml_html.HtmlElement) -> list:
    """The sections a body is split into after ``node`` (advert rows between them).

    A following sibling of the container, or of one of its two nearest
    ancestors, with the same tag and class, holding an element like the
    container and no ``<h1>`` (an appended next article has its own), with
    only a little text and no headline between: the same article going on.
    """
    element = node
    for _ in range(3):
        found: list[lxml_html.HtmlElement] = []
        sibling = element.getnext()
        while sibling is not None:
            if _same_kind(sibling, element):
                target = sibling if element is node else next(
                    (d for d in sibling.iter(node.tag) if _same_kind(d, node)), None
                )
                if target is None or next(sibling.iter("h1"), None) is not None:
                    break
                found.append(target)
            elif (
                len(squash(sibling.text_content())) > SECTION_GAP_CHARS
                or next(sibling.iter("h1", "h2"), None) is not None
            ):
                break
            sibling = sibling.getnext()
        if found:
            return found
        parent = element.getparent()
        if parent is None or parent is body:
            break
        element = parent
    return []


def _in_caption(element: lxml_html.HtmlElement | None, root: lxml_html.HtmlElement) -> bool:
    while element is not None and element is not root:
        if element.tag in ("figcaption", "caption", "figure"):
            return True
        element = element.getparent()
    return False


def project(found: Layout) -> str:
    """The container's HTML with what trafilatura did not keep taken out (changes the page)."""
    runs = found.runs
    texty = [i for i, run in enumerate(runs) if run.text]
    covered = [i for i in texty if runs[i].covered]
    if not covered:
        return ""
    first, last = covered[0], covered[-1]
    before = {i: False for i in texty}
    after = {i: False for i in texty}
    seen = False
    for i in texty:
        before[i], seen = seen, runs[i].covered
    seen = False
    for i in reversed(texty):
        after[i], seen = seen, runs[i].covered
    # Images between the matched runs, and unlinked ones right before the first or after the
    # last with no text in between (a lead image, a closing one; a linked one there is a
    # banner or a topic icon).
    lead_media, tail_media = first, last
    while lead_media > 0 and not runs[lead_media - 1].text:
        lead_media -= 1
    while tail_media + 1 < len(runs) and not runs[tail_media + 1].text:
        tail_media += 1
    link_blocks = _link_blocks(found)
    roots = set(found.sections or [found.container])
    for i, run in enumerate(runs):
        if run.covered:
            _strip_clusters(run)
            run.keep = not (
                _link_line(run) or _inside(run.block, link_blocks, roots)
                # The headline or the page's own address printed in the body element.
                or run.text in found.headlines or (found.url and run.text == found.url)
            )
        elif run.text:
            run.keep = (
                (before[i] and run.is_url_link())
                or (before[i] and after[i] and (run.is_bare() or run.block.tag == "li"))
                or (first < i < last and _in_quote(run.block, roots))
            )
        else:
            run.keep = run.media() and (
                first < i < last or (lead_media <= i <= tail_media and not run.linked())
            )
    for run in runs:
        if not run.keep:
            _drop(run)
    parts: list[str] = []
    for section in found.sections or [found.container]:
        _prune_empty(section)
        parts.append(section.text or "")
        parts += [lxml_html.tostring(c, encoding="unicode") for c in section]
    return "".join(parts).strip()


# Kept even when empty: images, line breaks, table structure.
_KEEP_EMPTY: Final = frozenset({
    "img", "picture", "br", "hr", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "col",
    "colgroup", "caption",
})


def _prune_empty(container: lxml_html.HtmlElement) -> None:
    """Drop the block shells the dropped runs left (less for the normalizer to parse and walk).

    A shell followed by text stays: it separates that text from the text before it.
    """
    full: set[lxml_html.HtmlElement] = set()
    for element in reversed(list(container.iter())):
        if not isinstance(element.tag, str):
            continue
        if (
            element.tag in _KEEP_EMPTY or _has_text(element.text)
            or any(child in full or _has_text(child.tail) for child in element)
        ):
            full.add(element)
        elif element is not container and element.tag in BLOCK_TAGS and not _has_text(element.tail):
            _remove(element, keep_tail=False)


_SECTION_TAGS: Final = frozenset({
    "article", "aside", "div", "footer", "form", "header", "nav", "ol", "section", "table", "ul",
})


def _link_blocks(found: Layout) -> set[lxml_html.HtmlElement]:
    """Sections inside the container whose text is a third links: teaser lists.

    "Latest news" boxes and "more stories" lists: linked headlines with a
    line of summary each, of which trafilatura kept the summaries or both.
    A section counts when it holds two matched runs and LINK_BLOCK_MIN
    matched characters, under half of all, and link text is LINK_BLOCK_SHARE
    of its text.
    """
    roots = set(found.sections or [found.container])
    total = sum(len(r.text) for r in found.matched)
    # Per section: [characters, link characters, matched runs, matched characters].
    stats: dict[lxml_html.HtmlElement, list[int]] = {}
    for run in found.runs:
        if not run.text:
            continue
        links = run.links()
        element = run.block
        while element is not None and element not in roots:
            if element.tag in _SECTION_TAGS:
                counts = stats.setdefault(element, [0, 0, 0, 0])
                counts[0] += len(run.text)
                counts[1] += links
                if run.covered:
                    counts[2] += 1
                    counts[3] += len(run.text)
            element = element.getparent()
    return {
        element for element, (chars, links, count, matched) in stats.items()
        if count >= 2 and LINK_BLOCK_MIN <= matched < 0.5 * total
        and links >= LINK_BLOCK_SHARE * chars
    }


def _inside(
    element: lxml_html.HtmlElement | None,
    blocks: set[lxml_html.HtmlElement],
    roots: set[lxml_html.HtmlElement],
) -> bool:
    if not blocks:
        return False
    while element is not None and element not in roots:
        if element in blocks:
            return True
        element = element.getparent()
    return False


def _link_line(run: _Run) -> bool:
    """A whole block of (almost) only link text: a related-article or call-to-action line.

    Headings (a list of linked product names), list items (a list of links is a
    list), lines of a ``<br>`` block and URL references are left alone.
    """
    if (
        len(run.text) < LINK_RUN_MIN or run.line or run.block.tag == "li"
        or run.block.tag in HEADING_TAGS
    ):
        return False
    if any(
        _URL_TEXT.match(squash(a.text_content()))
        for kind, node in run.items if kind == _ELEM for a in node.iter("a")
    ):
        return False
    return run.links() >= LINK_RUN_SHARE * len(run.text)


def _strip_clusters(run: _Run) -> None:
    """Take link clusters (see CLUSTER_LINKS) out of a kept run."""
    removed = False
    for kind, node in run.items:
        if kind != _ELEM:
            continue
        todo = [node]
        while todo:
            element = todo.pop()
            if element.tag == "a" or not isinstance(element.tag, str):
                continue
            links = element.findall(".//a")
            if len(links) < CLUSTER_LINKS:
                continue
            text = len(squash(element.text_content()))
            if text and sum(len(squash(a.text_content())) for a in links) >= CLUSTER_SHARE * text:
                _remove(element, keep_tail=True)
                removed = True
            else:
                todo.extend(reversed(element))
    if removed:
        run.items = [(k, n) for k, n in run.items if k != _ELEM or n.getparent() is not None]
        run.text = squash("".join(_item_text(kind, node) for kind, node in run.items))
        run._links = -1


def _in_quote(element: lxml_html.HtmlElement | None, roots: set[lxml_html.HtmlElement]) -> bool:
    while element is not None and element not in roots:
        if element.tag == "blockquote":
            return True
        element = element.getparent()
    return False


def _drop(run: _Run) -> None:
    if run.whole:
        _remove(run.block, keep_tail=True)  # its tail is the enclosing block's text
        return
    for kind, node in run.items:
        if kind == _TEXT:
            node.text = None
        elif kind == _TAIL:
            node.tail = None
        elif node.getparent() is not None:
            node.getparent().remove(node)  # its tail, if any text, is an item of this run too


def _remove(element: etree._Element, keep_tail: bool) -> None:
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail if keep_tail else None
    if tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
        element.tail = None
    parent.remove(element)
