"""Field coverage: the share of a run's stored articles that have each field (CONTRACT §3).

``coverage`` keys are the article fields that can be empty or missing —
``author``, ``published_at``, ``summary``, ``lead_image``, ``images`` and
``body_text`` (at least :data:`BODY_TEXT_MIN_CHARS` characters) — plus, for
portal spiders, ``selectors/<field>``: the share whose ``title``,
``published_at``, ``author`` or ``body_html`` the portal's declared selectors
found (the rest were filled by automatic extraction, see
:mod:`newsspider.extract.heal`).  A template change that the automatic
extractor heals keeps ``body_text`` full but empties ``selectors/body_html``:
the run is flagged while nothing is lost.

Pure; reads no settings, writes no stats (the extension does).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = [
    "BODY_TEXT_MIN_CHARS",
    "COVERAGE_KEYS",
    "FIELDS",
    "SELECTOR_FIELDS",
    "CoverageCounter",
    "present",
]

BODY_TEXT_MIN_CHARS = 200
# Article fields that can be empty or missing, in the order reports show them.
FIELDS = ("author", "published_at", "summary", "lead_image", "images", "body_text")
# Fields whose provenance the portal spiders record (CONTRACT §4 ``extraction``).
SELECTOR_FIELDS = ("title", "published_at", "author", "body_html")
COVERAGE_KEYS = FIELDS + tuple(f"selectors/{name}" for name in SELECTOR_FIELDS)


def present(doc: Mapping[str, Any]) -> Iterator[str]:
    """The coverage keys this stored article has (``selectors/…`` only with ``extraction``)."""
    if doc.get("author"):
        yield "author"
    if doc.get("published_at") is not None:
        yield "published_at"
    if doc.get("summary"):
        yield "summary"
    if doc.get("lead_image"):
        yield "lead_image"
    if doc.get("images"):
        yield "images"
    if len(doc.get("body_text") or "") >= BODY_TEXT_MIN_CHARS:
        yield "body_text"
    extraction = doc.get("extraction")
    if extraction:
        for name in SELECTOR_FIELDS:
            if extraction.get(name) == "selectors":
                yield f"selectors/{name}"


class CoverageCounter:
    """Counts stored articles and their fields; :meth:`shares` is the ``coverage`` document.

    ``selectors/<field>`` shares are over the articles that carry ``extraction``
    (a portal spider's), and only for the fields ``selector_fields`` names (a
    portal that declares no author selectors is not judged on them).
    """

    __slots__ = ("articles", "counts", "extracted", "selector_fields")

    def __init__(self, selector_fields: tuple[str, ...] = SELECTOR_FIELDS) -> None:
        self.articles = 0
        self.extracted = 0
        self.counts: Counter[str] = Counter()
        self.selector_fields = selector_fields

    def add(self, doc: Mapping[str, Any]) -> None:
        self.articles += 1
        if doc.get("extraction"):
            self.extracted += 1
        self.counts.update(present(doc))

    def shares(self) -> dict[str, float]:
        """``{key: share}``; empty when no article was stored (nothing to measure)."""
        if not self.articles:
            return {}
        out = {name: self.counts[name] / self.articles for name in FIELDS}
        if self.extracted:
            for name in self.selector_fields:
                key = f"selectors/{name}"
                out[key] = self.counts[key] / self.extracted
        return {key: round(value, 4) for key, value in out.items()}
