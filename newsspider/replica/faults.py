"""Deterministic misbehaviour for the replica (issue 9).

``FaultPlan(fraction=0.25, kinds=("500", "cut", "slow"), seed=1)`` fails the
FIRST fetch of about a quarter of the listing and article pages, each with one
kind chosen from the path and the seed, and serves them normally afterwards.
A retrying crawler must therefore end up with everything.

First-fetch kinds:

* ``"500"`` — HTTP 500 with an error page;
* ``"cut"`` — headers announce a Content-Length larger than the body, half the
  body is sent, then the connection closes;
* ``"slow"`` — the normal page, after ``slow_seconds``;
* ``"reset"`` — the connection is reset (RST) before any byte is sent.

Standing extras, each off by default:

* ``redirect_loop`` — an extra listing item whose URL redirects (302) between two
  paths forever;
* ``charset`` — ``"missing"`` (no charset in the header nor a ``<meta>``) or
  ``"wrong"`` (header says UTF-8, the bytes are GBK, the ``<meta>`` says gb2312),
  applied to ``charset_fraction`` of the article pages;
* ``oversized_bytes`` — an extra listing item whose article page is at least
  that many bytes.

Reads no settings, writes no stats.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["FIRST_FETCH_KINDS", "FaultPlan"]

FIRST_FETCH_KINDS = ("500", "cut", "slow", "reset")
REDIRECT_LOOP_PATHS = ("/redirect-loop/a.html", "/redirect-loop/b.html")
OVERSIZED_PATH = "/2021-03/ART-8420-8120-39999999.html"


def _unit(*parts: object) -> float:
    """A stable number in [0, 1) from the parts (not Python's salted hash)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True, slots=True)
class FaultPlan:
    fraction: float = 0.0
    kinds: tuple[str, ...] = ("500", "cut", "slow")
    seed: int = 1
    slow_seconds: float = 1.0
    targets: tuple[str, ...] = ("listing", "article")  # page kinds first-fetch faults hit
    redirect_loop: bool = False
    charset: str = "ok"  # "ok" | "missing" | "wrong"
    charset_fraction: float = 0.0
    oversized_bytes: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FIRST_FETCH_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FIRST_FETCH_KINDS}")
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction must be within [0, 1], got {self.fraction}")
        if self.charset not in ("ok", "missing", "wrong"):
            raise ValueError(f"charset must be ok, missing or wrong, got {self.charset!r}")

    def first_fetch_fault(self, path: str, kind: str) -> str | None:
        """The fault the first fetch of ``path`` (a page of ``kind``) gets, if any."""
        if not self.kinds or kind not in self.targets or self.fraction <= 0:
            return None
        if _unit(self.seed, "fail", path) >= self.fraction:
            return None
        return self.kinds[int(_unit(self.seed, "kind", path) * len(self.kinds))]

    def charset_fault(self, path: str, kind: str) -> str | None:
        if self.charset == "ok" or kind != "article":
            return None
        if _unit(self.seed, "charset", path) >= self.charset_fraction:
            return None
        return self.charset
