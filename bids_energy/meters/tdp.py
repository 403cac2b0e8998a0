"""CPU energy without RAPL: job CPU seconds x per-core power (TDP / physical cores).

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
from bids_energy.meters.base import ComponentSample, EnergyMeter, IntervalContext

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


class TdpCpuMeter(EnergyMeter):
    component = "cpu"
    method = "estimated: tdp-model"
    measured = False

    def __init__(self, power: CpuPower, reason: str) -> None:
        self.power = power
        self.reason = reason
        self._cpu_s = 0.0

    def sample(self, ctx: IntervalContext) -> ComponentSample:
        self._cpu_s += ctx.job_cpu_delta_s
        return ComponentSample(job_j=ctx.job_cpu_delta_s * self.power.power_per_core_w)

    def inputs(self) -> dict:
        p = self.power
        return {"cpu_model": p.cpu_model, "tdp_w": p.tdp_w, "cores": p.cores,
                "power_per_core_w": p.power_per_core_w, "tdp_source": p.source,
                "job_cpu_s": round(self._cpu_s, 3)}

    def note(self) -> str:
        return f"{self.reason}, so CPU energy is job CPU time x per-core TDP (TDP / physical cores)."
