"""The job's process tree: who is running, how much CPU each used, and under which program name.

Reads /proc directly instead of through psutil: one ``stat`` read per descendant gives ppid,
CPU times, reaped-children CPU, start time and RSS together, and processes known to be
outside the job are not re-read every interval (a full re-scan every ``rescan_every`` calls
catches pid reuse). That keeps the sampler cheap on nodes with thousands of processes and
lets tests point ``proc_root`` at a fake tree. A process that vanishes between listing and
reading is skipped, as psutil's NoSuchProcess would be.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from bids_energy.meters import procfs
from bids_energy.meters.steps import program_name

ROOT_KEY = (-1, -1)
UNIDENTIFIED = "unidentified"
PENDING = ""  # program not known yet; its CPU waits for the next snapshot


@dataclass(frozen=True)
class ProcEntry:
    pid: int
    ppid: int
    start_ticks: int
    self_cpu_s: float
    children_cpu_s: float
    rss_bytes: int
    program: str

    @property
    def key(self) -> tuple[int, int]:
        return (self.pid, self.start_ticks)

    @property
    def total_cpu_s(self) -> float:
        return self.self_cpu_s + self.children_cpu_s


@dataclass(frozen=True)
class TreeSnapshot:
    """Descendants of root (root excluded) plus root's reaped-children CPU at one instant."""

    root_children_cpu_s: float
    procs: dict[tuple[int, int], ProcEntry] = field(default_factory=dict)

    def live_cpu_s(self) -> float:
        return sum(p.total_cpu_s for p in self.procs.values())

    def rss_bytes(self) -> int:
        return sum(p.rss_bytes for p in self.procs.values())

    def pids(self) -> set[int]:
        return {p.pid for p in self.procs.values()}


class ProcessTreeWalker:
    """Finds root's descendants each call; caches program names per (pid, start time)."""

    def __init__(self, proc_root: str | os.PathLike, root_pid: int, rescan_every: int = 10,
                 name_settle_s: float = 5.0) -> None:
        self.proc_root = os.fspath(proc_root)
        self.root_pid = root_pid
        self.rescan_every = max(1, rescan_every)
        self.name_settle_s = name_settle_s
        self._outside: set[int] = set()
        self._names: dict[tuple[int, int], tuple[str, str]] = {}  # key -> (comm, program)
        self._calls = 0

    def snapshot(self) -> TreeSnapshot | None:
        """None only when root itself cannot be read (then the tree is unknowable)."""
        root = procfs.read_pid_stat(self.proc_root, self.root_pid)
        if root is None:
            return None
        full = self._calls % self.rescan_every == 0
        self._calls += 1
        pids = procfs.list_pids(self.proc_root)
        listed = set(pids)
        self._outside &= listed
        stats: dict[int, procfs.ProcStat] = {}
        for pid in pids:
            if pid == self.root_pid or (not full and pid in self._outside):
                continue
            st = procfs.read_pid_stat(self.proc_root, pid)
            if st is not None:
                stats[pid] = st
        inside = _descendants(self.root_pid, {pid: st.ppid for pid, st in stats.items()})
        self._outside |= set(stats) - inside
        uptime = procfs.read_uptime_s(self.proc_root) if inside else None
        procs: dict[tuple[int, int], ProcEntry] = {}
        for pid in inside:
            st = stats[pid]
            entry = ProcEntry(pid, st.ppid, st.start_ticks, st.self_cpu_s, st.children_cpu_s,
                              st.rss_bytes, self._program(st, uptime))
            procs[entry.key] = entry
        live_keys = set(procs)
        for key in [k for k in self._names if k not in live_keys]:
            del self._names[key]
        return TreeSnapshot(root_children_cpu_s=root.children_cpu_s, procs=procs)

    def _program(self, st: procfs.ProcStat, uptime: float | None) -> str:
        """Re-read cmdline while a process is young or its comm changed (fork then exec)."""
        key = (st.pid, st.start_ticks)
        cached = self._names.get(key)
        young = uptime is None or uptime - st.start_ticks / procfs.USER_HZ < self.name_settle_s
        if cached is not None and cached[0] == st.comm and not young:
            return cached[1]
        cmdline = procfs.read_cmdline(self.proc_root, st.pid)
        if not cmdline and (young or st.state == "Z"):
            # mid-exec, or a zombie (cmdline gone): keep the name we had; an unnamed one waits
            # (a zombie's CPU then reaches its parent when reaped, as a short-lived child's does)
            return cached[1] if cached is not None else PENDING
        prog = program_name(st.comm, cmdline)
        self._names[key] = (st.comm, prog)
        return prog


