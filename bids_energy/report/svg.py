"""Small inline-SVG plots, drawn in Python so the reports need no JavaScript and no network.

Every function returns one ``<svg class="plot">`` string. Each data mark carries
``class="pt"`` (or ``class="series"`` with ``data-n`` for lines) so tests and the browser check
can count what was drawn. All text goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

# Okabe-Ito palette: readable for the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def fmt(value: float) -> str:
    """A short human number for tick labels and tooltips."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    a = abs(value)
    if a == 0:
        return "0"
    if a < 1e6 and float(value).is_integer():
        return f"{int(value):,}"
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 10:
        return f"{value:.0f}" if a >= 100 else f"{value:.1f}"
    if a >= 1e-4:
        return f"{value:.3g}"
    return f"{value:.1e}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick positions covering [lo, hi] (1-2-5 steps)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(t, 12))
    return ticks


class Frame:
    """Plot area with linear x and y scales; maps data to pixels."""

    def __init__(
        self, x_range, y_range, width=640, height=300, left=70, right=16, top=14, bottom=44
    ):
        self.width, self.height = width, height
        self.left, self.right, self.top, self.bottom = left, right, top, bottom
        self.xt = nice_ticks(*x_range)
        self.yt = nice_ticks(*y_range)
        self.x0, self.x1 = self.xt[0], self.xt[-1]
        self.y0, self.y1 = self.yt[0], self.yt[-1]

    @property
    def pw(self) -> float:
        return self.width - self.left - self.right

    @property
    def ph(self) -> float:
        return self.height - self.top - self.bottom

    def x(self, v: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (v - self.x0) / span * self.pw

    def y(self, v: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return self.top + self.ph - (v - self.y0) / span * self.ph

    def axes(self, xlabel: str, ylabel: str, x_ticks: bool = True) -> list[str]:
        out = []
        for t in self.yt:
            yy = self.y(t)
            out.append(
                f'<line x1="{self.left}" x2="{self.width - self.right}" y1="{yy:.1f}" '
                f'y2="{yy:.1f}" class="grid"/>'
            )
            out.append(
                f'<text x="{self.left - 6}" y="{yy + 4:.1f}" text-anchor="end" '
                f'class="tick">{escape(fmt(t))}</text>'
            )
        if x_ticks:
            for t in self.xt:
                xx = self.x(t)
                out.append(
                    f'<text x="{xx:.1f}" y="{self.top + self.ph + 16}" '
                    f'text-anchor="middle" class="tick">{escape(fmt(t))}</text>'
                )
        out.append(
            f'<line x1="{self.left}" x2="{self.width - self.right}" '
            f'y1="{self.top + self.ph}" y2="{self.top + self.ph}" class="axis"/>'
        )
        out.append(
            f'<text x="{self.left + self.pw / 2:.1f}" y="{self.height - 6}" '
            f'text-anchor="middle" class="label">{escape(xlabel)}</text>'
        )
        out.append(
            f'<text transform="translate(12,{self.top + self.ph / 2:.1f}) rotate(-90)" '
            f'text-anchor="middle" class="label">{escape(ylabel)}</text>'
        )
        return out


def _svg(width: float, height: float, body: Sequence[str], title: str) -> str:
    return (
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="100%" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    out = []
    for i, (label, col) in enumerate(items):
        yy = y + i * 16
        out.append(
            f'<rect x="{x}" y="{yy - 9}" width="10" height="10" fill="{col}"/>'
            f'<text x="{x + 14}" y="{yy}" class="legend">{escape(label)}</text>'
        )
    return out


def _finite(values) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def line_plot(
    series: Sequence[dict],
    xlabel: str,
    ylabel: str,
    title: str,
    bands: Sequence[dict] = (),
    width: int = 720,
) -> str:
    """Lines over time; ``series`` = [{label, x, y, dashed?}], ``bands`` = [{label, x0, x1}].

    Bands (steps seen over time) are drawn as one row each under the plot, so a reader sees
    which tool was running when the power rose; bands sharing a label (a phase entered
    several times) share its row.
    """
    xs = _finite(v for s in series for v in s["x"])
    ys = _finite(v for s in series for v in s["y"])
    if not xs or not ys:
        return ""
    rows = list(dict.fromkeys(str(b["label"]) for b in bands))
    band_h = 14 * len(rows)
    height = 300 + band_h + (8 if bands else 0)
    f = Frame(
        (min(xs), max(xs)),
        (0.0, max(ys) * 1.05 or 1.0),
        width=width,
        height=height,
        left=70 + (90 if bands else 0),
        bottom=44 + band_h + (8 if bands else 0),
    )
    body = f.axes(xlabel, ylabel)
    legend = []
    for i, s in enumerate(series):
        pts = [
            (f.x(a), f.y(b))
            for a, b in zip(s["x"], s["y"], strict=False)
            if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)
        ]
        if not pts:
            continue
        d = "M" + " L".join(f"{a:.1f},{b:.1f}" for a, b in pts)
        dash = ' stroke-dasharray="5,3"' if s.get("dashed") else ""
        body.append(
            f'<path class="series" data-n="{len(pts)}" d="{d}" fill="none" '
            f'stroke="{color(i)}" stroke-width="2"{dash}>'
            f"<title>{escape(s['label'])}</title></path>"
        )
        legend.append((s["label"], color(i)))
    body += _legend(legend, f.left + 10, f.top + 12)
    base = f.top + f.ph + 24
    labelled: set[int] = set()
    for b in bands:
        j = rows.index(str(b["label"]))
        yy = base + j * 14
        x0, x1 = f.x(b["x0"]), f.x(max(b["x1"], b["x0"]))
        if j not in labelled:  # the row's label, once
            labelled.add(j)
            body.append(
                f'<text x="{f.left - 6}" y="{yy + 10}" text-anchor="end" class="tick">'
                f"{escape(b['label'])}</text>"
            )
        body.append(
            f'<rect class="pt band" x="{x0:.1f}" y="{yy + 1}" '
            f'width="{max(x1 - x0, 2):.1f}" height="11" fill="{color(j + 2)}" '
            f'opacity="0.8"><title>{escape(b["label"])}: {fmt(b["x0"])} to '
            f"{fmt(b['x1'])} s</title></rect>"
        )
    return _svg(width, height, body, title)


def hbar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    unit: str,
    title: str,
    notes: Sequence[str] | None = None,
    width: int = 720,
) -> str:
    """Horizontal bars, largest first as given; negative values extend left of zero."""
    if not labels:
        return ""
    vals = [float(v) if v is not None and math.isfinite(float(v)) else 0.0 for v in values]
    row = 22
    left = 200
    height = 30 + row * len(labels) + 28
    lo, hi = min(0.0, min(vals)), max(0.0, max(vals))
    f = Frame(
        (lo, hi if hi > lo else lo + 1),
        (0, 1),
        width=width,
        height=height,
        left=left,
        right=110,
        top=10,
        bottom=36,
    )
    body = []
    for t in f.xt:
        xx = f.x(t)
        body.append(
            f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{f.top}" y2="{f.top + f.ph}" '
            f'class="grid"/><text x="{xx:.1f}" y="{f.top + f.ph + 14}" '
            f'text-anchor="middle" class="tick">{escape(fmt(t))}</text>'
        )
    zero = f.x(0.0)
    for i, (lab, v) in enumerate(zip(labels, vals, strict=True)):
        yy = f.top + 4 + i * row
        x0, x1 = sorted((zero, f.x(v)))
        col = PALETTE[3] if v > 0 and lo < 0 else PALETTE[2] if v < 0 else PALETTE[0]
        note = f" ({notes[i]})" if notes and notes[i] else ""
        body.append(
            f'<text x="{left - 8}" y="{yy + 13}" text-anchor="end" class="tick">'
            f"{escape(lab)}</text>"
        )
        body.append(
            f'<rect class="pt" x="{x0:.1f}" y="{yy}" width="{max(x1 - x0, 1):.1f}" '
            f'height="{row - 6}" fill="{col}"><title>{escape(lab)}: {escape(fmt(v))} '
            f"{escape(unit)}{escape(note)}</title></rect>"
        )
        body.append(
            f'<text x="{width - f.right + 6}" y="{yy + 13}" class="tick">'
            f"{escape(fmt(v))}{escape(note)}</text>"
        )
    body.append(
        f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{f.top}" y2="{f.top + f.ph}" class="axis"/>'
    )
    body.append(
        f'<text x="{f.left + f.pw / 2:.1f}" y="{height - 4}" text-anchor="middle" '
        f'class="label">{escape(unit)}</text>'
    )
    return _svg(width, height, body, title)


def _quantile(sorted_vals: Sequence[float], q: float) -> float:
    n = len(sorted_vals)
    pos = (n - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


def thin(values: Sequence, max_n: int) -> list:
    """Every k-th value so at most ``max_n`` are drawn (deterministic, keeps the spread)."""
    if len(values) <= max_n:
        return list(values)
    k = -(-len(values) // max_n)
    return list(values[::k])


def box_strip(
    groups: Sequence[tuple[str, Sequence[float]]],
    ylabel: str,
    title: str,
    width: int = 720,
    max_dots: int = 300,
) -> str:
    """Box (quartiles, whiskers to min/max) over all values, with up to ``max_dots`` participants
    per group drawn as jittered dots (beyond that the dots add bytes, not information)."""
    groups = [(lab, _finite(v)) for lab, v in groups]
    groups = [(lab, v) for lab, v in groups if v]
    if not groups:
        return ""
    allv = [x for _, v in groups for x in v]
    f = Frame(
        (0, len(groups)),
        (min(0.0, min(allv)), max(allv) * 1.05 or 1.0),
        width=width,
        height=320,
        bottom=70,
    )
    f.x0, f.x1 = 0, len(groups)
    body = f.axes("", ylabel, x_ticks=False)
    slot = f.pw / len(groups)
    for i, (lab, vals) in enumerate(groups):
        cx = f.left + slot * (i + 0.5)
        s = sorted(vals)
        q1, med, q3 = (_quantile(s, q) for q in (0.25, 0.5, 0.75))
        bw = min(60, slot * 0.5)
        col = color(i)
        body.append(
            f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{f.y(s[0]):.1f}" '
            f'y2="{f.y(s[-1]):.1f}" stroke="{col}"/>'
        )
        body.append(
            f'<rect x="{cx - bw / 2:.1f}" y="{f.y(q3):.1f}" width="{bw:.1f}" '
            f'height="{max(f.y(q1) - f.y(q3), 1):.1f}" fill="{col}" fill-opacity="0.15" '
            f'stroke="{col}"/>'
        )
        body.append(
            f'<line x1="{cx - bw / 2:.1f}" x2="{cx + bw / 2:.1f}" y1="{f.y(med):.1f}" '
            f'y2="{f.y(med):.1f}" stroke="{col}" stroke-width="2"/>'
        )
        for k, v in enumerate(thin(vals, max_dots)):
            jitter = ((k * 0.618034) % 1.0 - 0.5) * bw * 0.8  # deterministic spread
            body.append(
                f'<circle class="pt" cx="{cx + jitter:.1f}" cy="{f.y(v):.1f}" r="3" '
                f'fill="{col}" fill-opacity="0.7"><title>{escape(lab)}: '
                f"{escape(fmt(v))}</title></circle>"
            )
        body.append(
            f'<text x="{cx:.1f}" y="{f.top + f.ph + 16}" text-anchor="middle" '
            f'class="tick">{escape(lab)}</text>'
        )
        body.append(
            f'<text x="{cx:.1f}" y="{f.top + f.ph + 30}" text-anchor="middle" '
            f'class="tick">n={len(vals)}</text>'
        )
    return _svg(width, 320, body, title)


def scatter(
    points: Sequence[dict],
    xlabel: str,
    ylabel: str,
    title: str,
    width: int = 720,
    front: Sequence[bool] | None = None,
) -> str:
    """Points [{x, y, group, label}], coloured by group; ``front`` marks and joins Pareto points."""
    flags = list(front) if front is not None else [False] * len(points)
    keep = [
        (p, on)
        for p, on in zip(points, flags, strict=True)
        if p["x"] is not None
        and p["y"] is not None
        and math.isfinite(p["x"])
        and math.isfinite(p["y"])
    ]
    if not keep:
        return ""
    xs, ys = [p["x"] for p, _ in keep], [p["y"] for p, _ in keep]
    ylo = min(ys) if front is not None else min(0.0, min(ys))
    xlo = min(xs) if front is not None else min(0.0, min(xs))
    f = Frame((xlo, max(xs) * 1.05 or 1.0), (ylo, max(ys) * 1.02 or 1.0), width=width, height=320)
    body = f.axes(xlabel, ylabel)
    groups = {g: i for i, g in enumerate(dict.fromkeys(p["group"] for p, _ in keep))}
    fpts = sorted((p["x"], p["y"]) for p, on in keep if on)
    if len(fpts) > 1:
        d = "M" + " L".join(f"{f.x(a):.1f},{f.y(b):.1f}" for a, b in fpts)
        body.append(
            f'<path class="front" d="{d}" fill="none" stroke="#444" stroke-dasharray="4,3"/>'
        )
    for p, on_front in keep:
        col = color(groups[p["group"]])
        r = 6 if on_front else 4
        ring = ' stroke="#000" stroke-width="2"' if on_front else ""
        label = p.get("label") or p["group"]
        body.append(
            f'<circle class="pt" cx="{f.x(p["x"]):.1f}" cy="{f.y(p["y"]):.1f}" r="{r}" '
            f'fill="{col}" fill-opacity="0.75"{ring}><title>{escape(label)}: '
            f"{escape(fmt(p['x']))}, {escape(fmt(p['y']))}"
            f"{' (Pareto front)' if on_front else ''}</title></circle>"
        )
        if front is not None:
            body.append(
                f'<text x="{f.x(p["x"]) + 8:.1f}" y="{f.y(p["y"]) - 6:.1f}" '
                f'class="tick">{escape(label)}</text>'
            )
    if front is None:
        body += _legend([(g, color(i)) for g, i in groups.items()], f.left + 10, f.top + 12)
    return _svg(width, 320, body, title)
