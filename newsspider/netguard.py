"""The SSRF guard: what image downloads fetch, they fetch from public addresses only.

An article's images are URLs chosen by the page, so a hostile or compromised
portal could point them at the crawler's own network (``127.0.0.1:27017``,
``169.254.169.254``, a LAN host).  Every request marked with :data:`GUARD_META`
— the image pipeline marks its requests, Scrapy carries the mark over to the
requests that follow them (HTTP redirects, ``<meta http-equiv=refresh>``) and
:class:`GuardMiddleware` marks the ``robots.txt`` fetched for them — is
dialled by :class:`GuardedDownloadHandler` like this:

1. the host is taken from the URL exactly as the downloader reads it
   (Twisted's ``URI`` of Scrapy's escaped URL: ``http://127.0.0.1:18099\\@8.8.8.8/``
   goes to 127.0.0.1, whatever ``urllib`` says);
2. it is resolved once, at connect time;
3. if any address it resolves to is loopback, private, link-local, multicast,
   reserved, unspecified or otherwise not global (:func:`address_refusal`) —
   unless that address (and port) is listed in ``NEWSSPIDER_IMAGES_ALLOW_ADDRESSES``,
   e.g. an internal image server —, nothing is dialled and the request fails
   with :class:`ForbiddenAddress`;
4. else the connection goes to one of those very addresses (a TCP endpoint
   on the IP, no second lookup: no DNS rebinding between check and connect).

Guarded requests have a connection pool of their own, so they never reuse a
connection opened for a page.  Through an HTTP proxy (``proxy`` meta,
``http_proxy``) the proxy dials; the host is then only checked by resolving it
here (documented in docs/safety.md).  Unmarked requests — the portal's own
pages — go to the handler that would serve them otherwise
(``NEWSSPIDER_GUARD_PAGE_HANDLER``: Scrapy's HTTP/1.1 handler, or
scrapy-playwright's with ``render=js``).

Settings read: ``NEWSSPIDER_GUARD_PAGE_HANDLER``,
``NEWSSPIDER_IMAGES_ALLOW_ADDRESSES`` (by the handler), Scrapy's download settings.  Stats written: none (the image pipeline counts refusals,
``newsspider/images/download/refused/<reason>``).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urldefrag

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _ScrapyAgent,
)
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler, load_object
from scrapy.utils.python import to_bytes
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.threads import deferToThread
from twisted.web.client import URI, Agent, HTTPConnectionPool
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response

__all__ = [
    "GUARD_META",
    "ForbiddenAddress",
    "GuardMiddleware",
    "GuardedDownloadHandler",
    "address_refusal",
    "downloader_target",
    "parse_allowed",
    "resolve_refusal",
]

logger = logging.getLogger(__name__)

#: Request meta key: the request (and whatever follows from it) dials public addresses only.
GUARD_META = "newsspider_guard"
FETCHABLE_SCHEMES = frozenset({"http", "https"})


class ForbiddenAddress(IgnoreRequest):
    """A guarded request's host is, or resolves to, an address it must not dial."""

    def __init__(self, host: str, reason: str, address: str = "") -> None:
        self.host = host
        self.reason = reason
        self.address = address
        where = f"{host} ({address})" if address and address != host else host
        super().__init__(f"refused to connect to {where}: {reason.replace('_', ' ')}")


def address_refusal(address: str) -> str | None:
    """Why an IP address must not be dialled (``private_address``, ``unresolvable``), or None."""
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


Allowed = frozenset[tuple[str, int | None]]


def parse_allowed(value: str | list[str] | None) -> Allowed:
    """``NEWSSPIDER_IMAGES_ALLOW_ADDRESSES``: ``IP`` or ``IP:port`` (``[IPv6]:port``), comma-separated."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    allowed: set[tuple[str, int | None]] = set()
    for item in (i.strip() for i in items):
        if not item:
            continue
        host, port = item, None
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") else None
        elif item.count(":") == 1:
            host, _, number = item.partition(":")
            port = int(number)
        allowed.add((str(ipaddress.ip_address(host)), port))
    return frozenset(allowed)


def _listed(address: str, port: int, allowed: Allowed) -> bool:
    try:
        ip = str(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return False
    return (ip, port) in allowed or (ip, None) in allowed


def downloader_target(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of ``url`` as Scrapy's HTTP/1.1 downloader dials it.

    Scrapy escapes the URL (``Request``), the agent drops the fragment and
    Twisted's ``URI`` splits it: that is the host connected to.  ValueError
    for a URL the downloader would not take.
    """
    escaped = Request(url).url
    uri = URI.fromBytes(to_bytes(urldefrag(escaped)[0], encoding="ascii"))
    return uri.scheme.decode("ascii").lower(), uri.host.decode("ascii"), uri.port