def _descendants(root_pid: int, ppids: dict[int, int]) -> set[int]:
    """Pids whose parent chain reaches root_pid, using only the ppids we read."""
    verdict: dict[int, bool] = {}

    def inside(pid: int) -> bool:
        chain = []
        cur = pid
        while True:
            if cur in verdict:
                result = verdict[cur]
                break
            parent = ppids.get(cur)
            if parent is None or parent <= 0 or len(chain) > 4096:
                result = False
                break
            if parent == root_pid:
                chain.append(cur)
                result = True
                break
            chain.append(cur)
            cur = parent
        for c in chain:
            verdict[c] = result
        return result

    return {pid for pid in ppids if inside(pid)}


def job_cpu_s(snap: TreeSnapshot, root_children_baseline_s: float) -> float:
    """Job CPU = live descendants (their own + reaped children) + root's reaped children since start."""
    return snap.live_cpu_s() + max(0.0, snap.root_children_cpu_s - root_children_baseline_s)


def split_interval(prev: TreeSnapshot, cur: TreeSnapshot, prev_rates: dict[tuple[int, int], float],
                   dt_s: float) -> tuple[dict[str, float], dict[tuple[int, int], float]]:
    """CPU seconds used in (prev, cur] by program, and each live process's CPU rate.

    Live-at-both processes get their own CPU delta. New processes get all their CPU (they
    started inside the interval). CPU of processes that ended reaches the nearest surviving
    ancestor's reaped-children total (or root's); what exceeds the ended children's last-seen
    totals is their tail plus children never seen at all. The tail goes back to the ended
    processes, capped by max(last rate, 1 core) x dt; the rest goes to the surviving ancestor's program.
    """
    out: dict[str, float] = {}
    rates: dict[tuple[int, int], float] = {}

    def add(prog: str, cpu: float) -> None:
        if cpu > 0:
            out[prog] = out.get(prog, 0.0) + cpu

    child_delta: dict[tuple[int, int], float] = {
        ROOT_KEY: max(0.0, cur.root_children_cpu_s - prev.root_children_cpu_s)}
    for key, c in cur.procs.items():
        p = prev.procs.get(key)
        if c.program == PENDING:
            continue
        if p is None or p.program == PENDING:
            add(c.program, c.total_cpu_s)
            rates[key] = c.self_cpu_s / dt_s if dt_s > 0 else 0.0
            continue
        d_self = max(0.0, c.self_cpu_s - p.self_cpu_s)
        add(c.program, d_self)
        rates[key] = d_self / dt_s if dt_s > 0 else 0.0
        child_delta[key] = max(0.0, c.children_cpu_s - p.children_cpu_s)

    prev_by_pid = {p.pid: p for p in prev.procs.values()}
    groups: dict[tuple[int, int], list[ProcEntry]] = {}
    direct: dict[tuple[int, int], float] = {}
    for key, v in prev.procs.items():
        if key in cur.procs or v.program == PENDING:
            continue  # a pending process that ended counts as never seen
        sink = _sink(v, prev_by_pid, cur)
        groups.setdefault(sink, []).append(v)
        # every ended process's last-seen total was attributed already and flows up to the sink
        direct[sink] = direct.get(sink, 0.0) + v.total_cpu_s
    for sink, delta in child_delta.items():
        extra = delta - direct.get(sink, 0.0)
        if extra <= 0:
            continue
        ended = groups.get(sink, [])
        # an ended process was most likely running until it ended: at least one core's worth
        caps = [max(prev_rates.get(v.key, 0.0), 1.0) * dt_s for v in ended]
        total_cap = sum(caps)
        given = min(extra, total_cap)
        for v, cap in zip(ended, caps, strict=True):
            if total_cap > 0:
                add(v.program, given * cap / total_cap)
        rest = extra - given
        if rest > 0:
            sink_prog = cur.procs[sink].program if sink in cur.procs else None
            if sink_prog is None:
                direct_progs = [v.program for v in ended if v.ppid not in prev_by_pid]
                sink_prog = direct_progs[0] if direct_progs else UNIDENTIFIED
            add(sink_prog, rest)
    return out, rates


def _sink(v: ProcEntry, prev_by_pid: dict[int, ProcEntry], cur: TreeSnapshot) -> tuple[int, int]:
    """Nearest ancestor alive in both snapshots, ROOT_KEY if none."""
    node = v
    for _ in range(4096):
        parent = prev_by_pid.get(node.ppid)
        if parent is None:
            return ROOT_KEY
        if parent.key in cur.procs:
            return parent.key
        node = parent
    return ROOT_KEY
