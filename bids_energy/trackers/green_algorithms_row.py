"""The Green Algorithms estimate of the same run, as one more row beside the trackers.

Not a live tracker: after the run it applies the Green Algorithms formula
(:mod:`bids_energy.estimate.green_algorithms`, one home for its constants) to what the run
used (cores, their usage from the run's CPU time, peak memory, wall time) with the run's
PUE and grid intensity, so measured, tracked and estimated figures sit side by side.
"""

from __future__ import annotations

from typing import Any

from bids_energy.estimate.green_algorithms import (
    CORE_POWER_W,
    GPU_POWER_W,
    MEM_POWER_W_PER_GB,
    METHOD,
    GaInputs,
    energy_kwh,
)
from bids_energy.trackers.base import OK, Bills, RunFacts, TrackerResult, TrackerSettings


def bills(grid: str = "") -> Bills:
    return Bills(
        scope="this run (its cores, CPU time and memory), estimated after the fact",
        cpu=f"{CORE_POWER_W:g} W per core (generic CPU) x cores x usage (CPU time / cores x wall)",
        memory=f"{MEM_POWER_W_PER_GB:g} W per GB of the run's peak memory, for the whole wall time",
        gpu=f"{GPU_POWER_W:g} W per GPU used, for the whole wall time",
        pue_included=True,
        grid=grid or "the run's carbon intensity",
    )


def ga_inputs(facts: RunFacts, pue: float) -> GaInputs:
    """The Green Algorithms form filled in from the run (pure)."""
    cores = max(1, int(facts.cores))
    usage = facts.cpu_s / (facts.wall_s * cores) if facts.wall_s > 0 else 0.0
    return GaInputs(hours=facts.wall_s / 3600.0, cores=cores, usage=min(1.0, max(0.0, usage)),
                    gpus=facts.gpus, mem_gb=facts.peak_mem_gb or 0.0, pue=pue)  # fmt: skip


class GreenAlgorithmsRow:
    name = "green-algorithms"

    def __init__(self, settings: TrackerSettings) -> None:
        self.s = settings

    def result(self, status: str, **kw: Any) -> TrackerResult:
        grid = (f"{self.s.ci_g_per_kwh:g} g/kWh ({self.s.ci_source})"
                if self.s.ci_g_per_kwh is not None else "")  # fmt: skip
        return TrackerResult(name=self.name, status=status, mode="estimate", bills=bills(grid),
                             version=None, pue=self.s.pue, method=METHOD, **kw)  # fmt: skip

    def prepare(self) -> None:
        """Nothing to prepare or start: the estimate needs only what the run used."""

    def begin(self) -> None:
        """See :meth:`prepare`."""

    def end(self, facts: RunFacts) -> TrackerResult:
        x = ga_inputs(facts, self.s.pue)
        kwh = energy_kwh(x)
        ci = self.s.ci_g_per_kwh
        return self.result(
            OK,
            energy_wh=kwh["total"] * 1000.0,
            components_wh={k: v * 1000.0 for k, v in kwh.items() if k != "total"},
            co2e_g=kwh["total"] * ci if ci is not None else None,
            ci_g_per_kwh=ci,
            duration_s=facts.wall_s,
            notes=[f"inputs: {x.cores} cores at usage {x.usage:.3f}, {x.hours * 3600:.1f} s, "
                   f"{x.mem_gb:.2f} GB, {x.gpus} GPU(s), PUE {x.pue:g}"],
        )
