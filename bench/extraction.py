"""``extraction_f1``: automatic extraction on scrapinghub's article-extraction-benchmark pages.

``python -m bench.extraction [--dir DIR] [--repeat N] [--split]`` (also part of
``make bench``) scores :func:`newsspider.extract.extract_page` — the ``body_text``
the pipelines would store, normalizer included — against the benchmark's
human-checked article bodies, and plain ``trafilatura.extract`` (its defaults,
text output) on the same pages in the same run, with the CPU time per page of
each.

The score is the benchmark's own, written here from the description in the
pages' README (``shared/aeb-dev/README.md``):

* tokens are the ``\\w+`` matches (Unicode) of a text; its shingles are the
  runs of 4 consecutive tokens, counted as a multiset (a text of 1–3 tokens is
  one shingle, a text without tokens has none);
* per page, TP = shingles in both (by count), FP = only in the prediction,
  FN = only in the truth, each divided by TP + FP + FN; precision =
  TP/(TP+FP) and recall = TP/(TP+FN), 1.0 when FP = FN = 0 and 0.0 when TP = 0;
* precision is averaged over the pages where the prediction has a shingle,
  recall over the pages where the truth has one (where each is defined), and
  F1 = 2PR/(P+R) of the two means.

Timing: per page, each extractor's best CPU time (``time.thread_time``: the
machine is shared, and neither side starts threads) of ``repeat`` runs,
alternating which side runs first; ``extraction_time_ratio`` is the sum of
ours over the sum of trafilatura's.

``--split`` also prints the scores of the two halves of the pages (by the
SHA-256 of the page id: ``a`` = even first byte), the development discipline
of docs/extraction.md: develop on one half, check on the other.

Reads the environment: ``BENCH_AEB_DIR`` (default: ``shared/aeb-dev`` beside the
repository or one of its parent directories).  Writes nothing.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "AEB_DIR",
    "FIXTURE_DIR",
    "Page",
    "PageScore",
    "half",
    "load_pages",
    "measure",
    "page_score",
    "score",
    "shingles",
]



def _default_dir() -> Path:
    """``BENCH_AEB_DIR``, else the first ``shared/aeb-dev`` beside an ancestor of the repository."""
    given = os.environ.get("BENCH_AEB_DIR")
    if given:
        return Path(given)
    repo = Path(__file__).resolve().parents[1]
    for parent in repo.parents:
        if (parent / "shared" / "aeb-dev").is_dir():
            return parent / "shared" / "aeb-dev"
    return repo.parent / "shared" / "aeb-dev"


AEB_DIR = _default_dir()
# Five of the pages, in the repository: the smoke test's stand-in when AEB_DIR is missing.
FIXTURE_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "aeb"
SHINGLE = 4
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Page:
    """One benchmark page: its id, the HTML as served, its URL and the true article body."""

    id: str
    html: str
    url: str
    truth: str


@dataclass(frozen=True, slots=True)
class PageScore:
    """A page's normalized TP/FP/FN and what follows from them (``None``: not defined)."""

    tp: float
    fp: float
    fn: float
    precision: float | None
    recall: float | None


def shingles(text: str) -> Counter[tuple[str, ...]]:
    """The multiset of the text's runs of :data:`SHINGLE` consecutive ``\\w+`` tokens."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        return Counter()
    if len(tokens) < SHINGLE:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1))


def _ratio(tp: float, fp: float, fn: float, other: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == 0:
        return 0.0
    return tp / (tp + other)


def page_score(truth: str, prediction: str) -> PageScore:
    """One page's score (see the module docstring)."""
    true, pred = shingles(truth), shingles(prediction)
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    if total:
        tp, fp, fn = tp / total, fp / total, fn / total
    return PageScore(
        tp, fp, fn,
        precision=_ratio(tp, fp, fn, fp) if pred else None,
        recall=_ratio(tp, fp, fn, fn) if true else None,
    )


