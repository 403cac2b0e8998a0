"""Readers for the few /proc files the meters need, with the proc root injectable.

Parsing is kept apart from opening so unit tests can feed strings; every reader takes
``proc_root`` so tests point it at a fake tree instead of the real /proc.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

USER_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class NodeCpu:
    """Cumulative CPU seconds of the whole node (all cores), from the first line of /proc/stat."""

    busy_s: float
    total_s: float


def parse_proc_stat(text: str, user_hz: int = USER_HZ) -> NodeCpu:
    """Busy vs total from the aggregate ``cpu`` line.

    total = user+nice+system+idle+iowait+irq+softirq+steal (guest time is already inside
    user/nice, so adding it would count it twice); busy = total - idle - iowait.
    """
    for line in text.splitlines():
        if line.startswith("cpu "):
            fields = [int(x) for x in line.split()[1:]]
            fields += [0] * (8 - len(fields))
            user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
            total = user + nice + system + idle + iowait + irq + softirq + steal
            busy = total - idle - iowait
            return NodeCpu(busy_s=busy / user_hz, total_s=total / user_hz)
    raise ValueError("no aggregate 'cpu' line in /proc/stat")


def read_node_cpu(proc_root: str | os.PathLike = "/proc") -> NodeCpu:
    """Read the node's cumulative busy/total CPU seconds.

    Only the head of the file is read and parsed: the aggregate line comes first, and on
    many-core nodes the per-CPU and interrupt lines that follow run to tens of kilobytes.
    """
    path = f"{os.fspath(proc_root)}/stat"
    fd = os.open(path, os.O_RDONLY)
    try:
        head = os.read(fd, 4096)
    finally:
        os.close(fd)
    return parse_proc_stat(head.decode("ascii", "replace"))


@dataclass(frozen=True)
class CpuInfo:
    model: str
    logical_cores: int
    physical_cores: int


def parse_cpuinfo(text: str) -> CpuInfo:
    """Model name and core counts; physical cores = distinct (physical id, core id) pairs.

    VMs often omit the topology lines, in which case physical = logical (what the guest sees).
    """
    model = ""
    logical = 0
    pairs: set[tuple[str, str]] = set()
    phys_id = core_id = None
    for line in text.splitlines() + [""]:
        if not line.strip():
            if phys_id is not None and core_id is not None:
                pairs.add((phys_id, core_id))
            phys_id = core_id = None
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "processor":
            logical += 1
        elif key == "model name" and not model:
            model = value
        elif key == "physical id":
            phys_id = value
        elif key == "core id":
            core_id = value
    physical = len(pairs) if pairs else logical
    return CpuInfo(model=model or "unknown", logical_cores=logical, physical_cores=physical)


def read_cpuinfo(proc_root: str | os.PathLike = "/proc") -> CpuInfo:
    try:
        info = parse_cpuinfo(Path(proc_root, "cpuinfo").read_text())
    except OSError:
        info = CpuInfo("unknown", 0, 0)
    if info.logical_cores == 0:
        n = os.cpu_count() or 1
        info = CpuInfo(info.model, n, n)
    return info


def read_mem_total_gb(proc_root: str | os.PathLike = "/proc") -> float | None:
    try:
        for line in Path(proc_root, "meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024 / 1e9
    except (OSError, ValueError, IndexError):
        return None
    return None


def read_uptime_s(proc_root: str | os.PathLike = "/proc") -> float | None:
    data = read_raw(f"{os.fspath(proc_root)}/uptime", 256)
    try:
        return float(data.split()[0]) if data else None
    except (ValueError, IndexError):
        return None


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/<pid>/stat the tree walk needs, in seconds and bytes."""

    pid: int
    comm: str
    state: str
    ppid: int
    self_cpu_s: float  # utime + stime
    children_cpu_s: float  # cutime + cstime: reaped children, recursively
    start_ticks: int  # starttime in clock ticks since boot: with pid, identifies the process
    rss_bytes: int
    # (arg_start, arg_end): where argv lives in the process's memory. A new address space
    # (exec) moves it; fork copies it. (0, 0) when unknown (old kernel, no ptrace access,
    # zombie, kernel thread).
    exec_sig: tuple[int, int] = (0, 0)
    threads: int = 1  # num_threads