def resolve_refusal(
    host: str, port: int, allowed: Allowed = frozenset(),
) -> tuple[list[str], str | None]:
    """``(addresses, refusal)``: what ``host`` resolves to, and why not to dial it (or None).

    Blocking (``getaddrinfo``): call it off the reactor thread.  A host with
    any address that :func:`address_refusal` refuses (and ``allowed`` does not
    list with this port) is refused as a whole.
    """
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return [], "unresolvable"
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        return [], "unresolvable"
    for address in addresses:
        refusal = address_refusal(address)
        if refusal is not None and not _listed(address, port, allowed):
            return addresses, refusal
    return addresses, None


@implementer(IStreamClientEndpoint)
class _GuardedEndpoint:
    """Resolve ``host`` now, refuse it unless every address is public, dial one of them."""

    def __init__(self, reactor: Any, host: str, port: int, timeout: float | None,
                 bind_address: tuple[str, int] | None, allowed: Allowed) -> None:
        self._reactor = reactor
        self._host = host
        self._port = port
        self._timeout = 30 if timeout is None else timeout
        self._bind = bind_address
        self._allowed = allowed

    def connect(self, factory: Any) -> Deferred[Any]:
        resolved: Deferred[tuple[list[str], str | None]] = deferToThread(
            resolve_refusal, self._host, self._port, self._allowed)
        return resolved.addCallback(self._dial, factory)

    def _dial(self, verdict: tuple[list[str], str | None], factory: Any) -> Deferred[Any]:
        addresses, refusal = verdict
        if refusal is not None:
            bad = next((a for a in addresses if address_refusal(a)), "")
            raise ForbiddenAddress(f"{self._host}:{self._port}", refusal, bad)
        return self._try(addresses, factory)

    def _try(self, addresses: list[str], factory: Any) -> Deferred[Any]:
        address, rest = addresses[0], addresses[1:]
        kind = TCP6ClientEndpoint if ":" in address else TCP4ClientEndpoint
        endpoint = kind(self._reactor, address, self._port, timeout=self._timeout,
                        bindAddress=self._bind)
        attempt: Deferred[Any] = endpoint.connect(factory)
        if rest:
            attempt.addErrback(lambda _failure: self._try(rest, factory))
        return attempt


@implementer(IAgentEndpointFactory)
class _GuardedEndpointFactory:
    def __init__(self, reactor: Any, policy: Any, timeout: float | None,
                 bind_address: tuple[str, int] | None, allowed: Allowed) -> None:
        self._reactor = reactor
        self._policy = policy  # IPolicyForHTTPS
        self._timeout = timeout
        self._bind = bind_address
        self._allowed = allowed

    def endpointForURI(self, uri: URI) -> Any:
        scheme = uri.scheme.decode("ascii").lower()
        if scheme not in FETCHABLE_SCHEMES:
            raise ForbiddenAddress(uri.host.decode("ascii", "replace"), "scheme")
        endpoint: Any = _GuardedEndpoint(self._reactor, uri.host.decode("ascii"), uri.port,
                                         self._timeout, self._bind, self._allowed)
        if scheme == "https":
            # TLS (and its SNI) for the host named in the URL, over the checked address.
            return wrapClientTLS(self._policy.creatorForNetloc(uri.host, uri.port), endpoint)
        return endpoint


