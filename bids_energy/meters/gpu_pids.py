"""NVML's process PIDs in the job's own PID view, for the per-step GPU split.

``nvmlDeviceGetProcessUtilization`` reports PIDs of the host's (initial) PID namespace.
The process-tree walker sees PIDs of the namespace its ``/proc`` was mounted in. They are
the same only when that namespace is the initial one (its ``ns/pid`` link reads
``pid:[4026531836]``, the kernel's fixed PROC_PID_INIT_INO). Inside a container they differ,
and the container's own ``/proc`` shows no host PIDs at all. When the host's ``/proc`` is
bind-mounted read-only (``-v /proc:/host/proc:ro``, path given in ``BIDS_ENERGY_HOST_PROC``),
each process's ``NSpid`` line there lists its PID in every namespace from the host's down to
its own: the processes whose PID namespace is ours map host PID (first) -> our PID (last).
Otherwise the mapping cannot be made, and the caller says so instead of silently falling back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

INIT_PID_NS_INODE = 0xEFFFFFFC  # PROC_PID_INIT_INO in include/linux/proc_ns.h
HOST_PROC_ENV = "BIDS_ENERGY_HOST_PROC"


@dataclass
class PidMap:
    """host PID -> PID in the walker's view.

    ``identity`` when the two views are one; otherwise each host PID is looked up when NVML
    first reports it (the job's processes start after this map is made) in ``host_proc``, if
    there is one: its ``ns/pid`` must be ``own_ns`` and its ``NSpid`` chain then ends with
    the PID seen here."""

    identity: bool
    table: dict[int, int]
    how: str
    host_proc: str | None = None
    own_ns: int | None = None

    def local(self, host_pid: int) -> int | None:
        if self.identity:
            return host_pid
        if host_pid in self.table:
            return self.table[host_pid]
        if self.host_proc is None or self.own_ns is None:
            return None
        found = lookup(self.host_proc, host_pid, self.own_ns)
        if found is not None:  # a miss is not cached: the PID may be ours next interval
            self.table[host_pid] = found
        return found


def lookup(host_proc: str, host_pid: int, own_ns: int) -> int | None:
    """The PID of host process ``host_pid`` in namespace ``own_ns``, if it lives there."""
    d = Path(host_proc) / str(host_pid)
    if ns_inode(_readlink(d / "ns" / "pid")) != own_ns:
        return None
    try:
        chain = parse_nspid((d / "status").read_text())
    except OSError:
        return None
    return chain[-1] if len(chain) >= 2 and chain[0] == host_pid else None


def ns_inode(link: str) -> int | None:
    """The inode in a ``pid:[N]`` namespace link, or None."""
    if "[" not in link or not link.endswith("]"):
        return None
    try:
        return int(link[link.index("[") + 1:-1])
    except ValueError:
        return None


def _readlink(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def parse_nspid(status_text: str) -> list[int]:
    """The ``NSpid:`` chain of a /proc/PID/status, outermost namespace first ([] if absent)."""
    for line in status_text.splitlines():
        if line.startswith("NSpid:"):
            try:
                return [int(x) for x in line.split()[1:]]
            except ValueError:
                return []
    return []


def build(proc_root: str = "/proc", host_proc: str | None = None) -> PidMap:
    """How to turn NVML's host PIDs into PIDs under ``proc_root``."""
    own = ns_inode(_readlink(Path(proc_root) / "self" / "ns" / "pid"))
    if own == INIT_PID_NS_INODE:
        return PidMap(True, {}, "this /proc is the host's PID namespace: NVML PIDs are ours")
    if own is None:
        return PidMap(False, {}, "the PID namespace of this /proc is unreadable, so NVML's host "
                                 "PIDs cannot be matched to the job's processes")
    if host_proc:
        if not os.path.isdir(host_proc):
            return PidMap(False, {}, f"{HOST_PROC_ENV}={host_proc} is not a readable directory")
        return PidMap(False, {}, f"host PIDs mapped through NSpid in {host_proc}",
                      host_proc=host_proc, own_ns=own)
    return PidMap(False, {}, f"this process runs in a PID namespace (pid:[{own}]) and NVML "
                             "reports host PIDs, which its /proc does not show; bind-mount the "
                             f"host's /proc read-only and name it in {HOST_PROC_ENV} to map them")
