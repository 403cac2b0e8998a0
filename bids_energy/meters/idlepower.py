"""Where a node's idle power P_idle comes from, for the shared-node split (attribution.py).

Three sources, in this order, each recorded with its method and value:

1. given: ``--idle-power-w`` (measured by the admin on the idle node, or from the vendor);
2. estimated from the run: the intercept of node power against busy CPUs over the run's
   intervals (Theil-Sen: the median of pairwise slopes, robust to the odd glitched or
   turbo interval), only when the load varied enough for an intercept to mean something;
3. assumed: a fraction of the rated power (TDP) of the packages.

IDLE_FRACTION_OF_TDP = 0.2 comes from Cloud Carbon Footprint's SPECpower-derived minimum and
maximum watts per vCPU (ccf-coefficients, SPECpower_ssj2008): Skylake 0.64 / 4.05 W, Cascade
Lake 0.64 / 3.80 W, Broadwell 0.71 / 3.54 W, AMD EPYC Milan 0.45 / 1.87 W, i.e. idle/max
0.16-0.24. Those are whole-server figures, applied here to the CPU packages; the values are
as quoted in GreenKube's methodology page and were not checked against ccf-coefficients'
own output files. Treat the fraction as an assumption near the middle of that range.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

IDLE_FRACTION_OF_TDP = 0.2
IDLE_FRACTION_SOURCE = (
    "assumption: idle = 0.2 x TDP, near the middle of the idle/max ratios 0.16-0.24 of Cloud "
    "Carbon Footprint's SPECpower-derived min/max watts per vCPU (Skylake, Cascade Lake, "
    "Broadwell, EPYC Milan); not checked against ccf-coefficients' output files")
MIN_POINTS = 8  # intervals needed before an intercept is attempted
MIN_BUSY_SPREAD_CPUS = 1.0  # the middle 80% of loads must span at least this many busy CPUs
MIN_BUSY_SPREAD_FRACTION = 0.1  # ... and this fraction of the node's CPUs
MAX_PAIRS_POINTS = 400  # Theil-Sen is O(n^2): points are thinned evenly to this many


@dataclass(frozen=True)
class IdlePower:
    value_w: float
    method: str  # "given: --idle-power-w" | "estimated: theil-sen intercept" | "assumed: ..."
    inputs: dict = field(default_factory=dict)


def theil_sen(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """(slope, intercept) of the Theil-Sen line; None with fewer than two distinct x."""
    n = len(xs)
    if n != len(ys) or n < 2:
        return None
    if n > MAX_PAIRS_POINTS:
        step = n / MAX_PAIRS_POINTS
        idx = [int(i * step) for i in range(MAX_PAIRS_POINTS)]
        xs, ys = [xs[i] for i in idx], [ys[i] for i in idx]
        n = len(xs)
    slopes = [(ys[j] - ys[i]) / (xs[j] - xs[i])
              for i in range(n) for j in range(i + 1, n) if xs[j] != xs[i]]
    if not slopes:
        return None
    slope = statistics.median(slopes)
    intercept = statistics.median(y - slope * x for x, y in zip(xs, ys, strict=True))
    return slope, intercept


def _quantile(sorted_xs: Sequence[float], q: float) -> float:
    i = min(len(sorted_xs) - 1, max(0, round(q * (len(sorted_xs) - 1))))
    return sorted_xs[i]


def estimate_from_run(points: Sequence[tuple[float, float]], node_cpus: int
                      ) -> tuple[IdlePower | None, str]:
    """The intercept of power vs busy CPUs, or None and the reason it was not trusted."""
    if len(points) < MIN_POINTS:
        return None, f"only {len(points)} intervals (need {MIN_POINTS})"
    xs = sorted(p[0] for p in points)
    spread = _quantile(xs, 0.9) - _quantile(xs, 0.1)
    need = max(MIN_BUSY_SPREAD_CPUS, MIN_BUSY_SPREAD_FRACTION * max(1, node_cpus))
    if spread < need:
        return None, (f"the load did not vary enough (busy CPUs 10th-90th percentile spread "
                      f"{spread:.2f}, need {need:.2f})")
    fit = theil_sen([p[0] for p in points], [p[1] for p in points])
    if fit is None:
        return None, "no two intervals with different loads"
    slope, intercept = fit
    if intercept < 0 or slope < 0:
        return None, f"implausible fit (intercept {intercept:.1f} W, slope {slope:.2f} W/CPU)"
    return IdlePower(round(intercept, 3), "estimated: theil-sen intercept of node power vs busy CPUs",
                     {"intervals": len(points), "busy_cpus_spread": round(spread, 3),
                      "slope_w_per_busy_cpu": round(slope, 3)}), ""


def from_tdp(tdp_w: float | None, tdp_source: str) -> IdlePower | None:
    if tdp_w is None or tdp_w <= 0:
        return None
    return IdlePower(round(IDLE_FRACTION_OF_TDP * tdp_w, 3),
                     f"assumed: {IDLE_FRACTION_OF_TDP} x TDP",
                     {"tdp_w": tdp_w, "tdp_source": tdp_source,
                      "fraction_source": IDLE_FRACTION_SOURCE})


def choose(given_w: float | None, points: Sequence[tuple[float, float]], node_cpus: int,
           fallback: IdlePower | None) -> IdlePower:
    """given > estimated from the run > fallback (TDP fraction); 0 W only when nothing is known,
    said so in the method (the whole node energy is then dynamic and split by busy CPU time)."""
    if given_w is not None:
        return IdlePower(float(given_w), "given: --idle-power-w")
    est, why = estimate_from_run(points, node_cpus)
    if est is not None:
        return est
    if fallback is not None:
        return IdlePower(fallback.value_w, fallback.method,
                         {**fallback.inputs, "not_estimated_because": why})
    return IdlePower(0.0, "unknown: no idle power given, estimable or rated",
                     {"not_estimated_because": why})
