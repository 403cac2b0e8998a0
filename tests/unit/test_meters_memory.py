"""Memory the W/GB model bills: anonymous memory from fake cgroup trees (page cache not
billed) and PSS from fake smaps_rollup files (shared pages counted once)."""

from __future__ import annotations

import os
import types

import pytest

from bids_energy.meters import cgroup, memusage
from bids_energy.meters.cputime import AttributionChoice, JobUsage
from bids_energy.meters.memmodel import BYTES_PER_GB

GiB = 1024**3

V2_STAT = """anon 1073741824
file 8589934592
kernel 52428800
shmem 0
file_mapped 10485760
pgfault 12345
"""


def _v2(tmp_path, stat=V2_STAT):
    d = tmp_path / "job.scope"
    d.mkdir()
    (d / "memory.current").write_text(str(10 * GiB) + "\n")  # 1 GiB anon + 8 GiB page cache
    (d / "memory.peak").write_text(str(12 * GiB) + "\n")
    (d / "memory.stat").write_text(stat)
    return d


def _usage(paths, root_pid=None):
    choice = AttributionChoice("cgroup", paths, True, True, "test")
    return JobUsage(choice, root_pid if root_pid is not None else os.getpid() + 10_000_000)


def test_v2_bills_anon_not_page_cache(tmp_path):
    d = _v2(tmp_path)
    assert cgroup.read_mem_anon_bytes(d, 2) == (GiB, "anon")
    u = _usage(cgroup.CgroupPaths(d, 2, d, 2))
    assert u.mem_bytes(None) == GiB  # not memory.current's 10 GiB
    assert u.peak_bytes() == GiB  # not memory.peak's 12 GiB, which is mostly cache
    assert "memory.stat anon" in u.mem_source and "page cache excluded" in u.mem_source


def test_v1_uses_total_rss_then_rss(tmp_path):
    d = tmp_path / "v1"
    d.mkdir()
    (d / "memory.usage_in_bytes").write_text(str(6 * GiB))
    (d / "memory.stat").write_text(f"cache {5 * GiB}\nrss {GiB}\ntotal_cache {5 * GiB}\n"
                                   f"total_rss {2 * GiB}\n")
    assert cgroup.read_mem_anon_bytes(d, 1) == (2 * GiB, "total_rss")
    (d / "memory.stat").write_text(f"cache {5 * GiB}\nrss {GiB}\n")
    assert cgroup.read_mem_anon_bytes(d, 1) == (GiB, "rss")


def test_unreadable_memory_stat_falls_back_to_the_process_tree(tmp_path):
    d = tmp_path / "cg"
    d.mkdir()
    (d / "memory.current").write_text(str(10 * GiB))
    anon, why = cgroup.read_mem_anon_bytes(d, 2)
    assert anon is None and "memory.stat" in why
    u = _usage(cgroup.CgroupPaths(d, 2, d, 2))
    assert u.mem_bytes(None) == 0 and u.mem_source == "no process tree"


ROLLUP = """55d4c0a00000-7ffd1d3fe000 ---p 00000000 00:00 0                          [rollup]
Rss:             {rss} kB
Pss:             {pss} kB
Pss_Anon:        {pss} kB
Shared_Clean:    800000 kB
Private_Dirty:   200000 kB
Swap:                  0 kB
"""


def _proc(root, pid, rss_kb, pss_kb=None):
    d = root / str(pid)
    d.mkdir(parents=True)
    if pss_kb is not None:
        (d / "smaps_rollup").write_text(ROLLUP.format(rss=rss_kb, pss=pss_kb))


def test_forked_workers_share_pages_once_with_pss(tmp_path):
    # four forked workers, each RSS 1 000 000 kB of which 800 000 kB shared by all four:
    # PSS = 200 000 + 800 000 / 4 = 400 000 kB each
    rss = {}
    for pid in (101, 102, 103, 104):
        _proc(tmp_path, pid, 1_000_000, 400_000)
        rss[pid] = 1_000_000 * 1024
    r = memusage.tree_mem(tmp_path, rss)
    assert r.bytes == 4 * 400_000 * 1024  # RSS would say 4 000 000 kB
    assert r.source.startswith("process tree: sum of PSS (smaps_rollup)")


def test_rss_fallback_is_named(tmp_path):
    _proc(tmp_path, 201, 1000, 600)
    _proc(tmp_path, 202, 1000)  # smaps_rollup unreadable (old kernel, other user)
    r = memusage.tree_mem(tmp_path, {201: 1000 * 1024, 202: 1000 * 1024})
    assert r.bytes == (600 + 1000) * 1024
    assert "RSS for 1 of 2" in r.source
    r = memusage.tree_mem(tmp_path, {202: 1000 * 1024})
    assert "sum of RSS" in r.source and "counted once per process" in r.source


def test_process_tree_usage_reads_pss(tmp_path):
    _proc(tmp_path, 301, 2_000_000, 500_000)
    entry = types.SimpleNamespace(pid=301, rss_bytes=2_000_000 * 1024)
    snap = types.SimpleNamespace(procs={(301, 1): entry})
    u = JobUsage(AttributionChoice("process-tree", None, False, False, "test"), os.getpid() + 10**7)
    assert u.mem_bytes(snap, str(tmp_path)) == 500_000 * 1024
    assert "PSS" in u.mem_source


def test_one_unit_convention():
    assert BYTES_PER_GB == 10**9
    from bids_energy.estimate.sacct import parse_mem_gb

    assert parse_mem_gb("1G")[0] == pytest.approx(GiB / BYTES_PER_GB)  # Slurm's G is GiB


def test_pss_tracker_bounds_reads_and_reuses_ratios(tmp_path):
    reads = []

    def reader(root, pid):
        reads.append(pid)
        return {1: 400 << 20, 2: 100 << 20}.get(pid)

    t = [0.0]
    tr = memusage.PssTracker(tmp_path, max_reads=1, min_rss_bytes=8 << 20, refresh_s=10,
                             reader=reader, clock=lambda: t[0])
    rss = {1: 800 << 20, 2: 200 << 20, 3: 1 << 20}  # pid 3 is below the threshold: RSS
    r = tr.measure(rss)
    assert reads == [1]  # the biggest first, one read per call
    assert r.bytes == (400 << 20) + (200 << 20) + (1 << 20)
    tr.measure(rss)
    assert reads == [1, 2]
    rss[1] = 1600 << 20  # grows: ratio 0.5 reused without a read
    assert tr.measure(rss).bytes == (800 << 20) + (100 << 20) + (1 << 20)
    assert reads == [1, 2]
    t[0] = 11.0
    tr.measure(rss)
    assert reads == [1, 2, 1]  # refreshed after refresh_s