def parse_pid_stat(text: str | bytes, user_hz: int = USER_HZ,
                   page_size: int = PAGE_SIZE) -> ProcStat:
    """Parse /proc/<pid>/stat; comm may hold spaces and parentheses, so split at the last ')'."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    open_i = text.index("(")
    close_i = text.rindex(")")
    pid = int(text[:open_i])
    comm = text[open_i + 1 : close_i]
    rest = text[close_i + 2 :].split()
    # rest[0] is field 3 (state); field n is rest[n - 3]
    utime, stime, cutime, cstime = int(rest[11]), int(rest[12]), int(rest[13]), int(rest[14])
    sig = (int(rest[45]), int(rest[46])) if len(rest) > 46 else (0, 0)
    return ProcStat(
        pid=pid,
        comm=comm,
        state=rest[0],
        ppid=int(rest[1]),
        self_cpu_s=(utime + stime) / user_hz,
        children_cpu_s=(cutime + cstime) / user_hz,
        start_ticks=int(rest[19]),
        rss_bytes=max(0, int(rest[21])) * page_size,
        exec_sig=sig,
        threads=int(rest[17]),
    )


def read_raw(path: str, size: int = 4096) -> bytes | None:
    """One unbuffered read (os.open/os.read): /proc files are generated whole on first read,
    and this runs for every descendant every interval, so the buffered text layer is skipped."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, size)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_pid_stat(proc_root: str | os.PathLike, pid: int) -> ProcStat | None:
    """None when the process vanished (or cannot be read) between listing and reading."""
    data = read_raw(f"{os.fspath(proc_root)}/{pid}/stat")
    if not data:
        return None
    try:
        return parse_pid_stat(data)
    except (ValueError, IndexError):
        return None


def read_cmdline(proc_root: str | os.PathLike, pid: int) -> list[str]:
    """argv of a process; [] when gone, a zombie, a kernel thread or mid-exec."""
    path = f"{os.fspath(proc_root)}/{pid}/cmdline"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return []
    chunks = []
    try:
        while True:  # argv can exceed one page (long file lists)
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError:
        return []
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    return [p.decode("utf-8", "replace") for p in raw.split(b"\0") if p]


def list_pids(proc_root: str | os.PathLike = "/proc") -> list[int]:
    try:
        return [int(n) for n in os.listdir(proc_root) if n.isdigit()]
    except OSError:
        return []


def parse_cpu_list(text: str) -> list[int]:
    """A kernel CPU list ("0-3,8,10-11") as CPU numbers; [] for an empty or bad list."""
    out: list[int] = []
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                a, b = part.split("-", 1)
                out.extend(range(int(a), int(b) + 1))
            else:
                out.append(int(part))
        except ValueError:
            return []
    return out


@dataclass(frozen=True)
class Topology:
    """Hardware threads, cores and packages: a package's TDP covers all of its threads."""

    logical: int
    cores: int
    packages: int
    source: str

    @property
    def threads_per_core(self) -> int:
        return max(1, round(self.logical / max(1, self.cores)))


def read_topology(sys_root: str | os.PathLike = "/sys", cpu: CpuInfo | None = None) -> Topology:
    """From /sys/devices/system/cpu/cpu*/topology (thread_siblings_list, physical_package_id);
    else /proc/cpuinfo's counts (VMs often hide topology: then threads = cores)."""
    base = Path(sys_root, "devices", "system", "cpu")
    cores: set[tuple[str, tuple[int, ...]]] = set()
    packages: set[str] = set()
    logical = 0
    try:
        entries = sorted(p for p in base.iterdir() if p.name[3:].isdigit() and p.name.startswith("cpu"))
    except OSError:
        entries = []
    for d in entries:
        try:
            siblings = tuple(parse_cpu_list((d / "topology" / "thread_siblings_list").read_text()))
            pkg = (d / "topology" / "physical_package_id").read_text().strip()
        except OSError:
            continue  # offline CPU or no topology
        logical += 1
        packages.add(pkg)
        cores.add((pkg, siblings or (int(d.name[3:]),)))
    if logical:
        return Topology(logical, len(cores), len(packages), f"{base}/cpu*/topology")
    info = cpu or CpuInfo("unknown", os.cpu_count() or 1, os.cpu_count() or 1)
    return Topology(info.logical_cores, info.physical_cores, 1,
                    "/proc/cpuinfo (no /sys topology; one package assumed)")
