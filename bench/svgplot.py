"""Line charts as SVG text, for the benchmark's pictures (no plotting library).

A :class:`Chart` has log or linear axes, one line per :class:`Series`
(points may be missing), optional dashed horizontal target lines, and a
legend; :func:`page` lays several charts out side by side in one SVG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

WIDTH, HEIGHT = 560, 380
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 20, 40, 120
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f")


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]  # one per x value
    dashed: bool = False
    colour: int | None = None  # index into COLOURS; by position when None


@dataclass(frozen=True)
class Target:
    """A horizontal line at ``value`` (a target to stay under)."""

    label: str
    value: float


@dataclass
class Chart:
    title: str
    x_label: str
    y_label: str
    xs: Sequence[float]
    series: list[Series] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    log_x: bool = True
    log_y: bool = True

    def _range(self) -> tuple[float, float]:
        values = [v for s in self.series for v in s.values if v is not None and v > 0]
        values += [t.value for t in self.targets]
        low, high = min(values), max(values)
        if self.log_y:
            return 10 ** math.floor(math.log10(low)), 10 ** math.ceil(math.log10(high))
        return 0.0, _nice(high * 1.1)

    def svg(self, left: float) -> str:
        plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
        y_low, y_high = self._range()
        x_low, x_high = min(self.xs), max(self.xs)

        def px(x: float) -> float:
            return left + _LEFT + _share(x, x_low, x_high, self.log_x) * plot_w

        def py(y: float) -> float:
            return _TOP + plot_h - _share(y, y_low, y_high, self.log_y) * plot_h

        out = [f'<text x="{left + WIDTH / 2}" y="22" text-anchor="middle" font-weight="bold">'
               f"{escape(self.title)}</text>",
               f'<rect x="{left + _LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" '
               'fill="none" stroke="#444"/>']
        for tick in _ticks(y_low, y_high, self.log_y):
            y = py(tick)
            out += [f'<line x1="{left + _LEFT}" y1="{y:.1f}" x2="{left + _LEFT + plot_w}" '
                    f'y2="{y:.1f}" stroke="#ddd"/>',
                    f'<text x="{left + _LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                    f"{_label(tick)}</text>"]
        for x in self.xs:
            out.append(f'<text x="{px(x):.1f}" y="{_TOP + plot_h + 16}" text-anchor="middle">'
                       f"{_label(x)}</text>")
        out += [f'<text x="{left + _LEFT + plot_w / 2}" y="{_TOP + plot_h + 34}" '
                f'text-anchor="middle">{escape(self.x_label)}</text>',
                f'<text transform="translate({left + 16},{_TOP + plot_h / 2}) rotate(-90)" '
                f'text-anchor="middle">{escape(self.y_label)}</text>']
        legend: list[tuple[str, str, bool]] = []
        for target in self.targets:
            y = py(target.value)
            out.append(f'<line x1="{left + _LEFT}" y1="{y:.1f}" x2="{left + _LEFT + plot_w}" '
                       f'y2="{y:.1f}" stroke="#000" stroke-dasharray="2,4"/>')
            out.append(f'<text x="{left + _LEFT + plot_w - 4}" y="{y - 4:.1f}" '
                       f'text-anchor="end" font-size="10">{escape(target.label)}</text>')
        for n, series in enumerate(self.series):
            colour = COLOURS[(n if series.colour is None else series.colour) % len(COLOURS)]
            points = [(px(x), py(v)) for x, v in zip(self.xs, series.values, strict=True)
                      if v is not None and v > 0]
            dash = ' stroke-dasharray="6,3"' if series.dashed else ""
            if len(points) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                           f'stroke-width="2"{dash}/>')
            out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>'
                    for x, y in points]
            legend.append((series.label, colour, series.dashed))
        for n, (label, colour, dashed) in enumerate(legend):
            x = left + _LEFT + (n % 2) * (plot_w / 2)
            y = _TOP + plot_h + 56 + (n // 2) * 16
            dash = ' stroke-dasharray="6,3"' if dashed else ""
            out += [f'<line x1="{x}" y1="{y - 4}" x2="{x + 22}" y2="{y - 4}" stroke="{colour}" '
                    f'stroke-width="2"{dash}/>',
                    f'<text x="{x + 28}" y="{y}">{escape(label)}</text>']
        return "\n".join(out)


def page(charts: Sequence[Chart]) -> str:
    """One SVG document with ``charts`` side by side."""
    body = "\n".join(chart.svg(n * WIDTH) for n, chart in enumerate(charts))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH * len(charts)}" '
            f'height="{HEIGHT}" font-family="sans-serif" font-size="12">\n'
            f'<rect width="100%" height="100%" fill="#fff"/>\n{body}\n</svg>\n')


def _share(value: float, low: float, high: float, log: bool) -> float:
    """Where ``value`` lies between ``low`` and ``high`` (0 to 1)."""
    if log:
        value, low, high = math.log10(value), math.log10(low), math.log10(high)
    return (value - low) / ((high - low) or 1)


def _ticks(low: float, high: float, log: bool) -> list[float]:
    if log:
        return [10.0 ** e for e in range(round(math.log10(low)), round(math.log10(high)) + 1)]
    step = _nice((high - low) / 5)
    return [low + step * n for n in range(int((high - low) / step) + 1)]


def _nice(value: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``value``."""
    power = 10 ** math.floor(math.log10(value)) if value > 0 else 1
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def _label(value: float) -> str:
    if value >= 1000 and value == int(value):
        return f"{int(value):,}"
    return f"{value:g}"
