"""One page → the article fields the pipelines would store (CONTRACT §8).

:func:`extract_page` is extraction and the body stage in one pure call: the
fields that come from the page, with the body made by the body stage's own
function, :func:`newsspider.pipelines.body.process_body` — what
:class:`~newsspider.pipelines.body.BodyPipeline` stores (``body_html``,
``body_text``, ``images``, ``lead_image``).  ``portal=None`` is automatic extraction, as the
``feed`` spider does it; a portal name runs that portal's declared selectors
and, field by field, the automatic extractor where they find nothing
(``extraction`` says which).  ``newsspider extract`` prints it as JSON.

The image stage's extra proxy and placeholder patterns are settings
(``NEWSSPIDER_IMAGE_PROXIES``/``…_PLACEHOLDERS``); this function, which reads
no settings, uses the built-in ones.  Writes no stats.
"""

from __future__ import annotations

from typing import Any

from newsspider.extract.auto import extract_article
from newsspider.extract.heal import parse_with_fallback
from newsspider.normalize.rules import BodyRules
from newsspider.pipelines.body import BodyRejected, process_body
from newsspider.portals import get_portal

__all__ = ["FIELDS", "PageFields", "extract_page"]

# The fields of the article document (CONTRACT §4) that come from the page.
FIELDS = (
    "title", "author", "published_at", "published_raw", "body_html", "body_text",
    "lead_image", "images", "language", "extraction",
)
# What the feed spider stores when neither the feed nor the page names a language.
DEFAULT_LANGUAGE = "zh"

PageFields = dict[str, Any]


def _text(value: str | None) -> str | None:
    """Whitespace collapsed, as the validator stores titles and authors."""
    if value is None:
        return None
    return " ".join(value.split()) or None


def _body(raw_html: str | None, url: str, rules: BodyRules | None) -> dict[str, Any]:
    """The body stage (images resolved, normalized), as BodyPipeline stores it."""
    try:
        body = process_body(raw_html or "", url, rules)
    except BodyRejected as exc:
        raise ValueError(f"{url}: {exc}") from exc
    images = [dict(image) for image in body.images]
    return {
        "body_html": body.html,
        "body_text": body.text,
        "images": images,
        "lead_image": body.lead_image,
    }


def extract_page(html: str, url: str, portal: str | None = None) -> PageFields:
    """The article fields of one page (see the module docstring); ``portal``: a portal name.

    Raises ``KeyError`` for an unknown portal and ``ValueError`` when the
    normalizer fails on the body (the pipelines reject such an article).
    """
    if portal is None:
        return _automatic(html, url)
    return _declared(html, url, portal)


def _automatic(html: str, url: str) -> PageFields:
    page = extract_article(html, url)
    fields: PageFields = {
        "title": _text(page.title),
        "author": _text(page.author),
        "published_at": page.published_at,
        "published_raw": (page.published_raw or "").strip(),
        "language": page.language or DEFAULT_LANGUAGE,
        "extraction": dict.fromkeys(("title", "published_at", "author", "body_html"), "auto"),
    }
    fields.update(_body(page.body_html, url, None))
    return {name: fields[name] for name in FIELDS}


def _declared(html: str, url: str, name: str) -> PageFields:
    """The portal's selectors, and the automatic extractor for each field they miss.

    :func:`newsspider.extract.heal.parse_with_fallback`, the merge the portal
    spiders run: ``extraction`` names the fields found, and how.
    """
    portal = get_portal(name)
    page = parse_with_fallback(html, url, portal)
    fields: PageFields = {
        "title": _text(page.title),
        "author": _text(page.author),
        "published_at": page.published_at,
        "published_raw": (page.published_raw or "").strip(),
        "language": portal.language,
        "extraction": dict(page.extraction),
    }
    # The pipelines apply the portal's body rules to whichever body the spider found.
    fields.update(_body(page.body_html, url, portal.body_rules))
    return {name: fields[name] for name in FIELDS}