def score(scores: Iterable[PageScore]) -> dict[str, float]:
    """``{"f1", "precision", "recall"}`` of the pages' scores: F1 of the two means."""
    scores = list(scores)
    precisions = [s.precision for s in scores if s.precision is not None]
    recalls = [s.recall for s in scores if s.recall is not None]
    precision = statistics.fmean(precisions) if precisions else 0.0
    recall = statistics.fmean(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


def half(page_id: str) -> str:
    """``"a"`` or ``"b"``: a fixed split of the pages that depends on nothing but the id."""
    return "a" if hashlib.sha256(page_id.encode()).digest()[0] % 2 == 0 else "b"


def load_pages(directory: Path = AEB_DIR, limit: int | None = None) -> list[Page]:
    """The benchmark's pages (``html/<id>.html.gz`` + ``ground-truth.json``), by id."""
    truth_file = directory / "ground-truth.json"
    if not truth_file.is_file():
        raise FileNotFoundError(
            f"{truth_file} not found: BENCH_AEB_DIR must name the benchmark's pages"
        )
    truth = json.loads(truth_file.read_text("utf-8"))
    pages = []
    for page_id in sorted(truth)[:limit]:
        raw = gzip.decompress((directory / "html" / f"{page_id}.html.gz").read_bytes())
        entry = truth[page_id]
        pages.append(Page(page_id, raw.decode("utf-8"), entry["url"], entry["articleBody"]))
    return pages


def _cpu_ms(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.thread_time()
    result = func()
    return (time.thread_time() - start) * 1000.0, result


def measure(pages: Sequence[Page], repeat: int = 3) -> dict[str, Any]:
    """Scores and CPU ms per page of ``extract_page`` and plain ``trafilatura.extract``."""
    import trafilatura

    from newsspider.extract import extract_page

    if not pages:
        raise ValueError("no benchmark pages to measure")
    ours_ms: list[float] = []
    plain_ms: list[float] = []
    ours: list[tuple[str, PageScore]] = []
    plain: list[tuple[str, PageScore]] = []
    for page in pages:

        def run_ours(page: Page = page) -> str:
            return str(extract_page(page.html, page.url)["body_text"])

        def run_plain(page: Page = page) -> str:
            return trafilatura.extract(page.html, url=page.url) or ""

        best = {run_ours: float("inf"), run_plain: float("inf")}
        texts: dict[Callable[[], str], str] = {}
        for round_ in range(repeat):
            # Alternate which side runs first: neither always finds the caches warm.
            for func in (run_ours, run_plain) if round_ % 2 == 0 else (run_plain, run_ours):
                ms, texts[func] = _cpu_ms(func)
                best[func] = min(best[func], ms)
        ours_ms.append(best[run_ours])
        plain_ms.append(best[run_plain])
        ours.append((page.id, page_score(page.truth, texts[run_ours])))
        plain.append((page.id, page_score(page.truth, texts[run_plain])))
    mine, theirs = score(s for _, s in ours), score(s for _, s in plain)
    halves = {
        f"extraction_f1_half_{h}": round(score(s for i, s in ours if half(i) == h)["f1"], 4)
        for h in "ab"
    }
    return {
        "pages": len(pages),
        "repeat": repeat,
        "extraction_f1": round(mine["f1"], 4),
        "extraction_precision": round(mine["precision"], 4),
        "extraction_recall": round(mine["recall"], 4),
        **halves,
        "trafilatura_f1": round(theirs["f1"], 4),
        "trafilatura_precision": round(theirs["precision"], 4),
        "trafilatura_recall": round(theirs["recall"], 4),
        "extraction_ms_per_page": round(statistics.fmean(ours_ms), 2),
        "trafilatura_ms_per_page": round(statistics.fmean(plain_ms), 2),
        "extraction_time_ratio": round(sum(ours_ms) / sum(plain_ms), 3),
        "worst_pages": [
            {"id": i, "precision": s.precision, "recall": s.recall}
            for i, s in sorted(ours, key=lambda x: (x[1].precision or 0) * (x[1].recall or 0))[:10]
        ],
    }


FIGURES = (
    "extraction_f1", "extraction_precision", "extraction_recall",
    "extraction_f1_half_a", "extraction_f1_half_b",
    "trafilatura_f1", "trafilatura_precision", "trafilatura_recall",
    "extraction_ms_per_page", "trafilatura_ms_per_page", "extraction_time_ratio",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.extraction", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=AEB_DIR, help="the benchmark's pages")
    parser.add_argument("--repeat", type=int, default=3, help="runs per page (best CPU time)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    args = parser.parse_args(argv)
    try:
        pages = load_pages(args.dir, args.limit)
        result = measure(pages, repeat=args.repeat)
    except (OSError, ValueError) as exc:
        print(f"bench.extraction: {exc}", file=sys.stderr)
        return 1
    for name in FIGURES:
        print(f"{name}: {result[name]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
