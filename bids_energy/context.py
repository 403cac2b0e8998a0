"""Where a run happens: container runtime and Slurm job, read from files and environment.

Recorded in every footprint so a figure can be traced to its run (image, array task) and
so readers know why attribution was what it was: inside a container the cgroup holds only
the job. Roots and environment are parameters, so tests use fake trees.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

# Words in /proc/1/cgroup (or /proc/self/cgroup) paths that container engines leave behind.
_CGROUP_HINTS = (
    ("libpod", "podman"),
    ("docker", "docker"),
    ("containerd", "containerd"),
    ("cri-containerd", "containerd"),
    ("crio", "cri-o"),
    ("kubepods", "kubernetes"),
    ("lxc", "lxc"),
    ("garden", "garden"),
)

# Slurm variables worth keeping: footprint key -> environment variable. The one list: the
# generated job scripts (hpc/slurm.SLURM_CONTEXT_VARS) forward exactly these through
# `apptainer run --cleanenv`, so adding a key here is all it takes to record a new one.
SLURM_VARS = {
    "job_id": "SLURM_JOB_ID",
    "array_job_id": "SLURM_ARRAY_JOB_ID",
    "array_task_id": "SLURM_ARRAY_TASK_ID",
    "cluster": "SLURM_CLUSTER_NAME",
    "partition": "SLURM_JOB_PARTITION",
    "account": "SLURM_JOB_ACCOUNT",
    "job_name": "SLURM_JOB_NAME",
    "node": "SLURMD_NODENAME",
    "cpus_on_node": "SLURM_CPUS_ON_NODE",
    "cpus_per_task": "SLURM_CPUS_PER_TASK",
    "mem_per_node_mb": "SLURM_MEM_PER_NODE",
    "mem_per_cpu_mb": "SLURM_MEM_PER_CPU",
    "gpus": "SLURM_GPUS_ON_NODE",
}
# Always present in the record (null when not under Slurm), as in the example footprint.
_SLURM_CORE = ("job_id", "array_job_id", "array_task_id", "cluster", "partition")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def parse_containerenv(text: str) -> dict[str, str]:
    """``key="value"`` lines of podman's ``/run/.containerenv`` (filled in when privileged)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            value = value.strip().strip('"')
            if value:
                out[key.strip()] = value
    return out


def cgroup_engine_hint(cgroup_text: str) -> str | None:
    """Container engine named by a ``/proc/<pid>/cgroup`` text, if any path gives one away."""
    for line in cgroup_text.splitlines():
        path = line.split(":", 2)[-1].lower()
        for word, engine in _CGROUP_HINTS:
            if re.search(rf"(^|[/\-_.]){re.escape(word)}([/\-_.]|$)", path):
                return engine
    return None


def _image_from_env(env: Mapping[str, str]) -> str | None:
    """The image name our own recipes bake in (Docker cannot tell a container its image)."""
    return env.get("BIDS_ENERGY_IMAGE") or None


def detect_container(proc_root: str | Path = "/proc", env: Mapping[str, str] | None = None,
                     root: str | Path = "/") -> dict:
    """Name the container runtime we run in, if any, and its image when it is knowable.

    Order of evidence: Apptainer/Singularity variables (they also bind the host's /proc, so
    file checks would mislead), podman's and Docker's marker files, the ``container``
    variable (podman, systemd-nspawn, LXC), then engine names in PID 1's cgroup paths.
    """
    env = os.environ if env is None else env
    root, proc = Path(root), Path(proc_root)
    result: dict = {"runtime": None, "image": None, "detected_by": None}
    for var, name in (("APPTAINER_CONTAINER", "apptainer"), ("SINGULARITY_CONTAINER", "singularity")):
        if env.get(var):
            image = env[var]
            result.update(runtime=name, image=image, detected_by=f"${var}")
            if env.get("APPTAINER_NAME") or env.get("SINGULARITY_NAME"):
                result["instance"] = env.get("APPTAINER_NAME") or env.get("SINGULARITY_NAME")
            return result
    containerenv = _read(root / "run/.containerenv")
    if containerenv is not None:
        info = parse_containerenv(containerenv)
        result.update(runtime="podman", image=info.get("image") or _image_from_env(env),
                      detected_by="/run/.containerenv")
        if info.get("engine"):
            result["engine"] = info["engine"]
        return result
    if (root / ".dockerenv").exists():
        result.update(runtime="docker", image=_image_from_env(env), detected_by="/.dockerenv")
        return result
    if env.get("container"):
        result.update(runtime=env["container"], image=_image_from_env(env),
                      detected_by="$container")
        return result
    for pid in ("1", "self"):
        hint = cgroup_engine_hint(_read(proc / pid / "cgroup") or "")
        if hint:
            result.update(runtime=hint, image=_image_from_env(env),
                          detected_by=f"/proc/{pid}/cgroup")
            return result
    return result


def detect_slurm(env: Mapping[str, str] | None = None) -> dict:
    """The Slurm job this run belongs to; core ids always present (null outside Slurm).

    Inside ``apptainer run --cleanenv`` these variables exist only because the job script
    passes them as ``APPTAINERENV_*`` (see ``bids_energy.hpc.slurm``).
    """
    env = os.environ if env is None else env
    out: dict = {key: env.get(var) or None for key, var in SLURM_VARS.items()}
    for key in list(out):
        if out[key] is None and key not in _SLURM_CORE:
            del out[key]
    return out
