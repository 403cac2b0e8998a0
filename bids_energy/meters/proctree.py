"""The job's process tree: who is running, how much CPU each used, and under which program name.

Reads /proc directly instead of through psutil: one ``stat`` read per descendant gives ppid,
CPU times, reaped-children CPU, start time and RSS together, and processes known to be
outside the job are not re-read every interval (a full re-scan every ``rescan_every`` calls
catches pid reuse). Descendants that have not run since the last interval (unchanged
``schedstat``) are not re-read at all, and program names are read once per exec. That keeps
the sampler cheap (about 1-2 ms per interval for 200 processes, see
docs/benchmarks-meters.md) and lets tests point ``proc_root`` at a fake tree. A process that
vanishes between listing and reading is skipped, as psutil's NoSuchProcess would be.
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


class _Known:
    """What the walker remembers about one live descendant between intervals."""

    __slots__ = ("fd", "sched", "sraw", "raw", "st", "name", "entry")

    def __init__(self, fd: int, raw: bytes, st: procfs.ProcStat) -> None:
        self.fd = fd  # kept-open /proc/<pid>/stat (or schedstat if sched), or -1
        self.sched = False
        self.sraw = b""  # schedstat bytes last read ("" = unknown: read stat)
        self.raw = raw  # the stat bytes last read
        self.st = st  # ... parsed
        self.name: tuple[str, tuple[int, int], str] | None = None  # (comm, exec_sig, program)
        self.entry: ProcEntry | None = None  # the entry built from raw, reused while unchanged


class ProcessTreeWalker:
    """Finds root's descendants each call; caches what does not change per (pid, start time).

    Cost per interval is one ``/proc`` listing plus one small read per descendant. On the
    real /proc a file per descendant stays open and is re-read with ``pread`` (no path
    lookup; a pid reused by a new process fails the read, since the open file belongs to the
    old one). For a single-threaded process that file is ``schedstat`` (run time and count
    of runs, a quarter of the kernel's cost of ``stat``): while it is unchanged the process
    has not run, so its CPU times, children's CPU, comm and threads are unchanged too, and
    ``stat`` is not read. ``stat`` is still read when its parent is gone (it was reparented)
    and every ``3 x rescan_every`` intervals (RSS can shrink without running). Unchanged bytes
    reuse last interval's entry. ``cmdline`` is read once per program: again only when
    ``comm`` or the argv address in ``stat`` changes (an exec), or, where the kernel hides
    that address, while the process is younger than ``name_settle_s``.
    """

    def __init__(self, proc_root: str | os.PathLike, root_pid: int, rescan_every: int = 10,
                 name_settle_s: float = 5.0, keep_fds: bool | None = None,
                 max_open_fds: int | None = None, use_schedstat: bool | None = None) -> None:
        self.proc_root = os.fspath(proc_root)
        self.root_pid = root_pid
        self.rescan_every = max(1, rescan_every)
        self.name_settle_s = name_settle_s
        self.keep_fds = _is_live_procfs(self.proc_root) if keep_fds is None else keep_fds
        self.max_open_fds = _fd_budget() if max_open_fds is None else max_open_fds
        self.use_schedstat = self.keep_fds and (
            _schedstat_works(self.proc_root) if use_schedstat is None else use_schedstat)
        self._outside: set[int] = set()
        self._known: dict[int, _Known] = {}
        self._root_fd = -1
        self._open_fds = 0
        self._calls = 0
        # stat of a process that has not run is re-read this often anyway (its RSS can shrink),
        # spread over intervals by pid
        self._refresh_every = 3 * self.rescan_every
        self._uptime: float | None = None
        self._uptime_read = False

    # ---- reading -----------------------------------------------------------------------
    def _stat_path(self, pid: int) -> str:
        return f"{self.proc_root}/{pid}/stat"

    def _fresh_read(self, pid: int, keep: bool) -> tuple[int, bytes | None]:
        """Open and read stat; returns (fd kept open or -1, bytes or None if gone)."""
        try:
            fd = os.open(self._stat_path(pid), os.O_RDONLY)
        except OSError:
            return -1, None
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = None
        if keep and data and self._open_fds < self.max_open_fds:
            self._open_fds += 1
            return fd, data
        os.close(fd)
        return -1, data

    def _read(self, pid: int) -> tuple[_Known | None, bool]:
        """(current stat of pid through the cache or None if it vanished, stat skipped?)."""
        k = self._known.get(pid)
        if k is not None and k.fd >= 0:
            try:
                data = os.pread(k.fd, 4096, 0)
            except OSError:  # ESRCH: ended, and maybe its pid already reused
                data = b""
            if data and k.sched:
                if data == k.sraw and (self._calls + pid) % self._refresh_every:
                    return k, True  # has not run since the last read
                k.sraw = data
                data = procfs.read_raw(self._stat_path(pid))
                if not data:
                    self._forget(pid)
                    return None, False
                return self._update(pid, k, data), False
            if data:
                return self._update(pid, k, data), False
            self._forget(pid)
            k = None
        fd, data = self._fresh_read(pid, self.keep_fds)
        if not data:
            return None, False
        if k is not None:
            return self._update(pid, k, data, fd), False
        try:
            st = procfs.parse_pid_stat(data)
        except (ValueError, IndexError):
            self._close(fd)
            return None, False
        k = _Known(fd, data, st)
        self._known[pid] = k
        return k, False

    def _reread_stat(self, pid: int, k: _Known) -> _Known | None:
        data = procfs.read_raw(self._stat_path(pid))
        if not data:
            self._forget(pid)
            return None
        return self._update(pid, k, data)

    def _update(self, pid: int, k: _Known, data: bytes, fd: int = -1) -> _Known | None:
        if fd >= 0:
            self._close(k.fd)
            k.fd, k.sched, k.sraw = fd, False, b""
        if data == k.raw:
            return k
        try:
            st = procfs.parse_pid_stat(data)
        except (ValueError, IndexError):
            self._forget(pid)
            return None
        if st.start_ticks != k.st.start_ticks:  # pid reused: nothing carries over
            fd, sched, k.fd = k.fd, k.sched, -1
            k = _Known(fd, data, st)
            k.sched = sched
            self._known[pid] = k
            return k
        k.raw, k.st, k.entry = data, st, None
        return k

    def _settle_fd(self, pid: int, k: _Known) -> None:
        """Keep schedstat open for a single-threaded process, stat for a multi-threaded one."""
        want_sched = self.use_schedstat and k.st.threads == 1
        if k.fd < 0 or k.sched == want_sched:
            return
        try:
            fd = os.open(f"{self.proc_root}/{pid}/{'schedstat' if want_sched else 'stat'}",
                         os.O_RDONLY)
        except OSError:
            return
        os.close(k.fd)  # one kept file swapped for another: the count is unchanged
        k.fd, k.sched, k.sraw = fd, want_sched, b""  # unknown schedstat: next read reads stat

    def _close(self, fd: int) -> None:
        if fd >= 0:
            self._open_fds -= 1
            try:
                os.close(fd)
            except OSError:
                pass

    def _forget(self, pid: int) -> None:
        k = self._known.pop(pid, None)
        if k is not None:
            self._close(k.fd)

    def _read_root(self) -> procfs.ProcStat | None:
        if self._root_fd >= 0:
            try:
                data = os.pread(self._root_fd, 4096, 0)
            except OSError:
                data = b""
            if not data:
                self._close(self._root_fd)
                self._root_fd = -1
                return None
        else:
            self._root_fd, data = self._fresh_read(self.root_pid, self.keep_fds)
            if not data:
                return None
        try:
            return procfs.parse_pid_stat(data)
        except (ValueError, IndexError):
            return None

    def _list(self) -> set[int]:
        try:
            return set(map(int, filter(str.isdigit, os.listdir(self.proc_root))))
        except OSError:
            return set()

    def close(self) -> None:
        """Close the kept-open stat files (the sampler calls this when it stops)."""
        for pid in list(self._known):
            self._forget(pid)
        self._close(self._root_fd)
        self._root_fd = -1

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # ---- one snapshot ------------------------------------------------------------------
    def snapshot(self) -> TreeSnapshot | None:
        """None only when root itself cannot be read (then the tree is unknowable)."""
        root = self._read_root()
        if root is None:
            return None
        full = self._calls % self.rescan_every == 0
        self._calls += 1
        self._uptime_read = False
        listed = self._list()
        for pid in [p for p in self._known if p not in listed]:
            self._forget(pid)
        self._outside &= listed
        outside = self._outside
        stats: dict[int, _Known] = {}
        skipped = []
        for pid in listed:
            if pid == self.root_pid or (not full and pid in outside):
                continue
            k, skip = self._read(pid)
            if k is not None:
                stats[pid] = k
                if skip:
                    skipped.append(pid)
        for pid in skipped:  # not run, but maybe reparented: its parent must still be there
            k = stats[pid]
            parent = k.st.ppid
            if parent != self.root_pid and (
                    parent not in stats or stats[parent].st.start_ticks > k.st.start_ticks):
                k2 = self._reread_stat(pid, k)
                if k2 is None:
                    del stats[pid]
                else:
                    stats[pid] = k2
        inside = _descendants(self.root_pid, {pid: k.st.ppid for pid, k in stats.items()})
        procs: dict[tuple[int, int], ProcEntry] = {}
        for pid, k in stats.items():
            if pid not in inside:
                outside.add(pid)
                self._forget(pid)
                continue
            if k.entry is None or k.st.exec_sig == (0, 0):
                if k.fd >= 0:
                    self._settle_fd(pid, k)
                entry = self._entry(k)
            else:  # same stat bytes, same exec: last interval's entry stands
                entry = k.entry
            procs[entry.key] = entry
        return TreeSnapshot(root_children_cpu_s=root.children_cpu_s, procs=procs)

    def _entry(self, k: _Known) -> ProcEntry:
        """Last interval's entry when stat and program are unchanged, else a new one."""
        prog = self._program(k)
        e = k.entry
        if e is not None and e.program == prog:
            return e
        st = k.st
        e = ProcEntry(st.pid, st.ppid, st.start_ticks, st.self_cpu_s, st.children_cpu_s,
                      st.rss_bytes, prog)
        k.entry = e if prog != PENDING else None
        return e

    def _young(self, st: procfs.ProcStat) -> bool:
        if not self._uptime_read:
            self._uptime = procfs.read_uptime_s(self.proc_root)
            self._uptime_read = True
        return self._uptime is None or (
            self._uptime - st.start_ticks / procfs.USER_HZ < self.name_settle_s)

    def _program(self, k: _Known) -> str:
        """Re-read cmdline only after an exec (comm or argv address changed).

        Where the argv address is hidden ((0, 0)), fall back to re-reading while the process
        is young, to catch fork-then-exec of a program that keeps comm (exec -a, symlinks).
        """
        st, cached = k.st, k.name
        sig = st.exec_sig
        if cached is not None and cached[0] == st.comm:
            if sig != (0, 0):
                if cached[1] == sig:
                    return cached[2]
            elif not self._young(st):
                return cached[2]
        cmdline = procfs.read_cmdline(self.proc_root, st.pid)
        mid_exec = sig == (0, 0) and cached is not None and cached[1] != (0, 0)
        if not cmdline and (st.state == "Z" or mid_exec or self._young(st)):
            # mid-exec (new address space, argv not yet set up), or a zombie (cmdline gone):
            # keep the name we had; an unnamed one waits (a zombie's CPU then reaches its
            # parent when reaped, as a short-lived child's does)
            return cached[2] if cached is not None else PENDING
        prog = program_name(st.comm, cmdline)
        k.name = (st.comm, sig, prog)
        return prog


def _is_live_procfs(proc_root: str) -> bool:
    """True on a real procfs (its ``self`` names us): only there may stat files stay open.

    A fake tree's files are plain files; one kept open would go on reading a deleted copy.
    """
    try:
        return os.readlink(os.path.join(proc_root, "self")) == str(os.getpid())
    except OSError:
        return False


def _schedstat_works(proc_root: str) -> bool:
    """Kernels built without scheduler statistics print "0 0 0": useless as a change signal."""
    data = procfs.read_raw(f"{proc_root}/self/schedstat", 128)
    return bool(data) and not data.startswith(b"0 ")


def _fd_budget() -> int:
    """Kept-open stat files: a quarter of the soft fd limit, at most 4096; past it, open/read/close."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 0
    if soft == resource.RLIM_INFINITY:
        return 4096
    return max(0, min(4096, soft // 4))


def _descendants(root_pid: int, ppids: dict[int, int]) -> set[int]:
    """Pids whose parent chain reaches root_pid, using only the ppids we read."""
    children: dict[int, list[int]] = {}
    for pid, parent in ppids.items():
        kids = children.get(parent)
        if kids is None:
            children[parent] = [pid]
        else:
            kids.append(pid)
    out: set[int] = set()
    stack = [root_pid]
    while stack:
        for c in children.get(stack.pop(), ()):
            if c not in out and c != root_pid:
                out.add(c)
                stack.append(c)
    return out


def job_cpu_s(snap: TreeSnapshot, root_children_baseline_s: float) -> float:
    """Job CPU = live descendants (their own + reaped children) + root's reaped children since start."""
    return snap.live_cpu_s() + max(0.0, snap.root_children_cpu_s - root_children_baseline_s)
