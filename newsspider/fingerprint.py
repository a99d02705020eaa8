"""Request fingerprints on canonical URLs, so tracking parameters don't defeat the dupefilter.

An article listed twice, once as ``…/ART-1.html?utm_source=rss#top``, is
fetched once.  Page suffixes are *not* folded here: page 2 of an article is a
different request from page 1, even though both belong to one ``_id``.
"""

from __future__ import annotations

import hashlib

from scrapy import Request

from newsspider.urls import canonicalize


class CanonicalRequestFingerprinter:
    """Scrapy ``REQUEST_FINGERPRINTER_CLASS``: SHA-1 of method, canonical URL and body."""

    @classmethod
    def from_crawler(cls, crawler: object) -> CanonicalRequestFingerprinter:
        return cls()

    def fingerprint(self, request: Request) -> bytes:
        try:
            url = canonicalize(request.url)
        except ValueError:
            url = request.url
        digest = hashlib.sha1()
        digest.update(request.method.encode())
        digest.update(b"\0")
        digest.update(url.encode())
        digest.update(b"\0")
        digest.update(request.body or b"")
        return digest.digest()
