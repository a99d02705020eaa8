"""``simhash64`` is a stored value: the fast implementation must equal the plain definition.

The reference below is the definition written the obvious way (numpy's
``unique`` and an integer column sum); stored ``simhash`` values and
``dedup_keys`` ids depend on every bit, so any change of the fast path that
alters a single value fails here.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest

from newsspider.normalize.text import simhash64

CORPUS = Path(__file__).parent / "fixtures" / "corpus"


def reference_simhash64(text: str) -> int:
    compact = re.sub(r"[\s\u3000\xa0]+", "", re.sub(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]", "", text))
    if not compact:
        return 0
    points = [ord(c) for c in compact] + [0] * max(0, 3 - len(compact))
    keys = np.unique(np.array(
        [(a << 42) | (b << 21) | c for a, b, c in zip(points, points[1:], points[2:], strict=False)],
        dtype=np.uint64,
    ))
    mask = (1 << 64) - 1
    counts = [0] * 64
    for key in keys.tolist():
        z = (key + 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        for bit in range(64):
            counts[bit] += (z >> bit) & 1
    value = sum(1 << bit for bit in range(64) if counts[bit] * 2 > len(keys))
    return value - (1 << 64) if value >= 1 << 63 else value


def corpus_texts() -> list[str]:
    texts = [path.read_text(encoding="utf-8") for path in sorted(CORPUS.glob("*/*.md"))]
    assert len(texts) > 40
    return texts


@pytest.mark.parametrize("text", [
    "", "a", "ab", "abc", " \u3000\xa0\u200b", "a b", "高科技行业门户", "OFweek 高科技行业门户 新闻\n第二段。",
    "aaaa", "\U0001F600\U0001F601\U0001F602 emoji", "x" * 10_000,
])
def test_edge_texts_equal_the_definition(text: str) -> None:
    assert simhash64(text) == reference_simhash64(text)


def test_known_values_never_change() -> None:
    # Values stored by earlier releases: a store keeps them across upgrades.
    assert simhash64("高科技行业门户") == -6380070205002689683
    assert simhash64("OFweek 高科技行业门户 新闻\n第二段。") == -8397221464404010399
    assert simhash64("abc") == -5526412699902769700


def test_corpus_and_random_texts_equal_the_definition() -> None:
    rnd = random.Random(8)
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 60)] + list("abc \n\u3000\xa0\u200b。，")
    texts = corpus_texts() + ["".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 400)))
                              for _ in range(300)]
    for text in texts:
        assert simhash64(text) == reference_simhash64(text), text[:80]
