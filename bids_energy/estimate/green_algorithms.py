"""The Green Algorithms model (Lannelongue et al. 2021) and its GA4HPC use on sacct records.

Pure arithmetic: every constant comes in as an argument, and the defaults below carry the
source they were taken from so the CLI can print them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bids_energy.estimate.sacct import SacctJob
from bids_energy.ga_constants import (  # noqa: F401  (re-exported for the command line)
    CORE_POWER_SOURCE,
    CORE_POWER_W,
    GA_SOURCE,
    GPU_POWER_SOURCE,
    GPU_POWER_W,
    MEM_POWER_SOURCE,
    MEM_POWER_W_PER_GB,
    WORLD_CI_G_PER_KWH,
)
from bids_energy.ga_constants import PUE as GA_PUE
from bids_energy.ga_constants import PUE_SOURCE as GA_PUE_SOURCE  # noqa: F401

METHOD = "estimated: green-algorithms"
GA4HPC_METHOD = "estimated: ga4hpc-sacct"


@dataclass(frozen=True)
class GaInputs:
    hours: float
    cores: int
    core_power_w: float = CORE_POWER_W
    usage: float = 1.0
    gpus: int = 0
    gpu_power_w: float = GPU_POWER_W
    gpu_usage: float = 1.0
    mem_gb: float = 0.0
    mem_power_w_per_gb: float = MEM_POWER_W_PER_GB
    pue: float = GA_PUE
    psf: float = 1.0


def power_w(x: GaInputs) -> dict[str, float]:
    """Power drawn by each component (W), before PUE."""
    return {
        "cpu": x.cores * x.core_power_w * x.usage,
        "gpu": x.gpus * x.gpu_power_w * x.gpu_usage,
        "memory": x.mem_gb * x.mem_power_w_per_gb,
    }


def energy_kwh(x: GaInputs) -> dict[str, float]:
    """E[kWh] = t_h x (cores x P_core x usage + gpus x P_gpu x usage_gpu + mem x P_mem) x PUE x PSF / 1000.

    Components are given at the facility level (PUE and PSF applied) so they add to the total.
    """
    scale = x.hours * x.pue * x.psf / 1000.0
    parts = {k: v * scale for k, v in power_w(x).items()}
    parts["total"] = sum(parts.values())
    return parts


@dataclass(frozen=True)
class JobConstants:
    """Constants for one job, resolved from the cluster configuration."""

    tdp_per_core_w: float = CORE_POWER_W
    gpu_tdp_w: float = GPU_POWER_W
    mem_power_w_per_gb: float = MEM_POWER_W_PER_GB
    pue: float = 1.0
    ci_g_per_kwh: float = WORLD_CI_G_PER_KWH
    ci_source: str = "default: world average"


def job_energy_wh(job: SacctJob, c: JobConstants) -> dict[str, float | None]:
    """GA4HPC: (TotalCPU_h x TDP_core + GPU_h x TDP_gpu + wall_h x mem_GB x P_mem) / 1000 x PUE.

    CPU uses TotalCPU (what the job really burned), not NCPUS x wall, so an idle allocation
    is not billed as busy; memory and GPUs are billed for the whole wall time because
    they are reserved whether used or not. Returned in Wh (IT level and facility level).
    """
    wall_h = (job.elapsed_s or 0.0) / 3600.0
    cpu_h = (job.total_cpu_s or 0.0) / 3600.0
    cpu_wh = cpu_h * c.tdp_per_core_w
    gpu_wh = wall_h * job.n_gpu * c.gpu_tdp_w
    mem_wh = wall_h * (job.mem_gb or 0.0) * c.mem_power_w_per_gb
    it_wh = cpu_wh + gpu_wh + mem_wh
    facility_wh = it_wh * c.pue
    return {
        "cpu_energy_wh": cpu_wh,
        "gpu_energy_wh": gpu_wh,
        "memory_energy_wh": mem_wh,
        "energy_wh": it_wh,
        "facility_energy_wh": facility_wh,
        "co2e_g": facility_wh / 1000.0 * c.ci_g_per_kwh,
    }
