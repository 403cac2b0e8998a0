"""cgroup resolution on v1, v2 and hybrid layouts, and the job-alone check."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from fake_trees import (  # noqa: E402
    MOUNT_HYBRID,
    MOUNT_V1,
    MOUNT_V2,
    make_cgroup_self,
    set_process,
    write,
)

from bids_energy.meters import cgroup  # noqa: E402
from bids_energy.meters.cputime import choose_attribution  # noqa: E402


def test_v2(tmp_path):
    proc, sys_ = tmp_path / "proc", tmp_path / "sys"
    make_cgroup_self(proc, "0::/job.slice/job-1\n", MOUNT_V2)
    d = sys_ / "fs/cgroup/job.slice/job-1"
    write(d / "cpu.stat", "usage_usec 2500000\nuser_usec 2000000\n")
    write(d / "memory.current", "1000\n")
    write(d / "memory.peak", "5000\n")
    p = cgroup.resolve(str(proc), str(sys_))
    assert (p.cpu_dir, p.cpu_version, p.mem_dir, p.mem_version) == (d, 2, d, 2)
    assert cgroup.read_cpu_s(d, 2) == 2.5
    assert cgroup.read_mem_bytes(d, 2) == (1000, 5000)


def test_v1(tmp_path):
    proc, sys_ = tmp_path / "proc", tmp_path / "sys"
    make_cgroup_self(proc, "4:memory:/slurm/job_7\n3:cpu,cpuacct:/slurm/job_7\n", MOUNT_V1)
    cpu = sys_ / "fs/cgroup/cpu,cpuacct/slurm/job_7"
    mem = sys_ / "fs/cgroup/memory/slurm/job_7"
    write(cpu / "cpuacct.usage", "3000000000\n")
    write(mem / "memory.usage_in_bytes", "200\n")
    write(mem / "memory.max_usage_in_bytes", "900\n")
    p = cgroup.resolve(str(proc), str(sys_))
    assert (p.cpu_dir, p.cpu_version, p.mem_dir, p.mem_version) == (cpu, 1, mem, 1)
    assert cgroup.read_cpu_s(cpu, 1) == 3.0
    assert cgroup.read_mem_bytes(mem, 1) == (200, 900)


def test_hybrid_cpu_from_unified_memory_from_v1(tmp_path):
    proc, sys_ = tmp_path / "proc", tmp_path / "sys"
    make_cgroup_self(proc, "4:memory:/process_api/abc\n3:cpu,cpuacct:/\n0::/\n", MOUNT_HYBRID)
    uni = sys_ / "fs/cgroup/unified"
    write(uni / "cpu.stat", "usage_usec 1000000\n")
    mem = sys_ / "fs/cgroup/memory/process_api/abc"
    write(mem / "memory.usage_in_bytes", "1\n")
    p = cgroup.resolve(str(proc), str(sys_))
    assert (p.cpu_dir, p.cpu_version) == (uni, 2)
    assert (p.mem_dir, p.mem_version) == (mem, 1)


def test_mount_root_prefix_is_stripped(tmp_path):
    proc, sys_ = tmp_path / "proc", tmp_path / "sys"
    mounts = "30 23 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
    make_cgroup_self(proc, "0::/docker/abc\n", mounts)
    write(sys_ / "fs/cgroup/cpu.stat", "usage_usec 1\n")
    assert cgroup.resolve(str(proc), str(sys_)).cpu_dir == sys_ / "fs/cgroup"


def test_holds_only_job_and_auto_choice(tmp_path):
    proc, sys_ = tmp_path / "proc", tmp_path / "sys"
    make_cgroup_self(proc, "0::/job\n", MOUNT_V2)
    d = sys_ / "fs/cgroup/job"
    write(d / "cpu.stat", "usage_usec 1\n")
    set_process(proc, 1, "init", 0, 0)
    set_process(proc, 10, "bids-energy", 1, 0)
    set_process(proc, 11, "fmriprep", 10, 0)
    set_process(proc, 12, "antsRegistration", 11, 0)
    set_process(proc, 20, "other", 1, 0)
    write(d / "cgroup.procs", "10\n11\n12\n")
    assert cgroup.holds_only_job(d, 10, str(proc))
    assert choose_attribution("auto", 10, str(proc), str(sys_)).mode == "cgroup"
    write(d / "cgroup.procs", "10\n11\n20\n")
    assert not cgroup.holds_only_job(d, 10, str(proc))
    auto = choose_attribution("auto", 10, str(proc), str(sys_))
    assert auto.mode == "process-tree"
    forced = choose_attribution("cgroup", 10, str(proc), str(sys_))
    assert forced.mode == "cgroup" and forced.warnings


def test_no_cgroup_falls_back_to_process(tmp_path):
    c = choose_attribution("cgroup", 10, str(tmp_path / "proc"), str(tmp_path / "sys"))
    assert c.mode == "process-tree" and c.warnings
