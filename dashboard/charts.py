"""Server-side SVG charts for the staff dashboard: no JavaScript, no CDN, they render offline and scale to any width.

Each function returns an ``<svg>`` element (escaped labels, numbers from the data) with ``data-chart`` naming it,
a ``<title>`` for screen readers, and a ``viewBox`` so CSS sizes it to its container.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Colour-blind-safe palette (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28


def _nice_max(value: float) -> float:
    """The top of the y axis: four gridline steps of 1, 2, 2.5 or 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value / 4))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude * 4 >= value)
    return step * 4


def _svg(name: str, title: str, body: list[str], height: int = HEIGHT) -> SafeString:
    return mark_safe(  # noqa: S308 (every label below is escaped; numbers are formatted by us)
        f'<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _axes(top: float, days: Sequence[date], unit: str = "") -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        label = f"{value:.0f}" if top >= 4 else f"{value:.1f}"
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{label}{unit}</text>')
    if days:
        step = (WIDTH - LEFT - RIGHT) / len(days)
        for i in range(0, len(days), max(len(days) // 6, 1)):
            x = LEFT + step * (i + 0.5)
            parts.append(f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{days[i]:%b %d}</text>')
    return parts


def stacked_bars(name: str, title: str, days: Sequence[date], series: Mapping[str, Sequence[int]]) -> SafeString:
    """One bar per day, stacked by series (insertion order = colour order); a legend lists the series."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(days))]
    top = max(_nice_max(max(totals, default=0)), 4)  # counts: whole-number gridlines
    plot_h = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    body = _axes(top, days)
    for i, day in enumerate(days):
        y: float = TOP + plot_h
        for (label, values), colour in zip(series.items(), PALETTE * 4, strict=False):
            if not values[i]:
                continue
            h = plot_h * values[i] / top
            y -= h
            body.append(
                f'<rect class="bar" x="{LEFT + step * i + step * 0.15:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(label)} {day:%Y-%m-%d}: {values[i]}</title></rect>'
            )
    return _svg(name, title, body)


def lines(
    name: str, title: str, days: Sequence[date], series: Mapping[str, Sequence[float | None]], unit: str = ""
) -> SafeString:
    """One polyline per series; a None breaks the line (a day without data), each point gets a dot."""
    values = [v for vs in series.values() for v in vs if v is not None]
    top = _nice_max(max(values, default=0))
    plot_h = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    body = _axes(top, days, unit)
    for (label, points), colour in zip(series.items(), PALETTE, strict=False):
        segment: list[str] = []
        for i, value in enumerate([*points, None]):
            if value is None:
                if len(segment) > 1:
                    body.append(f'<polyline class="line" fill="none" stroke="{colour}" points="{" ".join(segment)}"/>')
                segment = []
                continue
            x, y = LEFT + step * (i + 0.5), TOP + plot_h - plot_h * value / top
            segment.append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}">'
                f"<title>{escape(label)} {days[i]:%Y-%m-%d}: {value:.0f}{escape(unit)}</title></circle>"
            )
    return _svg(name, title, body)


def horizontal_bars(name: str, title: str, items: dict[str, int]) -> SafeString:
    """One labelled bar per item with its count and share, largest first as given."""
    total = sum(items.values())
    row = 28
    height = max(len(items), 1) * row + 8
    top = max(items.values(), default=0) or 1
    label_w, value_w = 120, 110
    span = WIDTH - label_w - value_w
    body = []
    for i, ((label, count), colour) in enumerate(zip(items.items(), PALETTE * 4, strict=False)):
        y = 4 + i * row
        share = f"{100 * count / total:.0f}%" if total else "0%"
        body.append(f'<text class="label" x="{label_w - 6}" y="{y + 17}" text-anchor="end">{escape(label)}</text>')
        body.append(
            f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{span * count / top:.1f}" height="{row - 10}" '
            f'fill="{colour}"><title>{escape(label)}: {count}</title></rect>'
        )
        body.append(f'<text class="value" x="{WIDTH - value_w + 6}" y="{y + 17}">{count} ({share})</text>')
    if not items:
        body.append(f'<text class="label" x="{WIDTH / 2}" y="20" text-anchor="middle">no data yet</text>')
    return _svg(name, title, body, height=height)


def legend(series: Sequence[str]) -> list[tuple[str, str]]:
    return [(label, colour) for label, colour in zip(series, PALETTE * 4, strict=False)]
