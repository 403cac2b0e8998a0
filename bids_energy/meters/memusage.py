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


def tree_mem(proc_root: str | os.PathLike, rss_by_pid: Mapping[int, int],
             pss_reader=read_pss_bytes) -> MemReading:
    """Sum of PSS over the processes, falling back to each one's RSS where PSS is unreadable."""
    total = 0
    fallback = 0
    for pid, rss in rss_by_pid.items():
        pss = pss_reader(proc_root, pid)
        if pss is None:
            fallback += 1
            total += rss
        else:
            total += pss
    n = len(rss_by_pid)
    if n == 0 or fallback == 0:
        return MemReading(total, "process tree: sum of PSS (smaps_rollup)")
    if fallback == n:
        return MemReading(total, "process tree: sum of RSS (smaps_rollup unreadable: pages "
                                 "shared between processes are counted once per process)")
    return MemReading(total, f"process tree: sum of PSS, RSS for {fallback} of {n} processes "
                             "whose smaps_rollup was unreadable")


def cgroup_mem(d: Path, version: int) -> MemReading | None:
    """Anonymous memory of the cgroup, or None (and the caller uses the process tree)."""
    anon, key = cgroup.read_mem_anon_bytes(d, version)
    if anon is None:
        return None
    return MemReading(anon, f"cgroup v{version} memory.stat {key} (page cache excluded)")


def pids_rss(entries: Iterable) -> dict[int, int]:
    """pid -> RSS bytes from process-tree entries (anything with .pid and .rss_bytes)."""
    return {e.pid: e.rss_bytes for e in entries}
