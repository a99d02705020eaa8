"""Optional download of body images into a store (ITEM_PIPELINES 250).

Built on Scrapy's :class:`~scrapy.pipelines.images.ImagesPipeline` (Pillow):
images are fetched through the crawler's downloader (throttling, retries,
robots.txt), converted to JPEG as Scrapy does, and stored content-addressed
at ``full/<md5[:2]>/<md5>.jpg`` so an image shared by many articles (or
served under many URLs) is kept once.  Each ``images[]`` entry of the item
gains ``path``, ``checksum``, ``width``, ``height`` and ``size`` (bytes
stored).  With ``NEWSSPIDER_IMAGES_BASE_URL`` the body's ``<img src>`` is
rewritten to that base + path; ``images[].url`` keeps the original.

SSRF guard: only ``http``/``https`` URLs are fetched, and never from hosts
that are, or resolve to, loopback, private, link-local, multicast, reserved
or unspecified addresses unless ``NEWSSPIDER_IMAGES_ALLOW_PRIVATE`` is true.
Names are resolved off the reactor thread before the request is made, and
redirects are not followed (Scrapy's ``MEDIA_ALLOW_REDIRECTS`` default), so a
public URL cannot bounce the request to an internal host.  A refused or
failed image is a stat and a log line; the article always goes on.

Settings: ``IMAGES_STORE`` (a path or ``s3://bucket/prefix``;
unset = NotConfigured), ``NEWSSPIDER_IMAGES_BASE_URL``,
``NEWSSPIDER_IMAGES_ALLOW_PRIVATE``; Scrapy's ``IMAGES_*``/``AWS_*`` apply.

Stats: ``newsspider/images/download/requested``, ``.../stored``,
``.../deduplicated`` (same content already stored), ``.../failed``,
``.../refused/<reason>`` (scheme, private_address, unresolvable).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import socket
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.pipelines.images import ImagesPipeline
from scrapy.utils.defer import deferred_to_future
from twisted.internet.threads import deferToThread

__all__ = ["ImageDownloadPipeline", "address_refusal"]

logger = logging.getLogger(__name__)

_STAT = "newsspider/images/download/"
_FETCHABLE_SCHEMES = frozenset({"http", "https"})


def address_refusal(address: str) -> str | None:
    """Why an IP address must not be fetched from, or None if it is public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "unresolvable"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    ):
        return "private_address"
    return None


def _resolve(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]


class ImageDownloadPipeline(ImagesPipeline):
    def __init__(self, store_uri: str, *, crawler: Crawler) -> None:
        super().__init__(store_uri, crawler=crawler)
        settings = crawler.settings
        self.stats = crawler.stats
        self.base_url: str = settings.get("NEWSSPIDER_IMAGES_BASE_URL") or ""
        self.allow_private: bool = settings.getbool("NEWSSPIDER_IMAGES_ALLOW_PRIVATE", False)
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
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError:
            return "unresolvable"
        if parts.scheme.lower() not in _FETCHABLE_SCHEMES:
            return "scheme"
        if not host:
            return "unresolvable"
        if self.allow_private:
            return None
        key = (host, port or (443 if parts.scheme.lower() == "https" else 80))
        if key in self._host_verdicts:
            return self._host_verdicts[key]
        try:
            ipaddress.ip_address(host)
            addresses = [host]
        except ValueError:
            try:
                # getaddrinfo blocks: run it in the reactor's thread pool.
                addresses = await deferred_to_future(deferToThread(_resolve, *key))
            except (OSError, UnicodeError):
                addresses = []
        verdict: str | None = "unresolvable" if not addresses else None
        for address in addresses:
            verdict = address_refusal(address) or verdict
        self._host_verdicts[key] = verdict
        return verdict

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
        return [Request(url, headers={"Referer": item.get("fetched_url") or item.get("url") or ""}) for url in urls]

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
            else:
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
