"""Normalizer cost next to trafilatura's on the same pages (contract §6).

``measure_normalize_vs_trafilatura(pages)`` times
:func:`newsspider.normalize.html.normalize_body` and ``trafilatura.extract``
on each ``(html, url)`` page and returns per-page milliseconds and the
ratio; the bench runner and the lead call it.  Reads no settings, writes no
stats.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from newsspider.normalize.html import normalize_body
from newsspider.normalize.text import content_hash, simhash64

__all__ = ["measure_normalize_vs_trafilatura"]


def _best_ms(func: Callable[[], Any], repeat: int) -> float:
    # The minimum of several runs is the least noisy estimate of the cost
    # on a shared machine (other processes only ever add time).
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best * 1000.0


def measure_normalize_vs_trafilatura(
    pages: Sequence[tuple[str, str]], repeat: int = 5
) -> dict[str, Any]:
    """Per-page ms of normalize (body + text + hashes) and of trafilatura.extract.

    Returns ``{"pages": n, "normalize_ms": [...], "trafilatura_ms": [...],
    "normalize_ms_median", "trafilatura_ms_median", "ratio_median",
    "ratio_total"}`` where ratios are normalize / trafilatura (target ≤ 0.1).
    """
    import trafilatura  # imported lazily: only the bench needs it

    normalize_ms: list[float] = []
    trafilatura_ms: list[float] = []

    for html, url in pages:

        def run_normalize(html: str = html, url: str = url) -> None:
            body = normalize_body(html, url)
            content_hash(body.text)
            simhash64(body.text)

        def run_trafilatura(html: str = html, url: str = url) -> None:
            trafilatura.extract(html, url=url, output_format="html", include_images=True)

        normalize_ms.append(_best_ms(run_normalize, repeat))
        trafilatura_ms.append(_best_ms(run_trafilatura, repeat))

    if not pages:
        return {"pages": 0, "normalize_ms": [], "trafilatura_ms": []}
    ratios = [n / t for n, t in zip(normalize_ms, trafilatura_ms) if t > 0]
    return {
        "pages": len(pages),
        "normalize_ms": normalize_ms,
        "trafilatura_ms": trafilatura_ms,
        "normalize_ms_median": statistics.median(normalize_ms),
        "trafilatura_ms_median": statistics.median(trafilatura_ms),
        "ratio_median": statistics.median(ratios) if ratios else None,
        "ratio_total": sum(normalize_ms) / sum(trafilatura_ms) if sum(trafilatura_ms) else None,
    }
