"""Plain text, content hash and SimHash of a normalized body.

``body_text`` is derived from the normalized HTML only, so the same paragraphs
always give the same text (and the same ``content_hash``) however the
article was split over pages.  ``simhash64`` is the near-duplicate
fingerprint kept as a signed int64 so it fits a BSON long.

Reads no settings and writes no stats.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from lxml import etree

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "BLOCK_TAGS",
    "body_text",
    "content_hash",
    "hamming",
    "simhash64",
    "simhash_bands",
    "tree_text",
]

# Elements that start a new line in body_text.  Containers (ul, table…) are
# listed too so their first child never glues onto the text before them.
BLOCK_TAGS = frozenset(
    {
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li", "table",
        "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "figure", "figcaption", "pre",
        "div", "section", "article", "center",
    }
)
_SPACES = re.compile(r"[\s\u3000\xa0]+")
# Invisible characters that vary between copies of the same article.
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_NEWLINE = "\n"
_PARSER = etree.HTMLParser(
    remove_comments=True, remove_pis=True, no_network=True, recover=True, default_doctype=False,
    encoding="utf-8", huge_tree=True,
)


def tree_text(root: Any) -> str:
    """Text of an lxml body tree: one line per block or ``<br>``, collapsed."""
    parts: list[str] = [root.text or ""]
    _walk(root, parts)
    lines = []
    for line in _INVISIBLE.sub("", "".join(parts)).split(_NEWLINE):
        line = _SPACES.sub(" ", line).strip()
        if line:
            lines.append(line)
    return _NEWLINE.join(lines)


def _walk(el: Any, parts: list[str]) -> None:
    for child in el:
        tag = child.tag
        if not isinstance(tag, str):
            # Comments never reach the normalized HTML; skip defensively.
            if child.tail:
                parts.append(child.tail)
            continue
        if tag == "br":
            parts.append(_NEWLINE)
        elif tag == "pre":
            parts.append(_NEWLINE)
            parts.append("".join(child.itertext()))
            parts.append(_NEWLINE)
        elif tag in BLOCK_TAGS:
            parts.append(_NEWLINE)
            if child.text:
                parts.append(child.text)
            _walk(child, parts)
            parts.append(_NEWLINE)
        else:
            if child.text:
                parts.append(child.text)
            _walk(child, parts)
        if child.tail:
            parts.append(child.tail)


def body_text(html: str) -> str:
    """The plain text of a normalized body: blocks separated by ``\\n``."""
    if not html or not html.strip():
        return ""
    try:
        doc = etree.fromstring(
            ("<html><body>" + html + "</body></html>").encode("utf-8", "replace"), _PARSER
        )
    except (etree.ParserError, ValueError):
        return ""
    body = doc.find("body") if doc is not None else None
    if body is None:
        return ""
    return tree_text(body)


def content_hash(text: str) -> str:
    """Hex SHA-256 of the UTF-8 body text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_SHINGLE = 3


@lru_cache(maxsize=1)
def _numpy() -> Any:
    """numpy, imported at the first SimHash: a command that fingerprints no body
    (``scrapy list``, the dashboard) never loads it (a tenth of a second of its start-up)."""
    import numpy

    return numpy


# splitmix64's finalizer (Steele, Lea & Flood 2014): a fixed, well-mixed 64-bit
# bijection, computed in numpy so a 5 KB article takes ~0.1 ms instead of ~2 ms
# for one BLAKE2b call per shingle.
_GOLDEN, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _splitmix64(keys: np.ndarray) -> np.ndarray:
    np = _numpy()
    u64 = np.uint64
    with np.errstate(over="ignore"):
        z = keys + u64(_GOLDEN)
        z = (z ^ (z >> u64(30))) * u64(_MIX1)
        z = (z ^ (z >> u64(27))) * u64(_MIX2)
        return z ^ (z >> u64(31))  # type: ignore[no-any-return]


def simhash64(text: str) -> int:
    """64-bit SimHash of ``text`` as a signed int64.

    Features are the distinct character 3-grams of the text with all
    whitespace removed (robust for Chinese, indifferent to re-wrapping).  A
    3-gram's code points ``(a, b, c)`` pack losslessly into ``a<<42 | b<<21 | c``
    and the feature hash is splitmix64 of that key: pure integer arithmetic,
    so the value is the same on every machine and Python version.  A bit of
    the result is set when more than half of the features have it set.
    Empty text → 0.  (Stored values depend on this exact definition:
    tests/test_normalize_text.py pins it against a plain reference.)
    """
    compact = _SPACES.sub("", _INVISIBLE.sub("", text))
    if not compact:
        return 0
    np = _numpy()
    u64 = np.uint64
    points = np.frombuffer(compact.encode("utf-32-le"), dtype="<u4").astype(u64)
    if len(points) < _SHINGLE:
        points = np.concatenate([points, np.zeros(_SHINGLE - len(points), dtype=u64)])
    keys = np.sort((points[:-2] << u64(42)) | (points[1:-1] << u64(21)) | points[2:])
    # Distinct keys: sorted, then the first of each run (np.unique hashes; 6x slower here).
    distinct = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    hashes = _splitmix64(distinct).astype("<u8")
    bits = np.unpackbits(hashes.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
    # Per-bit counts as a float64 dot product: exact below 2**53 features, 3x
    # faster than an integer sum down the columns.
    counts = np.ones(len(bits)) @ bits.astype(np.float64)
    votes = counts * 2 > len(hashes)
    value = int.from_bytes(np.packbits(votes, bitorder="little").tobytes(), "little")
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit SimHashes (signed or not)."""
    return ((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count()


def simhash_bands(h: int, bands: int = 4) -> list[str]:
    """Index keys for near-duplicate lookup: ``["0:1a2b", "1:…", …]``.

    The 64 bits are cut into ``bands`` equal bands (hex, zero-padded); two
    hashes within Hamming distance ``bands - 1`` share at least one band
    (pigeonhole), so a lookup by band finds every candidate.
    """
    if bands <= 0 or 64 % bands:
        raise ValueError(f"bands must divide 64, got {bands}")
    width = 64 // bands
    mask = (1 << width) - 1
    unsigned = h & 0xFFFFFFFFFFFFFFFF
    digits = (width + 3) // 4
    return [f"{i}:{(unsigned >> (i * width)) & mask:0{digits}x}" for i in range(bands)]
