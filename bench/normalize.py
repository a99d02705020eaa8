"""``normalize_vs_trafilatura_ratio``: our body normalization against ``trafilatura.extract``.

Both sides get what they would get in a crawl of the replica: trafilatura the
full article page as served (it finds the body itself); the normalizer the
body the spider extracted from that page, with OFweek's body rules — which
is what the body stage is handed.  The normalizer side is
``normalize_body`` plus ``content_hash`` and ``simhash64`` on the resolved
body; ``images_normalize`` is ``newsspider.pipelines.body.process_body``,
what ``BodyPipeline`` runs: resolve and normalize on one parse, fingerprinted.

Per page, the best of ``repeat`` runs counts (a busy machine only adds
time); the ratio is over the sums of all pages.  Reads and writes nothing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any


def _best_ms(func: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best * 1000.0


def measure(pages: Sequence[tuple[bytes, str]], repeat: int = 5) -> dict[str, Any]:
    """Per-page ms and ratios for ``(page bytes as served, url)`` pairs."""
    import trafilatura

    from newsspider.extract import decode_html, parse_article
    from newsspider.normalize.html import normalize_body, resolve_body
    from newsspider.normalize.text import content_hash, simhash64
    from newsspider.pipelines.body import process_body
    from newsspider.portals import get_portal

    portal = get_portal("ofweek")
    rules = portal.body_rules
    normalize_ms: list[float] = []
    both_ms: list[float] = []
    trafilatura_ms: list[float] = []
    for raw, url in pages:
        html, _ = decode_html(raw, None, portal.encoding)
        body = parse_article(html, url, portal).body_html or ""
        resolved = resolve_body(body, url, rules).html

        def run_normalize(body: str = resolved, url: str = url) -> None:
            result = normalize_body(body, url, rules)
            content_hash(result.text)
            simhash64(result.text)

        def run_both(body: str = body, url: str = url) -> None:
            process_body(body, url, rules)

        def run_trafilatura(html: str = html, url: str = url) -> None:
            trafilatura.extract(html, url=url, output_format="html", include_images=True)

        normalize_ms.append(_best_ms(run_normalize, repeat))
        both_ms.append(_best_ms(run_both, repeat))
        trafilatura_ms.append(_best_ms(run_trafilatura, repeat))
    if not pages or not sum(trafilatura_ms):
        raise ValueError("no pages to measure")
    return {
        "pages": len(pages),
        "repeat": repeat,
        "normalize_ms_median": round(statistics.median(normalize_ms), 3),
        "images_normalize_ms_median": round(statistics.median(both_ms), 3),
        "trafilatura_ms_median": round(statistics.median(trafilatura_ms), 3),
        "normalize_vs_trafilatura_ratio": round(sum(normalize_ms) / sum(trafilatura_ms), 4),
        "images_normalize_vs_trafilatura_ratio": round(sum(both_ms) / sum(trafilatura_ms), 4),
    }
