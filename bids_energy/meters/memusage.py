"""The job's resident memory for the W/GB model: what it holds, counted once.

Two sources, the same definition (anonymous / proportionally shared resident memory, page
cache excluded):

* cgroup: ``memory.stat`` anon (v2) or total_rss/rss (v1), see ``cgroup.read_mem_anon_bytes``.
  ``memory.current``/``memory.peak`` are not used: they include page cache.
* process tree: the sum of PSS (``/proc/PID/smaps_rollup``, Linux 4.14+), where each shared
  page is divided among the processes mapping it. Summing RSS instead counts a page shared by
  N forked workers N times. Where smaps_rollup cannot be read (old kernel, another user's
  process, a process gone mid-read) that process's RSS is used and the source says so.

All figures are bytes; the unit of reports is decimal GB (``memmodel.BYTES_PER_GB``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bids_energy.meters import cgroup


@dataclass(frozen=True)
class MemReading:
    bytes: int
    source: str  # how it was obtained, for the footprint


def parse_smaps_rollup(text: str) -> dict[str, int]:
    """The ``Key: N kB`` lines of smaps_rollup, in bytes (kB there are KiB)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            out[key.strip()] = int(parts[0]) * 1024
    return out


def read_pss_bytes(proc_root: str | os.PathLike, pid: int) -> int | None:
    try:
        text = Path(proc_root, str(pid), "smaps_rollup").read_text()
    except (OSError, UnicodeDecodeError):
        return None
    return parse_smaps_rollup(text).get("Pss")


class PssTracker:
    """PSS of a process tree at a bounded cost.

    Reading smaps_rollup walks the process's page tables: for 200 processes every second
    that is ten times the rest of the sampler. So each process's PSS/RSS ratio is read when
    it first reaches ``min_rss_bytes`` and refreshed every ``refresh_s``, biggest processes
    first and at most ``max_reads`` files per call; in between, its PSS is its current RSS x
    its last ratio. Processes below ``min_rss_bytes`` count their RSS (their sharing cannot
    move a job's figure by more than that threshold each)."""

    def __init__(self, proc_root: str | os.PathLike = "/proc", max_reads: int | None = 16,
                 min_rss_bytes: int = 8 << 20, refresh_s: float = 10.0,
                 reader=read_pss_bytes, clock=time.monotonic) -> None:
        self.proc_root = proc_root
        self.max_reads = max_reads
        self.min_rss_bytes = min_rss_bytes
        self.refresh_s = refresh_s
        self.reader = reader
        self.clock = clock
        self._ratio: dict[int, float | None] = {}  # None: smaps_rollup unreadable
        self._when: dict[int, float] = {}

    def measure(self, rss_by_pid: Mapping[int, int]) -> MemReading:
        now = self.clock()
        for gone in [p for p in self._ratio if p not in rss_by_pid]:
            del self._ratio[gone], self._when[gone]
        due = [p for p, rss in rss_by_pid.items() if rss >= self.min_rss_bytes
               and (p not in self._ratio or now - self._when[p] >= self.refresh_s)]
        due.sort(key=lambda p: (p in self._ratio, -rss_by_pid[p]))
        for pid in due[: self.max_reads] if self.max_reads is not None else due:
            rss = rss_by_pid[pid]
            pss = self.reader(self.proc_root, pid)
            self._ratio[pid] = None if pss is None else (min(1.0, pss / rss) if rss > 0 else 1.0)
            self._when[pid] = now
        total = unreadable = 0
        for pid, rss in rss_by_pid.items():
            ratio = self._ratio.get(pid)
            if ratio is None:
                unreadable += pid in self._ratio
                total += rss
            else:
                total += int(rss * ratio)
        return MemReading(total, self._describe(len(rss_by_pid), unreadable))

    def _describe(self, n: int, unreadable: int) -> str:
        if n and unreadable == n:
            return ("process tree: sum of RSS (smaps_rollup unreadable: pages shared between "
                    "processes are counted once per process)")
        src = "process tree: sum of PSS (smaps_rollup)"
        if self.min_rss_bytes > 0:
            src += (f" for processes of {self.min_rss_bytes >> 20} MiB RSS or more, refreshed "
                    f"every {self.refresh_s:g} s, RSS below that")
        if unreadable:
            src += f"; RSS for {unreadable} of {n} processes whose smaps_rollup was unreadable"
        return src


def tree_mem(proc_root: str | os.PathLike, rss_by_pid: Mapping[int, int],
             pss_reader=read_pss_bytes) -> MemReading:
    """Sum of PSS over every process now, RSS where PSS is unreadable (one-off, uncached)."""
    return PssTracker(proc_root, max_reads=None, min_rss_bytes=0,
                      reader=pss_reader).measure(rss_by_pid)


def cgroup_mem(d: Path, version: int) -> MemReading | None:
    """Anonymous memory of the cgroup, or None (and the caller uses the process tree)."""
    anon, key = cgroup.read_mem_anon_bytes(d, version)
    if anon is None:
        return None
    return MemReading(anon, f"cgroup v{version} memory.stat {key} (page cache excluded)")


def pids_rss(entries: Iterable) -> dict[int, int]:
    """pid -> RSS bytes from process-tree entries (anything with .pid and .rss_bytes)."""
    return {e.pid: e.rss_bytes for e in entries}
