"""A bounded timeline: rows of per-interval means, halved by merging neighbours when full.

Merging keeps duration-weighted means, so a 10-hour run at 1 s sampling still fits in
``max_points`` rows whose values are true averages over their (longer) spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class TimelineRow(NamedTuple):
    """One row's values, in column order (the footprint names its columns after these)."""

    t_s: float
    job_cpu_share: float | None
    job_cpu_w: float | None
    node_cpu_w: float | None
    job_mem_gb: float | None
    job_memory_w: float | None
    job_gpu_w: float | None
    node_gpu_w: float | None


@dataclass(frozen=True)
class TimelineData:
    """The rows as kept (unrounded) and the span each row covers after merging."""

    interval_s: float
    rows: tuple[TimelineRow, ...]


def _wmean(a: float | None, wa: float, b: float | None, wb: float) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return (a * wa + b * wb) / (wa + wb) if wa + wb > 0 else (a + b) / 2


def merge_rows(a: tuple[float, list], b: tuple[float, list]) -> tuple[float, list]:
    """(dt, [t_end, v1, ...]) pairs; the merged row ends where b ends."""
    dta, ra = a
    dtb, rb = b
    vals = [rb[0]] + [_wmean(x, dta, y, dtb) for x, y in zip(ra[1:], rb[1:], strict=True)]
    return dta + dtb, vals


class Timeline:
    def __init__(self, interval_s: float, max_points: int = 720) -> None:
        self.interval_s = interval_s
        self.max_points = max(2, max_points)
        self.rows: list[tuple[float, list]] = []
        self.merges = 0

    def add(self, dt_s: float, row: list, fold_if_short: bool = False) -> None:
        """Append; a very short final interval is folded into the previous row instead."""
        if fold_if_short and self.rows and dt_s < 0.2 * self.interval_s:
            self.rows[-1] = merge_rows(self.rows[-1], (dt_s, row))
            return
        self.rows.append((dt_s, row))
        if len(self.rows) > self.max_points:
            merged = [merge_rows(self.rows[i], self.rows[i + 1])
                      for i in range(0, len(self.rows) - 1, 2)]
            if len(self.rows) % 2:
                merged.append(self.rows[-1])
            self.rows = merged
            self.merges += 1

    def data(self) -> TimelineData:
        return TimelineData(self.interval_s * (2 ** self.merges),
                            tuple(TimelineRow(*row) for _, row in self.rows))
