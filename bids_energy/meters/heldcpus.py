"""How many of the node's CPUs the job holds, for its share of the node's idle power.

The smallest of what is known: the Slurm allocation on this node (``SLURM_CPUS_ON_NODE``,
else this node's entry of ``SLURM_JOB_CPUS_PER_NODE``), the cgroup's CPU quota
(``cpu.max`` / ``cpu.cfs_quota_us``) and its cpuset. A cpuset or allocation covering the
whole node holds nothing in particular (an unrestricted process on a workstation), so then
the job is charged idle power by the CPUs it *used* (its CPU time / wall time) interval by
interval, which its neighbours cannot change either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bids_energy.meters import cgroup

_CPUS_PER_NODE = re.compile(r"^(\d+)(?:\(x\d+\))?")


@dataclass(frozen=True)
class HeldCpus:
    cpus: float | None  # None: bill idle power by the CPUs used
    source: str


def slurm_cpus(env: Mapping[str, str]) -> int | None:
    """CPUs Slurm allocated to the job on this node."""
    for name in ("SLURM_CPUS_ON_NODE", "SLURM_JOB_CPUS_PER_NODE"):
        m = _CPUS_PER_NODE.match(env.get(name, "").strip())
        if m and int(m.group(1)) > 0:
            return int(m.group(1))
    return None


def decide(node_cpus: int, slurm: int | None, limits: cgroup.CpuLimits) -> HeldCpus:
    """The smallest allocation below the node's CPU count; None when nothing restricts the job."""
    found: list[tuple[float, str]] = []
    if slurm is not None:
        found.append((float(slurm), f"Slurm allocation ({slurm} CPUs on this node)"))
    if limits.quota_cpus is not None:
        found.append((limits.quota_cpus, f"cgroup CPU quota ({limits.quota_cpus:g} CPUs)"))
    if limits.cpuset_cpus is not None:
        found.append((float(limits.cpuset_cpus), f"cgroup cpuset ({limits.cpuset_cpus} CPUs)"))
    found = [(n, why) for n, why in found if 0 < n < node_cpus]
    if not found:
        return HeldCpus(None, f"CPUs used (CPU time / wall time): no allocation below the "
                              f"node's {node_cpus} CPUs")
    n, why = min(found)
    return HeldCpus(n, why)


def read_held_cpus(node_cpus: int, env: Mapping[str, str], proc_root: str = "/proc",
                   sys_root: str = "/sys", pid: int | str = "self") -> HeldCpus:
    return decide(node_cpus, slurm_cpus(env), cgroup.read_cpu_limits(proc_root, sys_root, pid))
