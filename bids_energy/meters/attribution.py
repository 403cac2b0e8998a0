"""Pure arithmetic for a job's share of a shared node's energy, and for reading counters.

No I/O here: every function takes numbers and returns numbers, so the hand-computed
values in tests/unit/test_meters_attribution.py pin the behaviour down.

The one definition of a job's energy on a shared node (docs/measurement.md §2), used by
every CPU path (RAPL, TDP model) and importable by the GPU and memory meters:

    node power       P = P_idle + dynamic
    job dynamic      = (node energy - P_idle x dt) x job CPU time / node *busy* CPU time
    job idle share   = P_idle x dt x CPUs the job holds / node CPUs
    job energy       = job dynamic + job idle share          (the published figure)
    remainder        = node energy - job energy              (neighbours + unheld idle)

When P is linear in busy CPUs (P = P_idle + k x busy) the dynamic part is k x job CPU
time whatever the neighbours do, and the idle share depends only on what the job holds.
Dividing by the node's *total* CPU time instead (Kepler's busy-ratio split) makes the job
pay part of its neighbours' dynamic power; dividing all of dE by busy time makes it pay
all of the idle power when alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def counter_delta(before: int, after: int, max_range: int | None) -> int | None:
    """Increase of a wrapping counter (RAPL energy_uj wraps at max_energy_range_uj).

    One wrap is assumed when ``after < before`` (the caller keeps intervals short enough
    that two wraps cannot happen: ``max_safe_interval_s``); without a known range a decrease
    cannot be explained and None is returned so the caller drops the interval instead of
    reporting negative energy.
    """
    if after >= before:
        return after - before
    if max_range is None or max_range <= 0:
        return None
    return after + (max_range - before) if before <= max_range else None


def max_safe_interval_s(max_range_uj: int | None, max_power_w: float) -> float | None:
    """Longest interval in which a counter wrapping at max_range_uj cannot wrap twice.

    At ``max_power_w`` the counter covers its whole range in max_range / power seconds;
    a longer interval could hide a second wrap (200 W over 3600 s read as one wrap of a
    262 kJ counter looks like a plausible 54 W). None when the range is unknown.
    """
    if not max_range_uj or max_range_uj <= 0 or max_power_w <= 0:
        return None
    return max_range_uj / 1e6 / max_power_w


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


def held_cpus_in_interval(held_cpus: float | None, job_cpu_delta_s: float, dt_s: float,
                          node_cpus: int) -> float:
    """CPUs the job holds in an interval: its allocation, else the CPUs it used (CPU-s / dt)."""
    n = max(1, node_cpus)
    if held_cpus is not None and held_cpus > 0:
        return min(float(held_cpus), float(n))
    if dt_s <= 0:
        return 0.0
    return min(max(0.0, job_cpu_delta_s / dt_s), float(n))


@dataclass(frozen=True)
class JobSplit:
    """A node's energy cut by the one definition; joules."""

    node_j: float
    node_idle_j: float  # P_idle x dt: what the node burns doing nothing
    job_dynamic_j: float
    job_idle_j: float
    idle_w: float

    @property
    def job_j(self) -> float:
        return self.job_dynamic_j + self.job_idle_j

    @property
    def remainder_j(self) -> float:
        """Node energy not billed to the job: neighbours' work and the idle power they hold."""
        return self.node_j - self.job_j


def split_sums(node_j: float, dt_s: float, share_node_j: float, share_dt_s: float,
               held_cpu_s: float, idle_w: float, node_cpus: int) -> JobSplit:
    """The definition on sums over intervals (each interval weighted by the job's busy share).

    share_node_j = sum(share_i x E_i), share_dt_s = sum(share_i x dt_i),
    held_cpu_s = sum(held CPUs_i x dt_i). The dynamic part is linear in P_idle, so an idle
    power estimated at the end of the run applies exactly to every interval; it is clamped
    at 0 only on the total (clamping each interval would bias noise upwards).
    """
    idle_w = max(0.0, idle_w)
    dynamic = max(0.0, share_node_j - idle_w * share_dt_s)
    idle_share = idle_w * held_cpu_s / max(1, node_cpus)
    return JobSplit(node_j=node_j, node_idle_j=idle_w * dt_s, job_dynamic_j=dynamic,
                    job_idle_j=idle_share, idle_w=idle_w)


def shared_node_split(node_j: float, dt_s: float, idle_w: float, job_cpu_delta_s: float,
                      node_busy_delta_s: float, held_cpus: float | None, node_cpus: int
                      ) -> JobSplit:
    """One interval: the job's dynamic energy and idle share of ``node_j`` joules."""
    node = max(0.0, node_j)
    s = job_share(job_cpu_delta_s, node_busy_delta_s)
    held = held_cpus_in_interval(held_cpus, job_cpu_delta_s, dt_s, node_cpus)
    return split_sums(node, dt_s, s * node, s * dt_s, held * dt_s, idle_w, node_cpus)


@dataclass
class NodeShareAccount:
    """Running sums of a run's intervals, enough to apply the definition with any P_idle.

    ``points`` keeps (busy CPUs, node power W) per interval for the idle-power regression,
    halved (every other point dropped) whenever it reaches ``max_points`` so memory stays
    bounded on long runs while the spread of loads is kept.
    """

    node_cpus: int
    node_j: float = 0.0
    dt_s: float = 0.0
    share_node_j: float = 0.0
    share_dt_s: float = 0.0
    held_cpu_s: float = 0.0
    job_cpu_s: float = 0.0
    node_busy_s: float = 0.0
    intervals: int = 0
    points: list[tuple[float, float]] = field(default_factory=list)
    max_points: int = 4096

    def add(self, node_j: float, dt_s: float, job_cpu_delta_s: float, node_busy_delta_s: float,
            held_cpus: float | None) -> None:
        node = max(0.0, node_j)
        s = job_share(job_cpu_delta_s, node_busy_delta_s)
        held = held_cpus_in_interval(held_cpus, job_cpu_delta_s, dt_s, self.node_cpus)
        self.node_j += node
        self.dt_s += dt_s
        self.share_node_j += s * node
        self.share_dt_s += s * dt_s
        self.held_cpu_s += held * dt_s
        self.job_cpu_s += max(0.0, job_cpu_delta_s)
        self.node_busy_s += max(0.0, node_busy_delta_s)
        self.intervals += 1
        if dt_s > 0:
            self.points.append((max(0.0, node_busy_delta_s) / dt_s, node / dt_s))
            if len(self.points) >= self.max_points:
                self.points = self.points[::2]

    def split(self, idle_w: float) -> JobSplit:
        return split_sums(self.node_j, self.dt_s, self.share_node_j, self.share_dt_s,
                          self.held_cpu_s, idle_w, self.node_cpus)


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
