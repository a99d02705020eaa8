"""Chart geometry for the templates' SVG: bars as numbers, never markup.

The templates draw ``<rect>`` elements from these (``templates/_charts.html``);
no script, no external library, nothing fetched.  Hand-written because the
charts are three bar shapes — a charting library would be a script to vendor
and to allow in the Content-Security-Policy.

Reads no settings, writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str  # class: the bar's colour comes from the stylesheet
    label: str  # the tooltip (<title>)


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    label: str  # what the chart shows, for screen readers (aria-label)


def sparkline(
    points: Sequence[tuple[float, str, str]], slots: int = 30, width: int = 240, height: int = 44,
) -> Chart:
    """Vertical bars, oldest left, newest at the right edge; ``points`` are
    ``(value, css class, tooltip)`` oldest first, at most ``slots`` of them.

    Every slot has the same width whatever the number of runs, so two
    portals' charts line up; a zero is drawn as a thin bar in its colour (a
    failed run with no items must still show).
    """
    points = list(points)[-slots:]
    slot = width / slots
    gap = 1.0 if slot > 3 else 0.0
    top = max((value for value, _, _ in points), default=0.0)
    bars = []
    offset = slots - len(points)
    for i, (value, css, label) in enumerate(points):
        h = max(2.0, (height - 2) * value / top) if top > 0 else 2.0
        bars.append(Bar(round((offset + i) * slot, 2), round(height - h, 2), round(slot - gap, 2),
                        round(h, 2), css, label))
    peak = f"{top:,.0f}" if top else "0"
    return Chart(width, height, tuple(bars),
                 f"{len(points)} runs, up to {peak} items per run, oldest left")


def hbars(items: Sequence[tuple[str, float]], width: int = 220, height: int = 14,
          css: str = "bar") -> list[tuple[str, float, Chart]]:
    """One horizontal bar per ``(label, value)``, scaled to the largest value."""
    top = max((value for _, value in items), default=0.0)
    out = []
    for label, value in items:
        w = max(1.0, width * value / top) if top > 0 and value > 0 else 0.0
        bar = Bar(0.0, 0.0, round(w, 2), float(height), css, f"{label}: {value:,.0f}")
        out.append((label, value, Chart(width, height, (bar,), f"{label}: {value:,.0f}")))
    return out


def share_bar(share: float, width: int = 160, height: int = 12) -> Chart:
    """A 0–1 share as a filled bar over a track; the class says good, fair or poor."""
    share = min(1.0, max(0.0, share))
    css = "good" if share >= 0.9 else "fair" if share >= 0.5 else "poor"
    track = Bar(0.0, 0.0, float(width), float(height), "track", "")
    fill = Bar(0.0, 0.0, round(width * share, 2), float(height), css, f"{share:.0%}")
    return Chart(width, height, (track, fill), f"{share:.0%}")
