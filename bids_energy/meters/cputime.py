"""The job's CPU time and memory: from its own cgroup, or from its process tree.

A cgroup's counters are exact and include every thread that ever ran in it, but they are
the job's only when nothing else lives in that cgroup. Otherwise the process tree is summed:
live descendants' own and reaped-children CPU plus root's reaped children since start
(the runner is a child subreaper, so orphans are reaped by root and not lost).
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

from bids_energy.meters import cgroup, memusage
from bids_energy.meters.proctree import TreeSnapshot, job_cpu_s


@dataclass(frozen=True)
class AttributionChoice:
    mode: str  # "cgroup" | "process-tree"
    paths: cgroup.CgroupPaths | None
    cpu_alone: bool
    mem_alone: bool
    reason: str
    warnings: tuple[str, ...] = ()


def choose_attribution(requested: str, root_pid: int, proc_root: str = "/proc",
                       sys_root: str = "/sys") -> AttributionChoice:
    """"auto" takes the cgroup only when the job has it to itself; "cgroup" forces it if readable."""
    if requested not in ("auto", "cgroup", "process"):
        raise ValueError(f"attribution must be auto, cgroup or process, not {requested!r}")
    paths = cgroup.cgroup_dirs_for_job(proc_root, sys_root, root_pid)
    cpu_alone = bool(paths.cpu_dir and cgroup.holds_only_job(paths.cpu_dir, root_pid, proc_root))
    mem_alone = bool(paths.mem_dir and cgroup.holds_only_job(paths.mem_dir, root_pid, proc_root))
    if requested == "process":
        return AttributionChoice("process-tree", paths, cpu_alone, mem_alone,
                                 "process-tree attribution requested")
    if paths.cpu_dir is None:
        warn = ("cgroup attribution requested but no readable cgroup CPU counter; "
                "using the process tree") if requested == "cgroup" else ""
        return AttributionChoice("process-tree", paths, False, False,
                                 "no readable cgroup CPU counter", (warn,) if warn else ())
    if cpu_alone:
        return AttributionChoice("cgroup", paths, True, mem_alone,
                                 f"the cgroup holds only this job ({paths.describe()})")
    if requested == "cgroup":
        return AttributionChoice("cgroup", paths, False, mem_alone,
                                 f"cgroup attribution requested ({paths.describe()})",
                                 ("cgroup attribution forced on a cgroup that holds other processes:"
                                  " their CPU time is billed to the job",))
    return AttributionChoice("process-tree", paths, False, mem_alone,
                             "the cgroup holds processes outside the job")


class JobUsage:
    """Cumulative job CPU seconds (never decreasing) and current memory, from either source."""

    def __init__(self, choice: AttributionChoice, root_pid: int) -> None:
        self.choice = choice
        self.root_pid = root_pid
        self._cg_base: float | None = None
        self._root_children_base = 0.0
        self._cpu = 0.0
        self._peak_bytes = 0
        self.mem_source = "not sampled"
        self._pss: memusage.PssTracker | None = None
        self._rusage_base_kb = self._children_maxrss_kb()

    def _children_maxrss_kb(self) -> int:
        if self.root_pid != os.getpid():
            return 0
        return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

    def begin(self, snap: TreeSnapshot | None) -> None:
        self._root_children_base = snap.root_children_cpu_s if snap else 0.0
        p = self.choice.paths
        if self.choice.mode == "cgroup" and p and p.cpu_dir and p.cpu_version:
            self._cg_base = cgroup.read_cpu_s(p.cpu_dir, p.cpu_version)

    def cpu_s(self, snap: TreeSnapshot | None) -> float:
        raw = None
        p = self.choice.paths
        if self.choice.mode == "cgroup" and p and p.cpu_dir and p.cpu_version:
            now = cgroup.read_cpu_s(p.cpu_dir, p.cpu_version)
            if now is not None and self._cg_base is not None:
                raw = now - self._cg_base
        if raw is None and snap is not None:
            raw = job_cpu_s(snap, self._root_children_base)
        if raw is not None and raw > self._cpu:
            self._cpu = raw
        return self._cpu

    def mem_bytes(self, snap: TreeSnapshot | None, proc_root: str = "/proc") -> int:
        """Resident memory the job holds (anon / PSS, page cache excluded; see memusage).

        The peak is the largest sample: the kernel's memory.peak includes page cache."""
        reading = None
        p = self.choice.paths
        if self.choice.mem_alone and self.choice.mode == "cgroup" and p and p.mem_dir:
            reading = memusage.cgroup_mem(p.mem_dir, p.mem_version or 2)
        if reading is None:
            if self._pss is None or self._pss.proc_root != proc_root:
                self._pss = memusage.PssTracker(proc_root)
            reading = (self._pss.measure(memusage.pids_rss(snap.procs.values()))
                       if snap is not None else memusage.MemReading(0, "no process tree"))
        self.mem_source = reading.source
        self._peak_bytes = max(self._peak_bytes, reading.bytes)
        return reading.bytes

    def peak_bytes(self) -> int:
        kb = self._children_maxrss_kb()
        if kb > self._rusage_base_kb:  # a reaped child's peak the samples may have missed
            self._peak_bytes = max(self._peak_bytes, kb * 1024)
        return self._peak_bytes
