"""Decoding pages whose charset is declared wrongly, or not at all.

Chinese portals serve GBK declared as ``gb2312`` (decoded as its superset
gb18030, as browsers do), and sometimes no declaration at all; a UTF-8 guess
on GBK bytes would store mojibake.  Order: the declared charset when it
decodes cleanly, else the portal's encoding, else UTF-8, else the fewest
replacement characters.
"""

from __future__ import annotations

import codecs

from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

# Browsers decode these labels with the superset; so do we.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030"}


def _norm(encoding: str | None) -> str | None:
    if not encoding:
        return None
    resolved = resolve_encoding(encoding) or encoding
    try:
        name = codecs.lookup(resolved).name
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def declared_encoding(body: bytes, content_type: str | None) -> str | None:
    """The charset the page declares (BOM, then HTTP header, then ``<meta>``)."""
    bom, _ = read_bom(body)
    if bom:
        return _norm(bom)
    return _norm(http_content_type_encoding(content_type or "")) or _norm(
        html_body_declared_encoding(body[:4096])
    )


def decode_html(
    body: bytes, content_type: str | None = None, fallback: str | None = None
) -> tuple[str, str]:
    """Decode a page; returns ``(text, encoding used)``. Never raises on bad bytes."""
    candidates: list[str] = []
    for enc in (declared_encoding(body, content_type), _norm(fallback), "utf-8"):
        if enc and enc not in candidates:
            candidates.append(enc)
    for enc in candidates:
        try:
            text = body.decode(enc)
        except UnicodeDecodeError:
            continue
        return text.lstrip("\ufeff"), enc
    # Nothing decodes cleanly: keep the candidate that loses the least.
    best = min(candidates, key=lambda e: body.decode(e, errors="replace").count("\ufffd"))
    return body.decode(best, errors="replace").lstrip("\ufeff"), best
