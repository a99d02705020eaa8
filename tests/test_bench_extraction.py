"""The benchmark's scorer (bench/extraction.py) on hand-made cases, and on a handful of its pages.

The cases follow the scorer's description in ``shared/aeb-dev/README.md``.
No score threshold here: a score is a benchmark figure (``make bench``).
"""

from __future__ import annotations

import math

import pytest

from bench.extraction import (
    FIGURES,
    FIXTURE_DIR,
    PageScore,
    half,
    load_pages,
    measure,
    page_score,
    score,
    shingles,
)
from newsspider.extract import extract_page


def test_shingles_are_runs_of_four_word_tokens_counted_as_a_multiset() -> None:
    assert shingles("One, two: three four five!") == {
        ("One", "two", "three", "four"): 1, ("two", "three", "four", "five"): 1,
    }
    assert shingles("a b c d a b c d")[("a", "b", "c", "d")] == 2


def test_a_text_of_fewer_than_four_tokens_is_one_shingle_and_no_token_none() -> None:
    assert shingles("just two") == {("just", "two"): 1}
    assert shingles(" — … ") == {}


def test_tokens_are_unicode_word_runs_and_case_counts() -> None:
    assert shingles("今天 天气 很好 真的") == {("今天", "天气", "很好", "真的"): 1}
    assert page_score("Hello big wide world", "hello big wide world").precision == 0.0


def test_identical_texts_score_one() -> None:
    text = "The quick brown fox jumps over the lazy dog. It was not amused."
    assert page_score(text, text) == PageScore(1.0, 0.0, 0.0, 1.0, 1.0)


def test_counts_are_normalized_by_their_sum_and_ratios_follow() -> None:
    truth = "a b c d a b c d"  # abcd bcda cdab dabc abcd
    found = page_score(truth, "a b c d")  # abcd once: TP 1, FN 4
    assert (found.tp, found.fp, found.fn) == pytest.approx((0.2, 0.0, 0.8))
    assert found.precision == 1.0
    assert found.recall == pytest.approx(0.2)
    extra = page_score("w x y z", "w x y z and more")  # TP 1, FP 2
    assert extra.precision == pytest.approx(1 / 3)
    assert extra.recall == 1.0


def test_no_shared_shingle_scores_zero() -> None:
    miss = page_score("one two three four", "five six seven eight")
    assert (miss.precision, miss.recall) == (0.0, 0.0)


def test_an_empty_prediction_has_no_precision_and_zero_recall() -> None:
    empty = page_score("one two three four", "")
    assert empty.precision is None
    assert empty.recall == 0.0


def test_the_score_is_f1_of_the_mean_precision_and_recall_over_defined_pages() -> None:
    pages = [
        PageScore(1, 0, 0, 1.0, 1.0),
        PageScore(0.5, 0.5, 0, 0.5, 1.0),
        PageScore(0, 0, 1, None, 0.0),  # nothing predicted: counts for recall only
    ]
    result = score(pages)
    assert result["precision"] == pytest.approx(0.75)
    assert result["recall"] == pytest.approx(2 / 3)
    assert result["f1"] == pytest.approx(2 * 0.75 * (2 / 3) / (0.75 + 2 / 3))


def test_the_halves_depend_on_the_id_only() -> None:
    ids = [f"{n:064x}" for n in range(200)]
    assert [half(i) for i in ids] == [half(i) for i in ids]
    assert 60 < sum(half(i) == "a" for i in ids) < 140


@pytest.fixture(scope="module")
def pages():
    return load_pages(FIXTURE_DIR)


def test_the_fixture_pages_load_with_their_truth(pages) -> None:
    assert len(pages) == 5
    for page in pages:
        assert page.url.startswith("http") and page.truth.strip()
        assert "<html" in page.html.lower()
        assert page_score(page.truth, page.truth).precision == 1.0


def test_extract_page_finds_a_body_on_each_page(pages) -> None:
    for page in pages:
        fields = extract_page(page.html, page.url)
        found = page_score(page.truth, fields["body_text"])
        assert found.recall is not None and found.recall > 0, page.url


def test_measure_reports_every_figure(pages) -> None:
    result = measure(pages[:2], repeat=1)
    for name in FIGURES:
        value = result[name]
        assert isinstance(value, float) and math.isfinite(value), (name, value)
    for name in ("extraction_f1", "extraction_precision", "extraction_recall", "trafilatura_f1"):
        assert 0.0 <= result[name] <= 1.0
    assert result["extraction_ms_per_page"] > 0 and result["trafilatura_ms_per_page"] > 0


def test_a_missing_benchmark_directory_is_named(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="BENCH_AEB_DIR"):
        load_pages(tmp_path / "nowhere")
