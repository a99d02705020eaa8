"""One article body, start to finish: what a body worker does, and the wire it answers on.

:func:`process_body` is the pure function: parse the body once, resolve its
images and links (:func:`~newsspider.normalize.html.resolve_body`), rebuild
and sanitize it (:func:`~newsspider.normalize.html.normalize_resolved`) and
fingerprint its text.  The crawl process runs it in worker processes
(:class:`~newsspider.normalize.pool.BodyPool`), or itself when it has no
CPU to spare.

Everything crossing the process boundary is plain data: the portal's
:class:`~newsspider.normalize.rules.BodyRules` and the
:class:`~newsspider.normalize.images.ImageConfig` travel as the strings they
were built from (:class:`BodySpec`) and are rebuilt once per worker.  A job
is a length-prefixed pickle of ``(html, base_url, spec or None)``; the
answer is a tuple of builtins (:func:`to_wire`) or an error message.

Twisted-free and Scrapy-free, so a worker (``python -m
newsspider.normalize.worker``) starts on ~0.21 s of CPU, not the ~0.34 s it
took while this lived beside the pool's Twisted side.
"""

from __future__ import annotations

import pickle
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, BinaryIO

from lxml import etree

from newsspider.htmldepth import TOO_DEEP
from newsspider.normalize.html import NormalizedBody, normalize_resolved, resolve_body
from newsspider.normalize.images import ImageConfig, ImageRecord
from newsspider.normalize.rules import BodyRules
from newsspider.normalize.text import content_hash, simhash64

__all__ = [
    "HEADER",
    "BodySpec",
    "NormalizationFailed",
    "ProcessedBody",
    "fingerprinted",
    "frame",
    "from_wire",
    "process_body",
    "to_wire",
    "worker_main",
]


class NormalizationFailed(Exception):
    """Normalizing a body raised: a normalizer bug on that input, reported as a reject."""


@dataclass(frozen=True, slots=True)
class BodySpec:
    """How to process bodies, as plain strings: the same in every process."""

    unwrap: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    extra_proxies: tuple[str, ...] = ()
    extra_placeholders: tuple[str, ...] = ()
    has_rules: bool = False

    @classmethod
    def of(cls, rules: BodyRules | None, extra_proxies: tuple[str, ...] = (),
           extra_placeholders: tuple[str, ...] = ()) -> BodySpec:
        return cls(
            unwrap=rules.unwrap if rules else (), drop=rules.drop if rules else (),
            extra_proxies=tuple(extra_proxies), extra_placeholders=tuple(extra_placeholders),
            has_rules=rules is not None,
        )

    def rules(self) -> BodyRules | None:
        return _rules(self.unwrap, self.drop) if self.has_rules else None

    def config(self) -> ImageConfig:
        return _config(self.extra_proxies, self.extra_placeholders)


# Built once per process: compiling selectors and proxy patterns costs more than a body.
@lru_cache(maxsize=16)
def _rules(unwrap: tuple[str, ...], drop: tuple[str, ...]) -> BodyRules:
    return BodyRules(unwrap=unwrap, drop=drop)


@lru_cache(maxsize=16)
def _config(extra_proxies: tuple[str, ...], extra_placeholders: tuple[str, ...]) -> ImageConfig:
    return ImageConfig.build(extra_proxies=extra_proxies, extra_placeholders=extra_placeholders)


@dataclass(slots=True)
class ProcessedBody:
    """What both body stages made of one article's HTML.

    ``resolved_html``/``images``/``resolve_events``: the image stage (markup as
    on the page, images and links resolved).  ``normalized``: the contract §5
    body, its text and the normalizer's events, or None with ``error`` set
    when normalizing failed (a normalizer bug on this input, reported as a
    reject).  ``content_hash``/``simhash`` fingerprint ``normalized.text``.
    """

    resolved_html: str
    images: list[ImageRecord]
    resolve_events: Counter[str]
    normalized: NormalizedBody | None = None
    content_hash: str = ""
    simhash: int = 0
    error: str = ""
    worker: bool = field(default=False)  # computed in a worker process


def fingerprinted(normalize: Callable[[], NormalizedBody]) -> tuple[NormalizedBody, str, int]:
    """``normalize()`` with its text's ``content_hash`` and ``simhash64``.

    The normalizer handles parser failures itself; anything it raises is a
    normalizer bug on this input, raised as :class:`NormalizationFailed` with
    the message the reject carries.
    """
    try:
        normalized = normalize()
        return normalized, content_hash(normalized.text), simhash64(normalized.text)
    except (ValueError, TypeError, RecursionError, etree.LxmlError) as exc:
        raise NormalizationFailed(f"normalization failed ({type(exc).__name__}: {exc})") from exc


def process_body(html: str, base_url: str | None, spec: BodySpec) -> ProcessedBody:
    """Resolve, normalize and fingerprint one body (one parse).  Never raises on a ``str``."""
    resolved = resolve_body(html, base_url, spec.rules(), spec.config())
    out = ProcessedBody(resolved.html, resolved.images, resolved.events)
    if resolved.events["too_deep"]:
        out.error = f"the body is {TOO_DEEP}"
        return out
    try:
        out.normalized, out.content_hash, out.simhash = fingerprinted(
            lambda: normalize_resolved(resolved)
        )
    except NormalizationFailed as exc:
        out.error = str(exc)
    return out


# --- the wire: a 4-byte big-endian length, then a pickle ---------------------------
HEADER = struct.Struct(">I")


def frame(obj: Any) -> bytes:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload


def _read_exact(stream: BinaryIO, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def worker_main(stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Answer jobs until stdin closes (the crawl process finished or died).

    A job is ``(html, base_url, spec)``; ``spec`` is None when it is the same
    as the previous job's (the crawl process sends each worker a spec once).
    The answer is :func:`to_wire` of a :class:`ProcessedBody`, or a message.
    """
    spec: BodySpec | None = None
    while True:
        header = _read_exact(stdin, HEADER.size)
        if header is None:
            return 0
        payload = _read_exact(stdin, HEADER.unpack(header)[0])
        if payload is None:
            return 0
        html, base_url, new_spec = pickle.loads(payload)
        spec = new_spec if new_spec is not None else spec
        try:
            if spec is None:
                raise RuntimeError("a job without a spec reached a worker that has none")
            answer: Any = to_wire(process_body(html, base_url, spec))
        except Exception as exc:  # noqa: BLE001 — any failure is the crawl's to report, not ours to die of
            answer = f"{type(exc).__name__}: {exc}"
        stdout.write(frame(answer))
        stdout.flush()


# The answer crosses as builtins only: unpickling dataclasses and Counters runs
# Python code per object in the crawl process, whose main thread is the bottleneck.
def to_wire(body: ProcessedBody) -> tuple[Any, ...]:
    normalized = body.normalized
    return (
        body.resolved_html, body.images, dict(body.resolve_events),
        None if normalized is None else (
            normalized.html, normalized.text, normalized.images, dict(normalized.events)),
        body.content_hash, body.simhash, body.error,
    )


def from_wire(wire: tuple[Any, ...]) -> ProcessedBody:
    resolved_html, images, resolve_events, normalized, digest, simhash, error = wire
    return ProcessedBody(
        resolved_html, images, Counter(resolve_events),
        None if normalized is None else NormalizedBody(
            normalized[0], normalized[1], normalized[2], Counter(normalized[3])),
        digest, simhash, error, True,
    )
