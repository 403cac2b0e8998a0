"""The job's own cgroup: where it is (v1, v2 or hybrid) and what it has used.

A cgroup's counters include every process in it, so they are the job's only when the
cgroup holds nothing but the job (a container, a Slurm step with its own cgroup). The
check for that, ``holds_only_job``, reads cgroup.procs and walks each pid's parents.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bids_energy.meters import procfs


@dataclass(frozen=True)
class Mount:
    root: str  # the cgroup path mounted at mount_point
    mount_point: str
    version: int  # 1 or 2
    controllers: frozenset[str]


def parse_mountinfo(text: str) -> list[Mount]:
    """cgroup and cgroup2 mounts; v1 controllers are in the super options."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        lf, rf = left.split(), right.split()
        if len(lf) < 5 or len(rf) < 1:
            continue
        fstype = rf[0]
        if fstype == "cgroup2":
            mounts.append(Mount(lf[3], lf[4], 2, frozenset()))
        elif fstype == "cgroup":
            opts = set(rf[2].split(",")) if len(rf) > 2 else set()
            mounts.append(Mount(lf[3], lf[4], 1, frozenset(opts)))
    return mounts


def parse_proc_cgroup(text: str) -> tuple[dict[str, str], str | None]:
    """(v1 controller -> path, v2 path) from /proc/<pid>/cgroup."""
    v1: dict[str, str] = {}
    v2 = None
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        hid, ctrls, path = parts
        if hid == "0" and ctrls == "":
            v2 = path
        else:
            for c in ctrls.split(","):
                if c:
                    v1[c] = path
    return v1, v2


def _join(mount: Mount, cg_path: str, sys_root: str) -> Path:
    """Directory of cg_path under a mount; mount points under /sys are moved to sys_root."""
    point = mount.mount_point
    if sys_root.rstrip("/") != "/sys" and (point == "/sys" or point.startswith("/sys/")):
        point = sys_root.rstrip("/") + point[len("/sys"):]
    rel = cg_path
    if mount.root not in ("/", "") and (cg_path == mount.root or cg_path.startswith(mount.root + "/")):
        rel = cg_path[len(mount.root):]
    candidate = Path(point, rel.lstrip("/"))
    return candidate if candidate.is_dir() else Path(point)


@dataclass(frozen=True)
class CgroupPaths:
    """Directories of the job's cgroup for CPU and memory accounting, with their versions."""

    cpu_dir: Path | None
    cpu_version: int | None
    mem_dir: Path | None
    mem_version: int | None

    def describe(self) -> str:
        cpu = f"v{self.cpu_version} {self.cpu_dir}" if self.cpu_dir else "none"
        mem = f"v{self.mem_version} {self.mem_dir}" if self.mem_dir else "none"
        return f"cpu: {cpu}; memory: {mem}"


def resolve(proc_root: str = "/proc", sys_root: str = "/sys", pid: int | str = "self") -> CgroupPaths:
    """Find the cgroup dirs of ``pid``: v2 cpu.stat / memory.current where present, else v1."""
    try:
        v1, v2 = parse_proc_cgroup(Path(proc_root, str(pid), "cgroup").read_text())
        mounts = parse_mountinfo(Path(proc_root, str(pid), "mountinfo").read_text())
    except OSError:
        return CgroupPaths(None, None, None, None)
    cpu_dir = mem_dir = None
    cpu_v = mem_v = None
    v2_mount = next((m for m in mounts if m.version == 2), None)
    if v2 is not None and v2_mount is not None:
        d = _join(v2_mount, v2, sys_root)
        if (d / "cpu.stat").is_file() and _v2_usage(d) is not None:
            cpu_dir, cpu_v = d, 2
        if (d / "memory.current").is_file():
            mem_dir, mem_v = d, 2
    if cpu_dir is None:
        cpu_dir = _v1_dir(mounts, v1, "cpuacct", "cpuacct.usage", sys_root)
        cpu_v = 1 if cpu_dir is not None else cpu_v
    if mem_dir is None:
        mem_dir = _v1_dir(mounts, v1, "memory", "memory.usage_in_bytes", sys_root)
        mem_v = 1 if mem_dir is not None else mem_v
    return CgroupPaths(cpu_dir, cpu_v, mem_dir, mem_v)


def _v1_dir(mounts, v1: dict, controller: str, marker: str, sys_root):
    """The cgroup v1 folder of ``controller`` for this process, when its ``marker`` file is there."""
    if controller not in v1:
        return None
    m = next((m for m in mounts if m.version == 1 and controller in m.controllers), None)
    if m is None:
        return None
    d = _join(m, v1[controller], sys_root)
    return d if (d / marker).is_file() else None


def _v2_usage(d: Path) -> float | None:
    try:
        for line in (d / "cpu.stat").read_text().splitlines():
            k, _, v = line.partition(" ")
            if k == "usage_usec":
                return int(v) / 1e6
    except (OSError, ValueError):
        return None
    return None


def read_cpu_s(d: Path, version: int) -> float | None:
    """Cumulative CPU seconds of everything in the cgroup."""
    if version == 2:
        return _v2_usage(d)
    try:
        return int((d / "cpuacct.usage").read_text()) / 1e9
    except (OSError, ValueError):
        return None


def read_mem_bytes(d: Path, version: int) -> tuple[int | None, int | None]:
    """(current, peak) bytes; peak is None where the kernel has no peak file (v2 before 5.19)."""
    cur_name, peak_name = (("memory.current", "memory.peak") if version == 2
                           else ("memory.usage_in_bytes", "memory.max_usage_in_bytes"))
    out = []
    for name in (cur_name, peak_name):
        try:
            out.append(int((d / name).read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            out.append(None)
    return out[0], out[1]


def read_procs(d: Path) -> list[int] | None:
    try:
        return [int(x) for x in (d / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return None


def holds_only_job(d: Path, root_pid: int, proc_root: str = "/proc") -> bool:
    """True when every pid in the cgroup is root_pid or one of its descendants."""
    pids = read_procs(d)
    if not pids:
        return False
    for pid in pids:
        cur, hops = pid, 0
        while cur != root_pid:
            st = procfs.read_pid_stat(proc_root, cur)
            if st is None:
                break  # vanished: it cannot bill the job any more
            if st.ppid <= 0 or hops > 4096:
                return False
            cur, hops = st.ppid, hops + 1
    return True


def cgroup_dirs_for_job(proc_root: str, sys_root: str, root_pid: int) -> CgroupPaths:
    """resolve() for root_pid (its own /proc entry, falling back to self)."""
    if Path(proc_root, str(root_pid), "cgroup").is_file():
        return resolve(proc_root, sys_root, root_pid)
    return resolve(proc_root, sys_root, "self")


__all__ = [
    "CgroupPaths", "Mount", "cgroup_dirs_for_job", "holds_only_job", "parse_mountinfo",
    "parse_proc_cgroup", "read_cpu_s", "read_mem_bytes", "resolve",
]
