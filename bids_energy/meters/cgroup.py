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


def parse_memory_stat(text: str) -> dict[str, int]:
    """``memory.stat`` as a dict of integers (bytes, or counts for event lines)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value)
        except ValueError:
            continue
    return out


# Anonymous memory, page cache excluded: v2 ``anon``; v1 ``total_rss`` (hierarchical, the
# cgroup and its children) else ``rss``. memory.current / usage_in_bytes / memory.peak
# include the page cache, which an I/O-heavy pipeline fills without holding the RAM.
ANON_KEYS = {2: ("anon",), 1: ("total_rss", "rss")}


def read_mem_anon_bytes(d: Path, version: int) -> tuple[int | None, str]:
    """(anonymous bytes, the memory.stat key used); (None, why) where unreadable."""
    try:
        stat = parse_memory_stat((d / "memory.stat").read_text())
    except OSError as exc:
        return None, f"memory.stat unreadable ({exc.strerror})"
    for key in ANON_KEYS.get(version, ()):
        if key in stat:
            return stat[key], key
    return None, f"memory.stat has no {'/'.join(ANON_KEYS.get(version, ()))} line"


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


# ---- CPUs the job's cgroup may use (quota and cpuset) --------------------------------------

def parse_cpu_max(text: str) -> float | None:
    """CPUs' worth of a v2 ``cpu.max`` ("200000 100000" -> 2.0); None for "max" (no quota)."""
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    try:
        quota = int(parts[0])
        period = int(parts[1]) if len(parts) > 1 else 100000
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _ancestors(d: Path, stop: Path) -> list[Path]:
    """d and its parents up to the mount point ``stop`` (a quota set higher up limits too)."""
    out = [d]
    while d != stop and d.parent != d and stop in d.parents:
        d = d.parent
        out.append(d)
    return out


@dataclass(frozen=True)
class CpuLimits:
    """What the cgroup lets the job use: quota in CPUs and the cpuset's CPU count."""

    quota_cpus: float | None
    cpuset_cpus: int | None
    source: str


def read_cpu_limits(proc_root: str = "/proc", sys_root: str = "/sys", pid: int | str = "self"
                    ) -> CpuLimits:
    """Smallest quota and the cpuset of ``pid``'s cgroup and its ancestors (v2, else v1)."""
    try:
        v1, v2 = parse_proc_cgroup(Path(proc_root, str(pid), "cgroup").read_text())
        mounts = parse_mountinfo(Path(proc_root, str(pid), "mountinfo").read_text())
    except OSError:
        return CpuLimits(None, None, "no /proc cgroup information")
    quota: float | None = None
    cpuset: int | None = None
    where: list[str] = []
    v2_mount = next((m for m in mounts if m.version == 2), None)
    if v2 is not None and v2_mount is not None:
        d = _join(v2_mount, v2, sys_root)
        stop = Path(_join(v2_mount, "/", sys_root))
        for a in _ancestors(d, stop):
            txt = _read(a / "cpu.max")
            q = parse_cpu_max(txt) if txt else None
            if q is not None and (quota is None or q < quota):
                quota = q
                where.append(f"v2 {a}/cpu.max")
            if cpuset is None:
                txt = _read(a / "cpuset.cpus.effective")
                if txt and procfs.parse_cpu_list(txt):
                    cpuset = len(procfs.parse_cpu_list(txt))
                    where.append(f"v2 {a}/cpuset.cpus.effective")
    for ctrl, files in (("cpu", ("cpu.cfs_quota_us", "cpu.cfs_period_us")), ("cpuset", ("cpuset.cpus",))):
        if ctrl not in v1:
            continue
        m = next((m for m in mounts if m.version == 1 and ctrl in m.controllers), None)
        if m is None:
            continue
        d = _join(m, v1[ctrl], sys_root)
        if ctrl == "cpu" and quota is None:
            q_txt, p_txt = _read(d / files[0]), _read(d / files[1])
            try:
                q, per = int((q_txt or "-1").strip()), int((p_txt or "0").strip())
            except ValueError:
                q, per = -1, 0
            if q > 0 and per > 0:
                quota = q / per
                where.append(f"v1 {d}/cpu.cfs_quota_us")
        if ctrl == "cpuset" and cpuset is None:
            txt = _read(d / files[0])
            if txt and procfs.parse_cpu_list(txt):
                cpuset = len(procfs.parse_cpu_list(txt))
                where.append(f"v1 {d}/cpuset.cpus")
    return CpuLimits(quota, cpuset, "; ".join(where) or "no cgroup CPU limit")


__all__ = [
    "CgroupPaths", "CpuLimits", "Mount", "cgroup_dirs_for_job", "holds_only_job",
    "parse_cpu_max", "parse_memory_stat", "parse_mountinfo", "parse_proc_cgroup",
    "read_cpu_limits", "read_cpu_s", "read_mem_anon_bytes", "read_mem_bytes", "resolve",
]
