"""Deep HTML: libxml2's nesting limit, noticed instead of silently cutting a page.

libxml2 stops building the tree at 256 levels of nesting — 2048 with
``huge_tree`` — and, parsing with ``recover=True``, keeps what it had: the
rest of the page is gone without an exception.  Every parse whose tree
becomes stored data therefore uses ``huge_tree`` and asks :func:`cut_short`
afterwards; the caller rejects the page or body with :data:`TOO_DEEP`'s
reason rather than store it cut.  Trees that parse whole but are nested
deeper than the normalizer's walk goes are flattened by the normalizer
(:data:`MAX_NESTING`, see :mod:`newsspider.normalize.html`).

Reads no settings, writes no stats.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from lxml import html as lxml_html
from parsel import Selector

__all__ = [
    "DEFAULT_DEPTH",
    "HUGE_DEPTH",
    "MAX_NESTING",
    "TOO_DEEP",
    "BodyTooDeep",
    "cut_at_default_depth",
    "cut_short",
    "page_selector",
]

#: libxml2's nesting limit with ``huge_tree`` (``XML_PARSE_HUGE``), and without.
HUGE_DEPTH = 2048
DEFAULT_DEPTH = 256
#: Elements below a body deeper than this are unwrapped by the normalizer, whose
#: walk recurses per level (Python's default limit is 1,000 frames).
MAX_NESTING = 100
#: The reject reason of a page or body libxml2 cut at its depth limit.
TOO_DEEP = (
    f"nested deeper than {HUGE_DEPTH} elements (libxml2's limit, with huge_tree): "
    "parsed, it would be cut there, so it is rejected rather than stored incomplete"
)

_RESOURCE_LIMIT = etree.ErrorTypes.ERR_RESOURCE_LIMIT
# libxml2's defaults, as lxml.html.document_fromstring and trafilatura parse.
_DEFAULT_PARSER = lxml_html.HTMLParser(recover=True, encoding="utf-8")


class BodyTooDeep(ValueError):
    """The body is nested deeper than libxml2 parses; the message is :data:`TOO_DEEP`."""

    def __init__(self) -> None:
        super().__init__(TOO_DEEP)


def cut_short(parser: Any) -> bool:
    """Whether the last parse with ``parser`` stopped at a libxml2 resource limit.

    That error is fatal: it is the last one logged (the log keeps the first
    hundred and the last).
    """
    log = parser.error_log
    last = log.last_error
    return last is not None and last.type == _RESOURCE_LIMIT


def page_selector(html: str, url: str | None = None) -> tuple[Selector, bool]:
    """A parsel ``Selector`` of a whole page and whether libxml2 cut it short.

    Built as parsel builds its own (``huge_tree``, ``recover``, NULs removed),
    with the parser kept so that the cut can be seen.
    """
    body = html.strip().replace("\x00", "").encode("utf-8") or b"<html/>"
    parser = lxml_html.HTMLParser(recover=True, encoding="utf-8", huge_tree=True)
    root = etree.fromstring(body, parser=parser, base_url=url)
    cut = cut_short(parser)
    if root is None:
        root = etree.fromstring(b"<html/>", parser=parser, base_url=url)
    return Selector(root=root, type="html", base_url=url), cut


def cut_at_default_depth(html: str) -> bool:
    """Whether a parser without ``huge_tree`` (libxml2's defaults: lxml's
    ``document_fromstring``, trafilatura) would cut ``html`` short."""
    body = html.strip().replace("\x00", "").encode("utf-8")
    if not body:
        return False
    try:
        etree.fromstring(body, parser=_DEFAULT_PARSER)
    except etree.XMLSyntaxError:
        return False  # nothing parsed at all: not a depth problem
    return cut_short(_DEFAULT_PARSER)