class _GuardedAgent(_ScrapyAgent):
    """Scrapy's agent (body size limits, timeouts, data-loss handling) over guarded endpoints.

    Built on Scrapy's private ``_ScrapyAgent`` (Scrapy is pinned to 2.19.*):
    the endpoint is the one thing changed, and rewriting the response reading
    around it would be more code to get wrong.
    """

    allowed: Allowed = frozenset()

    def _get_agent(self, request: Request, timeout: float) -> Agent:
        if request.meta.get("proxy"):
            return super()._get_agent(request, timeout)  # the proxy dials (see the module docstring)
        from twisted.internet import reactor

        bind = request.meta.get("bindaddress") or self._bindAddress
        bind_address = (bind, 0) if isinstance(bind, str) else bind
        factory = _GuardedEndpointFactory(reactor, self._contextFactory, timeout, bind_address,
                                          self.allowed)
        return Agent.usingEndpointFactory(reactor, factory, pool=self._pool)


class GuardedDownloadHandler(HTTP11DownloadHandler):
    """The ``http``/``https`` download handler: guarded requests dial public addresses only.

    Requests without :data:`GUARD_META` go to the page handler
    (``NEWSSPIDER_GUARD_PAGE_HANDLER``, default Scrapy's HTTP/1.1 — this class's base).
    """

    lazy = False

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        from twisted.internet import reactor

        self._guarded_pool = HTTPConnectionPool(reactor, persistent=True)
        self._guarded_pool.maxPersistentPerHost = crawler.settings.getint(
            "CONCURRENT_REQUESTS_PER_DOMAIN")
        self._guarded_pool._factory = _LenientHTTP11ClientFactory
        self._allowed = parse_allowed(crawler.settings.get("NEWSSPIDER_IMAGES_ALLOW_ADDRESSES"))
        page_handler = crawler.settings.get("NEWSSPIDER_GUARD_PAGE_HANDLER")
        self._pages: Any = None
        if page_handler:
            self._pages = build_from_crawler(load_object(page_handler), crawler)

    async def download_request(self, request: Request) -> Response:
        if not request.meta.get(GUARD_META):
            if self._pages is not None:
                return await self._pages.download_request(request)  # type: ignore[no-any-return]
            return await super().download_request(request)
        if request.meta.get("proxy"):
            await self._check_through_proxy(request)
        from scrapy.utils._download_handlers import wrap_twisted_exceptions
        from scrapy.utils.defer import maybe_deferred_to_future

        agent = _GuardedAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._guarded_pool,
            maxsize=self._default_maxsize,
            warnsize=self._default_warnsize,
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        agent.allowed = self._allowed
        with wrap_twisted_exceptions():
            return await maybe_deferred_to_future(agent.download_request(request))

    async def _check_through_proxy(self, request: Request) -> None:
        from scrapy.utils.defer import maybe_deferred_to_future

        _scheme, host, port = downloader_target(request.url)
        addresses, refusal = await maybe_deferred_to_future(
            deferToThread(resolve_refusal, host, port, self._allowed))
        if refusal is not None:
            raise ForbiddenAddress(host, refusal, addresses[0] if addresses else "")

    async def close(self) -> None:
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet import reactor

        await super().close()
        closing: Deferred[None] = self._guarded_pool.closeCachedConnections()
        # As Scrapy's own close: closeCachedConnections can hang on a dead peer.
        timer: Any = cast(Any, reactor).callLater(self._disconnect_timeout, closing.callback, None)
        try:
            await maybe_deferred_to_future(closing)
        finally:
            if timer.active():
                timer.cancel()
        if self._pages is not None:
            await self._pages.close()


class GuardMiddleware:
    """Downloader middleware (40), before ``OffsiteMiddleware`` and ``RobotsTxtMiddleware``: the ``robots.txt``
    Scrapy fetches for a guarded request's host is guarded too; guarded requests
    are exempt from the off-site filter (images live on CDNs: cnBeta's on
    ``static.cnbetacdn.com``), every other request is not."""

    def __init__(self) -> None:
        self._guarded_netlocs: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> GuardMiddleware:
        return cls()

    def process_request(self, request: Request, spider: Any = None) -> None:
        parts = urlparse_cached(request)
        if request.meta.get(GUARD_META):
            self._guarded_netlocs.add(parts.netloc)
        elif (request.meta.get("dont_obey_robotstxt") and parts.path == "/robots.txt"
              and parts.netloc in self._guarded_netlocs):
            request.meta[GUARD_META] = True
            request.meta["allow_offsite"] = True
