"""The interface every energy source implements, and what the sampler hands it each interval.

Zeus style: the sampler does not know which sources exist. It calls ``begin()`` once, then
``sample(ctx)`` every interval; a meter returns the energy of that interval (joules) for
the node and for the job, using the job's CPU share in ``ctx`` where it must split.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


class MeterUnavailable(RuntimeError):
    """A meter stopped working mid-run (file vanished, driver gone): stop asking it."""


class ImplausibleReading(ValueError):
    """One interval's reading makes no physical sense (glitch, unexplained counter drop): drop it."""


@dataclass(frozen=True)
class IntervalContext:
    t_s: float  # seconds since start at the end of the interval
    dt_s: float
    job_cpu_delta_s: float
    node_busy_delta_s: float | None
    node_total_delta_s: float | None
    job_mem_gb: float
    logical_cores: int


@dataclass(frozen=True)
class ComponentSample:
    """Joules in one interval; None where this meter cannot say (e.g. node energy of a model)."""

    job_j: float | None
    node_j: float | None = None
    idle_j: float | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MeterTotals:
    """A meter's whole-run figure cut by the shared-node definition (attribution.py), joules.

    ``footprint.split_block`` turns it into the record's ``split`` block: the job's dynamic
    part, its idle share, their total (the published ``job_energy_wh``), the node total and
    the remainder, each with its method, and where the idle power and the held CPUs came from.
    """

    job_j: float
    job_dynamic_j: float
    job_idle_j: float
    node_j: float | None
    node_idle_j: float
    idle: Any  # idlepower.IdlePower (not imported: base stays at the bottom of the layers)
    held_cpus: float | None
    held_source: str
    node_cpus: int
    dynamic_method: str
    node_method: str


class EnergyMeter(ABC):
    component: str = ""  # "cpu" | "memory" | "gpu": the key in energy.components
    method: str = ""  # the job figure's method, e.g. "measured: rapl, shared-node split"
    measured: bool = False

    def begin(self) -> None:
        """Baseline reading at sampler start (counters); may raise MeterUnavailable."""
        return None

    @abstractmethod
    def sample(self, ctx: IntervalContext) -> ComponentSample:
        """Energy of the interval that just ended."""

    def inputs(self) -> dict:
        return {}

    def note(self) -> str:
        return ""

    def max_interval_s(self) -> float | None:
        """Longest sampling interval this meter can read unambiguously (counter wraps)."""
        return None

    def rebaseline(self) -> None:
        """Forget the energy since the last reading (the sampler dropped that interval),
        so it does not spill into the next one. Counters re-read their baseline."""
        return None

    def finish(self) -> MeterTotals | None:
        """Whole-run totals by the shared-node definition, where the meter splits node energy."""
        return None

    def close(self) -> None:
        """Release resources (NVML shutdown)."""
        return None
