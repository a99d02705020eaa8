"""Optional download of body images into a store (ITEM_PIPELINES 250).

Built on Scrapy's :class:`~scrapy.pipelines.images.ImagesPipeline` (Pillow):
images are fetched through the crawler's downloader (throttling, retries,
robots.txt), converted to JPEG as Scrapy does, and stored content-addressed
at ``full/<md5[:2]>/<md5>.jpg`` so an image shared by many articles (or
served under many URLs) is kept once.  Each ``images[]`` entry of the item
gains ``path``, ``checksum``, ``width``, ``height`` and ``size`` (bytes
stored).  With ``NEWSSPIDER_IMAGES_BASE_URL`` the body's ``<img src>`` is
rewritten to that base + path; ``images[].url`` keeps the original.

SSRF guard (:mod:`newsspider.netguard`): only ``http``/``https`` URLs are
fetched, and never from hosts that are, or resolve to, loopback, private,
link-local, multicast, reserved or unspecified addresses unless
``NEWSSPIDER_IMAGES_ALLOW_PRIVATE`` is true.  Each image request is checked
here first (the host as the downloader parses the URL, resolved off the
reactor thread) and marked, so that the download handler checks again at
connect time the address it actually dials — for the request itself and for
everything that follows from it: redirects (not followed by default,
``MEDIA_ALLOW_REDIRECTS``), a ``<meta http-equiv=refresh>`` page, the host's
``robots.txt``.  Image requests, and only they, may leave the portal's
domains (images live on CDNs).  A refused or failed image is a stat and a
log line; the article always goes on.  Without the guard's handler as the
``http``/``https`` download handler (the project settings install it) every
image is refused (``refused/unguarded``) with an ERROR.

Settings: ``IMAGES_STORE`` (a path or ``s3://bucket/prefix``;
unset = NotConfigured), ``NEWSSPIDER_IMAGES_BASE_URL``,
``NEWSSPIDER_IMAGES_ALLOW_PRIVATE``, ``NEWSSPIDER_IMAGES_ALLOW_ADDRESSES``; Scrapy's ``IMAGES_*``/``AWS_*`` apply.

Stats: ``newsspider/images/download/requested``, ``.../stored``,
``.../deduplicated`` (same content already stored), ``.../failed``,
``.../refused/<reason>`` (scheme, private_address, unresolvable, unguarded;
refusals at connect time count here too).
"""

from __future__ import annotations

import hashlib
import logging
from io import BytesIO
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.pipelines.images import ImagesPipeline
from scrapy.utils.defer import deferred_to_future
from scrapy.utils.misc import load_object
from twisted.internet.threads import deferToThread

from newsspider.netguard import (
    FETCHABLE_SCHEMES,
    GUARD_META,
    ForbiddenAddress,
    GuardedDownloadHandler,
    address_refusal,
    downloader_target,
    parse_allowed,
    resolve_refusal,
)

__all__ = ["ImageDownloadPipeline", "address_refusal"]

logger = logging.getLogger(__name__)

_STAT = "newsspider/images/download/"


def _guard_installed(crawler: Crawler) -> bool:
    handlers = crawler.settings.getwithbase("DOWNLOAD_HANDLERS")
    for scheme in FETCHABLE_SCHEMES:
        path = handlers.get(scheme)
        cls = load_object(path) if isinstance(path, str) else path
        if not (isinstance(cls, type) and issubclass(cls, GuardedDownloadHandler)):
            return False
    return True


