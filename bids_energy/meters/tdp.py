"""CPU energy without RAPL: a model of the node's power, split by the one shared-node rule.

The model node power is P = P_idle + k x busy CPUs, where the rated power of the node's
cores (TDP / physical cores per package, x physical cores) is reached when every hardware
thread is busy: k = (rated - P_idle) / logical CPUs. A package's TDP covers all its
threads, so on SMT machines (2 threads per core) a thread costs half of what a core would:
a 20-core/40-thread Xeon Gold 6148 (150 W) at full load is billed 150 W, never 300 W.
The job is billed k x its CPU time plus its idle share (attribution.py), so its figure
does not depend on its neighbours.

The TDP table (bids_energy/data/cpu_tdp.csv) lists common server CPUs with their vendor
spec source. Matching is strict on the model number (a Gold 6148F is not a Gold 6148):
a wrong TDP is worse than the generic default, which is Green Algorithms' 12 W per core.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from bids_energy.ga_constants import CORE_POWER_W
from bids_energy.meters import idlepower
from bids_energy.meters.attribution import NodeShareAccount, held_cpus_in_interval
from bids_energy.meters.base import ComponentSample, EnergyMeter, IntervalContext, MeterTotals
from bids_energy.meters.procfs import Topology

TABLE_PATH = Path(__file__).resolve().parent.parent / "data" / "cpu_tdp.csv"
DEFAULT_W_PER_CORE = CORE_POWER_W
DEFAULT_SOURCE = "default: Green Algorithms generic 12 W/core (Lannelongue et al. 2021)"
_NOISE = re.compile(r"\((r|tm)\)|\bcpu\b|\bprocessor\b|@.*$|\b\d+-core\b", re.IGNORECASE)


@dataclass(frozen=True)
class TdpEntry:
    model: str
    tdp_w: float
    cores: int
    source: str

    @property
    def power_per_core_w(self) -> float:
        return self.tdp_w / self.cores


def load_table() -> list[TdpEntry]:
    text = TABLE_PATH.read_text()
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return [TdpEntry(r["model"], float(r["tdp_w"]), int(r["cores"]), r["source"]) for r in rows]


def tokens(model: str) -> list[str]:
    """Lower-case words of a model name without (R), (TM), 'CPU', 'Processor', '@ 2.40GHz'."""
    return _NOISE.sub(" ", model).lower().replace(",", " ").split()


def match(model_name: str, table: list[TdpEntry] | None = None) -> TdpEntry | None:
    """The table row all of whose words appear in the CPU's model name; longest wins.

    A row must contain a digit-bearing word (the model number) to match, so a bare
    "AMD EPYC" (as VMs report) matches nothing and falls back to the default.
    """
    table = load_table() if table is None else table
    have = set(tokens(model_name))
    best = None
    for entry in table:
        want = tokens(entry.model)
        if not any(any(ch.isdigit() for ch in w) for w in want):
            continue
        if set(want) <= have and (best is None or len(want) > len(tokens(best.model))):
            best = entry
    return best


@dataclass(frozen=True)
class CpuPower:
    cpu_model: str
    tdp_w: float | None
    cores: int
    power_per_core_w: float
    source: str


def cpu_power(model_name: str, physical_cores: int, table: list[TdpEntry] | None = None) -> CpuPower:
    entry = match(model_name, table)
    if entry is None:
        cores = max(1, physical_cores)
        return CpuPower(model_name, None, cores, DEFAULT_W_PER_CORE, DEFAULT_SOURCE)
    return CpuPower(model_name, entry.tdp_w, entry.cores, round(entry.power_per_core_w, 3),
                    f"{entry.model}: {entry.source}")


@dataclass(frozen=True)
class NodeModel:
    """P = idle_w + k_w_per_busy_cpu x busy logical CPUs; rated_w when all threads are busy."""

    rated_w: float
    idle: idlepower.IdlePower
    k_w_per_busy_cpu: float
    logical: int
    physical_cores: int
    threads_per_core: int
    smt_handling: str

    def inputs(self) -> dict:
        return {"rated_w": round(self.rated_w, 3), "idle_power_w": self.idle.value_w,
                "idle_power_method": self.idle.method,
                "k_w_per_busy_cpu": round(self.k_w_per_busy_cpu, 4),
                "logical_cpus": self.logical, "physical_cores": self.physical_cores,
                "threads_per_core": self.threads_per_core, "smt_handling": self.smt_handling}


def rated_w(power: CpuPower, topo: Topology) -> float:
    """Rated power of the cores this machine shows: per-core TDP x physical cores.

    Per physical core, not per package, so a VM that shows 4 cores of a 64-core EPYC is
    rated 4/64 of its TDP; on bare metal it is TDP x packages.
    """
    return power.power_per_core_w * max(1, topo.cores)


def node_model(power: CpuPower, topo: Topology, idle_given_w: float | None = None) -> NodeModel:
    rated = rated_w(power, topo)
    if idle_given_w is not None:
        idle = idlepower.IdlePower(float(idle_given_w), "given: --idle-power-w")
    else:
        idle = idlepower.from_tdp(rated, power.source) or idlepower.IdlePower(0.0, "unknown")
    logical = max(1, topo.logical)
    k = max(0.0, rated - idle.value_w) / logical
    tpc = topo.threads_per_core
    smt = (f"{tpc} threads per core: the rated power covers all {logical} hardware threads, "
           f"so a busy thread costs (rated - idle) / {logical}" if tpc > 1 else
           "1 thread per core seen (no SMT, or a VM that hides it): a busy CPU costs "
           "(rated - idle) / CPUs")
    return NodeModel(rated, idle, k, logical, topo.cores, tpc, smt)


class TdpCpuMeter(EnergyMeter):
    component = "cpu"
    method = "estimated: tdp-model"
    measured = False

    def __init__(self, power: CpuPower, reason: str, topology: Topology,
                 idle_given_w: float | None = None, held_cpus: float | None = None,
                 held_source: str = "CPUs used") -> None:
        self.power = power
        self.reason = reason
        self.topology = topology
        self.model = node_model(power, topology, idle_given_w)
        self.held_cpus = held_cpus
        self.held_source = held_source
        self.account = NodeShareAccount(self.model.logical)
        self._node_known = True
        self._cpu_s = 0.0

    def sample(self, ctx: IntervalContext) -> ComponentSample:
        m = self.model
        d_job = max(0.0, ctx.job_cpu_delta_s)
        self._cpu_s += d_job
        held = held_cpus_in_interval(self.held_cpus, d_job, ctx.dt_s, m.logical)
        self.account.held_cpu_s += held * ctx.dt_s
        self.account.job_cpu_s += d_job
        self.account.dt_s += ctx.dt_s
        job_j = m.k_w_per_busy_cpu * d_job + m.idle.value_w * ctx.dt_s * held / m.logical
        node_j = None
        if ctx.node_busy_delta_s is not None and self._node_known:
            node_j = m.idle.value_w * ctx.dt_s + m.k_w_per_busy_cpu * max(0.0, ctx.node_busy_delta_s)
            self.account.node_j += node_j
            self.account.node_busy_s += max(0.0, ctx.node_busy_delta_s)
        else:
            self._node_known = False
        return ComponentSample(job_j=job_j, node_j=node_j)

    def finish(self) -> MeterTotals:
        """The model applied through the shared-node definition: dynamic = k x job CPU time
        (what (model node - idle) x job / busy gives), idle share by CPUs held."""
        m, a = self.model, self.account
        dyn = m.k_w_per_busy_cpu * a.job_cpu_s
        idle_share = m.idle.value_w * a.held_cpu_s / m.logical
        node = a.node_j if self._node_known else None
        return MeterTotals(
            job_j=dyn + idle_share, job_dynamic_j=dyn, job_idle_j=idle_share, node_j=node,
            node_idle_j=m.idle.value_w * a.dt_s, idle=m.idle, held_cpus=self.held_cpus,
            held_source=self.held_source, node_cpus=m.logical,
            dynamic_method="estimated: tdp-model, k x job CPU time",
            node_method="estimated: tdp-model, idle + k x node busy CPU time")

    def inputs(self) -> dict:
        p = self.power
        return {"cpu_model": p.cpu_model, "tdp_w": p.tdp_w, "cores": p.cores,
                "power_per_core_w": p.power_per_core_w, "tdp_source": p.source,
                "job_cpu_s": round(self._cpu_s, 3), **self.model.inputs(),
                "topology_source": self.topology.source}

    def note(self) -> str:
        return (f"{self.reason}, so CPU energy is modelled: node power = idle + k x busy CPUs, "
                f"reaching the rated power (TDP per physical core x cores) with every hardware "
                f"thread busy; the job pays k x its CPU time plus its share of idle power by "
                f"the CPUs it holds ({self.held_source}).")
