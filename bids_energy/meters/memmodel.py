"""Memory energy without a RAPL dram domain: resident GB x W/GB x time (Green Algorithms).

0.3725 W/GB is Green Algorithms' figure (Lannelongue et al. 2021); it is disputed, with
0.08 W/GB proposed for modern DDR4 (their own issue tracker), so the constant is an input.

Unit convention, for every memory figure of the project (sampler, footprint, sacct
estimates, reports): GB = 10^9 bytes, in keys ``*_gb``. The kernel and Slurm count in
binary units (kB of /proc are KiB; Slurm's K/M/G are 1024-based), so their values are
converted to bytes first and divided by ``BYTES_PER_GB`` here, never by 1024^3 elsewhere.
"""

from __future__ import annotations

from bids_energy.ga_constants import MEM_POWER_W_PER_GB
from bids_energy.meters.base import ComponentSample, EnergyMeter, IntervalContext

W_PER_GB = MEM_POWER_W_PER_GB
BYTES_PER_GB = 1_000_000_000  # the one memory unit: decimal GB, like the W/GB constant's "GB"
SOURCE = "Green Algorithms (Lannelongue et al. 2021)"


class MemoryModelMeter(EnergyMeter):
    component = "memory"
    method = "estimated: memory-model"
    measured = False

    def __init__(self, reason: str, w_per_gb: float = W_PER_GB) -> None:
        self.reason = reason
        self.w_per_gb = w_per_gb
        self._gb_s = 0.0
        self._s = 0.0

    def sample(self, ctx: IntervalContext) -> ComponentSample:
        self._gb_s += ctx.job_mem_gb * ctx.dt_s
        self._s += ctx.dt_s
        return ComponentSample(job_j=ctx.job_mem_gb * self.w_per_gb * ctx.dt_s)

    def inputs(self) -> dict:
        mean = self._gb_s / self._s if self._s > 0 else 0.0
        return {"w_per_gb": self.w_per_gb, "source": SOURCE, "mean_mem_gb": round(mean, 4)}

    def note(self) -> str:
        return (f"{self.reason}; energy = mean resident memory x {self.w_per_gb} W/GB x time. "
                "The constant is disputed (0.08 W/GB has been proposed for DDR4), so treat this "
                "as an order of magnitude.")