class ImageDownloadPipeline(ImagesPipeline):
    def __init__(self, store_uri: str, *, crawler: Crawler) -> None:
        super().__init__(store_uri, crawler=crawler)
        settings = crawler.settings
        self.stats = crawler.stats
        self.base_url: str = settings.get("NEWSSPIDER_IMAGES_BASE_URL") or ""
        self.allow_private: bool = settings.getbool("NEWSSPIDER_IMAGES_ALLOW_PRIVATE", False)
        self.allowed = parse_allowed(settings.get("NEWSSPIDER_IMAGES_ALLOW_ADDRESSES"))
        self.unguarded = not self.allow_private and not _guard_installed(crawler)
        if self.unguarded:
            logger.error("image download is on but the http/https download handler is not "
                         "newsspider.netguard.GuardedDownloadHandler (the project settings' "
                         "DOWNLOAD_HANDLERS): every image is refused")
        # Host → refusal reason (None = allowed), resolved once per run.
        self._host_verdicts: dict[tuple[str, int], str | None] = {}
        # Item id → the URLs that passed the guard, handed to get_media_requests.
        self._allowed: dict[int, list[str]] = {}
        self._stored_paths: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ImageDownloadPipeline:
        store = crawler.settings.get("IMAGES_STORE")
        if not store:
            raise NotConfigured("IMAGES_STORE is not set: image download is off")
        cls._update_stores(crawler.settings)
        return cls(store, crawler=crawler)

    # -- the SSRF guard ----------------------------------------------------
    async def _refusal(self, url: str) -> str | None:
        """The guard's verdict before any request: the host as the downloader dials it."""
        if self.unguarded:
            return "unguarded"
        try:
            scheme, host, port = downloader_target(url)
        except ValueError:
            return "unresolvable"
        if scheme not in FETCHABLE_SCHEMES:
            return "scheme"
        if not host:
            return "unresolvable"
        if self.allow_private:
            return None
        key = (host, port)
        if key not in self._host_verdicts:
            # getaddrinfo blocks: run it in the reactor's thread pool.  The handler
            # resolves and checks again when it connects.
            _addresses, verdict = await deferred_to_future(
                deferToThread(resolve_refusal, host, port, self.allowed))
            self._host_verdicts[key] = verdict
        return self._host_verdicts[key]

    async def process_item(self, item: Any) -> Any:  # type: ignore[override]
        allowed: list[str] = []
        for url in dict.fromkeys(img.get("url") for img in item.get("images") or []):
            if not url:
                continue
            reason = await self._refusal(url)
            if reason is None:
                allowed.append(url)
                continue
            self.stats.inc_value(f"{_STAT}refused/{reason}")
            logger.warning("image not downloaded (%s): %s in %s", reason, url, item.get("url"))
        if not allowed:
            return item
        self._allowed[id(item)] = allowed
        try:
            return await super().process_item(item)
        finally:
            self._allowed.pop(id(item), None)

    def get_media_requests(self, item: Any, info: Any) -> list[Request]:
        urls = self._allowed.get(id(item), [])
        self.stats.inc_value(_STAT + "requested", len(urls))
        # Off-site is fine for images (CDNs), never for anything else; the guard mark
        # follows the request through redirects and meta refreshes.
        meta = {"allow_offsite": True}
        if not self.allow_private:
            meta[GUARD_META] = True
        referer = item.get("fetched_url") or item.get("url") or ""
        return [Request(url, headers={"Referer": referer}, meta=dict(meta)) for url in urls]

    # -- storage, content-addressed -----------------------------------------
    def media_to_download(self, request: Request, info: Any, *, item: Any = None) -> None:
        # The path depends on the content, unknown before the download, so
        # there is no per-URL "up to date" check: always fetch.
        return None

    async def image_downloaded(self, response: Any, request: Request, info: Any, *, item: Any = None) -> str:
        checksum: str | None = None
        for _url_path, image, buf in self.get_images(response, request, info, item=item):
            buf.seek(0)
            data = buf.read()
            checksum = hashlib.md5(data, usedforsecurity=False).hexdigest()
            path = self.content_path(checksum)
            width, height = image.size
            request.meta["newsspider_image"] = {
                "path": path, "checksum": checksum, "width": width, "height": height, "size": len(data),
            }
            if path in self._stored_paths:
                self.stats.inc_value(_STAT + "deduplicated")
            else:
                result = self.store.persist_file(
                    path, BytesIO(data), info,
                    meta={"width": width, "height": height}, headers={"Content-Type": "image/jpeg"},
                )
                if result is not None and hasattr(result, "addCallback"):
                    await deferred_to_future(result)
                self._stored_paths.add(path)
                self.stats.inc_value(_STAT + "stored")
            break  # thumbnails (IMAGES_THUMBS) are not part of the article record
        if checksum is None:
            raise ValueError(f"no image decoded from {request.url}")
        return checksum

    async def media_downloaded(self, response: Any, request: Request, info: Any, *, item: Any = None) -> Any:
        result = await super().media_downloaded(response, request, info, item=item)
        # Scrapy caches this dict per URL for the run, so every article
        # sharing the image gets the same stored path and dimensions.
        result.update(request.meta.get("newsspider_image", {}))
        return result

    @staticmethod
    def content_path(checksum: str) -> str:
        return f"full/{checksum[:2]}/{checksum}.jpg"

    def item_completed(self, results: list[Any], item: Any, info: Any) -> Any:
        stored: dict[str, dict[str, Any]] = {}
        for ok, value in results:
            if ok and isinstance(value, dict) and value.get("path"):
                stored[value["url"]] = value
                continue
            refused = value.value if hasattr(value, "value") else value
            # FilesPipeline re-raises an IgnoreRequest as its own exception, from it.
            refused = refused.__cause__ if not isinstance(refused, ForbiddenAddress) else refused
            if isinstance(refused, ForbiddenAddress):
                # Refused at connect time (a redirect, a meta refresh, a name that changed).
                self.stats.inc_value(f"{_STAT}refused/{refused.reason}")
                logger.warning("image not downloaded (%s) in %s", refused, item.get("url"))
                continue
            self.stats.inc_value(_STAT + "failed")
            message = value.getErrorMessage() if hasattr(value, "getErrorMessage") else value
            logger.warning("image download failed for %s: %s", item.get("url"), message)
        for image in item.get("images") or []:
            found = stored.get(image.get("url"))
            if found is None:
                continue
            for key in ("path", "checksum", "width", "height", "size"):
                image[key] = found.get(key)
            if self.base_url and item.get("body_html"):
                item["body_html"] = _rewrite_src(item["body_html"], image["url"], self.base_url + found["path"])
        return item


def _attr(value: str) -> str:
    # The body is nh3-serialized: attribute values escape & " and nbsp.
    return value.replace("&", "&amp;").replace("\xa0", "&nbsp;").replace('"', "&quot;")


def _rewrite_src(body_html: str, original: str, stored: str) -> str:
    return body_html.replace(f' src="{_attr(original)}"', f' src="{_attr(stored)}"')
