"""Pure arithmetic for splitting node energy to the job and for reading counters.

No I/O here: every function takes numbers and returns numbers, so the hand-computed
values in tests/unit/test_meters_attribution.py pin the behaviour down.
"""

from __future__ import annotations

from dataclasses import dataclass


def counter_delta(before: int, after: int, max_range: int | None) -> int | None:
    """Increase of a wrapping counter (RAPL energy_uj wraps at max_energy_range_uj).

    One wrap is assumed when ``after < before``; without a known range a decrease cannot
    be explained and None is returned so the caller drops the interval instead of
    reporting negative energy.
    """
    if after >= before:
        return after - before
    if max_range is None or max_range <= 0:
        return None
    return after + (max_range - before) if before <= max_range else None


def clamp01(x: float) -> float:
    return 0.0 if x != x or x < 0 else 1.0 if x > 1 else x  # x != x: NaN


def job_share(job_cpu_delta_s: float, node_busy_delta_s: float) -> float:
    """The job's share of the node's busy CPU time in an interval, clamped to [0, 1].

    Tick rounding can put the job a little above the node; with no node busy time the
    job cannot have used any, so the share is 0 (never a division by zero).
    """
    if node_busy_delta_s <= 0:
        return 0.0
    return clamp01(job_cpu_delta_s / node_busy_delta_s)


def busy_ratio(node_busy_delta_s: float, node_total_delta_s: float) -> float:
    if node_total_delta_s <= 0:
        return 0.0
    return clamp01(node_busy_delta_s / node_total_delta_s)


@dataclass(frozen=True)
class Split:
    """One interval's node energy cut into the job's part, the rest of the active part, and idle."""

    node_j: float
    active_j: float
    idle_j: float
    job_j: float


def kepler_split(node_delta_j: float, job_cpu_delta_s: float, node_busy_delta_s: float,
                 node_total_delta_s: float) -> Split:
    """Kepler's split: active = dE x busy ratio; job = active x job share of busy CPU time.

    Idle energy (what the node burns doing nothing) is reported apart, not billed to the job.
    """
    node = max(0.0, node_delta_j)
    active = node * busy_ratio(node_busy_delta_s, node_total_delta_s)
    job = active * job_share(job_cpu_delta_s, node_busy_delta_s)
    return Split(node_j=node, active_j=active, idle_j=node - active, job_j=job)


def plausible_cpu_delta(cpu_delta_s: float, dt_s: float, logical_cores: int,
                        slack_s: float = 0.3) -> bool:
    """A CPU-time increase no machine could produce in dt (clock jump, pid reuse) is absurd."""
    return 0 <= cpu_delta_s <= dt_s * max(1, logical_cores) * 1.25 + slack_s


def plausible_power(delta_j: float, dt_s: float, max_w: float) -> bool:
    if dt_s <= 0:
        return False
    return 0 <= delta_j / dt_s <= max_w


def j_to_wh(j: float) -> float:
    return j / 3600.0
