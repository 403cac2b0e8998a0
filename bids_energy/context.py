"""Where a run happens: container runtime and Slurm job, read from files and environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def detect_container(proc_root: str | Path = "/proc", env: Mapping[str, str] | None = None,
                     root: str | Path = "/") -> dict:
    """Name the container runtime we run in, if any, and its image when it is knowable."""
    env = os.environ if env is None else env
    root = Path(root)
    if env.get("APPTAINER_CONTAINER") or env.get("SINGULARITY_CONTAINER"):
        name = "apptainer" if env.get("APPTAINER_CONTAINER") else "singularity"
        image = env.get("APPTAINER_CONTAINER") or env.get("SINGULARITY_CONTAINER")
        return {"runtime": name, "image": image}
    if (root / "run/.containerenv").exists():
        image = None
        try:
            for line in (root / "run/.containerenv").read_text().splitlines():
                if line.startswith("image="):
                    image = line.split("=", 1)[1].strip().strip('"') or None
        except OSError:
            pass
        return {"runtime": "podman", "image": image}
    if (root / ".dockerenv").exists():
        return {"runtime": "docker", "image": env.get("BIDS_ENERGY_IMAGE")}
    return {"runtime": None, "image": None}


def detect_slurm(env: Mapping[str, str] | None = None) -> dict:
    env = os.environ if env is None else env
    keys = {
        "job_id": "SLURM_JOB_ID",
        "array_job_id": "SLURM_ARRAY_JOB_ID",
        "array_task_id": "SLURM_ARRAY_TASK_ID",
        "cluster": "SLURM_CLUSTER_NAME",
        "partition": "SLURM_JOB_PARTITION",
    }
    return {k: env.get(v) for k, v in keys.items()}
