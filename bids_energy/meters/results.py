"""What the sampler returns: typed numbers, not the footprint's JSON.

The meters know what they measured and how; the footprint (``bids_energy.footprint``) owns
the record's shape and its key names, and builds its ``energy``, ``attribution``,
``hardware``, ``timeline``, ``steps`` and ``phases`` blocks from these. A new footprint field is then added in one module, and a
meter can change its internals without touching the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bids_energy.meters.base import MeterTotals
from bids_energy.meters.phasetally import PhaseSummary
from bids_energy.meters.steps import StepTotals
from bids_energy.meters.timeline import TimelineData


@dataclass(frozen=True)
class ComponentTotals:
    """One meter's whole-run figures (joules), its method and what went wrong."""

    component: str  # "cpu" | "memory" | "gpu"
    method: str  # e.g. "measured: rapl, shared-node split"
    measured: bool
    job_j: float
    node_j: float | None  # None when the meter cannot see the node
    status: str  # "ok" | "unavailable" (from the start) | "partial" (from later)
    note: str  # the meter's own explanation of its figure
    inputs: dict = field(default_factory=dict)  # the meter's own inputs (TDP, zones, ...)
    idle_j: float | None = None  # per-interval idle energy, when the meter has no split
    unavailable_from_s: float | None = None
    dropped_intervals: int = 0
    dropped_s: float = 0.0
    split: MeterTotals | None = None  # the shared-node split, where the meter makes one


@dataclass(frozen=True)
class CpuAttribution:
    """How the job's CPU time was told apart from the node's, and the totals."""

    mode: str  # "process-tree" | "cgroup"
    reason: str  # why this mode was chosen
    job_cpu_s: float
    node_cpu_s: float | None
    node_busy_cpu_s: float | None
    node_cores: int
    memory_source: str  # anon / PSS


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    uuid: str
    visible_to_job: bool


@dataclass(frozen=True)
class HardwareInfo:
    """The machine as the sampler saw it (from ``proc_root`` and NVML)."""

    cpu_model: str | None
    cpu_cores_logical: int
    cpu_cores_physical: int | None
    mem_total_gb: float | None
    gpus: tuple[GpuInfo, ...] = ()


@dataclass
class SamplerResult:
    cpu_s: float
    peak_mem_gb: float
    attribution: CpuAttribution
    components: tuple[ComponentTotals, ...]
    hardware: HardwareInfo
    timeline: TimelineData
    steps: list[StepTotals]  # in order of first appearance
    warnings: list[str] = field(default_factory=list)
    phases: PhaseSummary | None = None  # energy by phase the job marked; None if none was

    def component(self, name: str) -> ComponentTotals | None:
        return next((c for c in self.components if c.component == name), None)
