"""Per-portal body clean-up rules: what to unwrap and what to drop.

A portal definition builds one :class:`BodyRules`; :data:`GENERIC_BODY_RULES`
always applies on top of it.  Selectors are CSS (cssselect), compiled once
when the rules are built so a typo fails at import time with the selector in
the message, not silently at crawl time.

Reads no settings and writes no stats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cssselect import HTMLTranslator, SelectorError
from lxml.etree import XPath, XPathSyntaxError

__all__ = ["GENERIC_BODY_RULES", "BodyRules", "CompiledSelectors", "compile_selectors"]


_TRANSLATOR = HTMLTranslator()
_PLAIN_TAG = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")


@lru_cache(maxsize=512)
def _translate(selector: str) -> str:
    # The HTML translator matches element names case-insensitively, like a
    # browser (lxml.html lowercases them anyway).
    return _TRANSLATOR.css_to_xpath(selector)


@dataclass(frozen=True, slots=True)
class CompiledSelectors:
    """Selectors ready to run: plain tag names go to ``iter()`` (one C-level
    walk), the rest into one XPath union (one evaluation, document order)."""

    tags: tuple[str, ...]
    xpath: XPath | None

    def select(self, root: Any) -> list[Any]:
        found = list(root.iter(*self.tags)) if self.tags else []
        if self.xpath is not None:
            found.extend(self.xpath(root))
        return found


def compile_selectors(selectors: tuple[str, ...], what: str) -> CompiledSelectors:
    """Compile CSS selectors, raising ``ValueError`` naming the first bad one."""
    tags: list[str] = []
    paths: list[str] = []
    for selector in selectors:
        if not isinstance(selector, str) or not selector.strip():
            raise ValueError(f"BodyRules.{what}: empty or non-string selector {selector!r}")
        if _PLAIN_TAG.match(selector.strip()):
            tags.append(selector.strip().lower())
            continue
        try:
            paths.append(_translate(selector))
        except SelectorError as exc:
            raise ValueError(f"BodyRules.{what}: invalid CSS selector {selector!r}: {exc}") from exc
    try:
        xpath = XPath(" | ".join(paths)) if paths else None
    except XPathSyntaxError as exc:  # cssselect produced something libxml2 refuses
        raise ValueError(f"BodyRules.{what}: cannot compile selectors {paths!r}: {exc}") from exc
    return CompiledSelectors(tuple(dict.fromkeys(tags)), xpath)


@dataclass(frozen=True, slots=True)
class BodyRules:
    """CSS selectors applied to an article body before sanitizing.

    ``unwrap``: matching elements are replaced by their text content (SEO and
    affiliate links: ``<span class="hrefStyle"><a …>医疗</a></span>`` → ``医疗``).
    ``drop``: matching elements are removed with everything inside them
    (donation footers, ad blocks, "related articles" boxes).
    """

    unwrap: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    _unwrap_selectors: CompiledSelectors = field(init=False, repr=False, compare=False)
    _drop_selectors: CompiledSelectors = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Accept lists from portal modules but store tuples: the rules are
        # hashable, comparable and safe to share between spiders.
        unwrap, drop = tuple(self.unwrap), tuple(self.drop)
        object.__setattr__(self, "unwrap", unwrap)
        object.__setattr__(self, "drop", drop)
        object.__setattr__(self, "_unwrap_selectors", compile_selectors(unwrap, "unwrap"))
        object.__setattr__(self, "_drop_selectors", compile_selectors(drop, "drop"))

    def select_unwrap(self, root: Any) -> list[Any]:
        """Elements under ``root`` to replace by their text."""
        return self._unwrap_selectors.select(root)

    def select_drop(self, root: Any) -> list[Any]:
        """Elements under ``root`` to remove with their content."""
        return self._drop_selectors.select(root)

    def __add__(self, other: BodyRules) -> BodyRules:
        """Both rule sets, this one's selectors first (duplicates removed)."""
        return BodyRules(
            unwrap=tuple(dict.fromkeys(self.unwrap + other.unwrap)),
            drop=tuple(dict.fromkeys(self.drop + other.drop)),
        )


# Elements that are never article text on any portal.  The sanitizer removes
# the executable ones (script, style, iframe…) with their content anyway; they
# are dropped here too so that text hidden inside them never reaches
# body_text, and so that images inside ad/form widgets are not listed.
GENERIC_BODY_RULES = BodyRules(
    drop=(
        "script", "style", "noscript", "template", "iframe", "frame", "frameset",
        "object", "embed", "applet", "svg", "math", "canvas", "video", "audio",
        "source", "track", "map", "form", "button", "input", "select", "textarea",
        "label", "link", "meta", "title", "head", "dialog",
        # Cookie/share widgets some CMSes inline into the article body.
        "[aria-hidden=true]", "[hidden]",
    ),
)
