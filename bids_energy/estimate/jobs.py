"""After Slurm jobs: GA4HPC figures per job from ``sacct`` text (the arithmetic of
``bids-energy estimate --sacct/--jobs``; the command line only parses and prints).
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from bids_energy.errors import InputMissingError
from bids_energy.estimate import green_algorithms as ga
from bids_energy.estimate.cluster import constants_for
from bids_energy.estimate.sacct import SACCT_FIELDS, parse_sacct

SACCT_COLUMNS = [
    "job_id", "job_name", "partition", "state", "submit", "wall_h", "ncpus", "total_cpu_h",
    "cpu_efficiency", "mem_gb", "mem_source", "n_gpu", "tdp_per_core_w", "gpu_tdp_w",
    "mem_power_w_per_gb", "pue", "cpu_energy_wh", "gpu_energy_wh", "memory_energy_wh",
    "energy_wh", "facility_energy_wh", "ci_g_per_kwh", "co2e_g", "method", "ci_source",
]  # fmt: skip


def run_sacct(job_ids: list[str]) -> str:
    """Text of ``sacct -P`` for these jobs; the only place that spawns sacct."""
    exe = shutil.which("sacct")
    if exe is None:
        raise InputMissingError(
            "sacct not found on PATH; save its output elsewhere and pass --sacct"
        )
    cmd = [exe, "--format", SACCT_FIELDS, "-P", "-j", ",".join(job_ids)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise InputMissingError(f"sacct failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def estimate_sacct(text: str, config: dict[str, Any], overrides: dict[str, Any]) -> list[dict]:
    """One row per job that ran (pending jobs have nothing to bill)."""
    rows = []
    for job in parse_sacct(text):
        if job.state == "PENDING" or not job.elapsed_s:
            continue
        c = constants_for(config, job.partition, overrides)
        e = ga.job_energy_wh(job, c)
        wall_h = job.elapsed_s / 3600
        cpu_h = (job.total_cpu_s or 0) / 3600
        eff = cpu_h / (wall_h * job.ncpus) if job.ncpus else None
        rows.append({
            "job_id": job.job_id, "job_name": job.job_name, "partition": job.partition,
            "state": job.state, "submit": job.submit, "wall_h": wall_h, "ncpus": job.ncpus,
            "total_cpu_h": cpu_h, "cpu_efficiency": eff, "mem_gb": job.mem_gb,
            "mem_source": job.mem_source, "n_gpu": job.n_gpu, "tdp_per_core_w": c.tdp_per_core_w,
            "gpu_tdp_w": c.gpu_tdp_w, "mem_power_w_per_gb": c.mem_power_w_per_gb, "pue": c.pue,
            **e, "ci_g_per_kwh": c.ci_g_per_kwh, "method": ga.GA4HPC_METHOD,
            "ci_source": c.ci_source,
        })  # fmt: skip
    return rows
