"""CPUs the job holds (Slurm, cgroup quota, cpuset) and the SMT topology, on fake trees."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from fake_trees import MOUNT_V1, MOUNT_V2, make_cgroup_self, write  # noqa: E402

from bids_energy.meters import cgroup, heldcpus, procfs  # noqa: E402

MOUNT_V1_CPUSET = MOUNT_V1 + "37 31 0:34 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"


@pytest.mark.parametrize("text,cpus", [("max 100000\n", None), ("200000 100000\n", 2.0),
                                       ("50000 100000", 0.5), ("", None), ("junk", None)])
def test_parse_cpu_max(text, cpus):
    assert cgroup.parse_cpu_max(text) == cpus


def test_cpu_list():
    assert procfs.parse_cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    assert procfs.parse_cpu_list("") == [] and procfs.parse_cpu_list("a-b") == []


def test_v2_quota_of_an_ancestor_and_cpuset(tmp_path):
    proc, sys_ = tmp_path / "proc", tmp_path / "sys"
    make_cgroup_self(proc, "0::/job.slice/job-1\n", MOUNT_V2)
    root = sys_ / "fs/cgroup"
    write(root / "job.slice/cpu.max", "400000 100000\n")  # the parent allows 4 CPUs
    write(root / "job.slice/job-1/cpu.max", "max 100000\n")
    write(root / "job.slice/job-1/cpuset.cpus.effective", "0-7\n")
    lim = cgroup.read_cpu_limits(str(proc), str(sys_))
    assert lim.quota_cpus == 4.0 and lim.cpuset_cpus == 8
    held = heldcpus.decide(64, None, lim)
    assert held.cpus == 4.0 and "quota" in held.source


def test_v1_quota_and_cpuset(tmp_path):
    proc, sys_ = tmp_path / "proc", tmp_path / "sys"
    make_cgroup_self(proc, "5:cpuset:/slurm/job_7\n3:cpu,cpuacct:/slurm/job_7\n", MOUNT_V1_CPUSET)
    write(sys_ / "fs/cgroup/cpu,cpuacct/slurm/job_7/cpu.cfs_quota_us", "-1\n")
    write(sys_ / "fs/cgroup/cpu,cpuacct/slurm/job_7/cpu.cfs_period_us", "100000\n")
    write(sys_ / "fs/cgroup/cpuset/slurm/job_7/cpuset.cpus", "0-5\n")
    lim = cgroup.read_cpu_limits(str(proc), str(sys_))
    assert lim.quota_cpus is None and lim.cpuset_cpus == 6
    assert heldcpus.read_held_cpus(64, {}, str(proc), str(sys_)).cpus == 6.0


def test_slurm_allocation_and_whole_node_holds_nothing():
    none = cgroup.CpuLimits(None, 64, "cpuset of the whole node")
    assert heldcpus.slurm_cpus({"SLURM_CPUS_ON_NODE": "8"}) == 8
    assert heldcpus.slurm_cpus({"SLURM_JOB_CPUS_PER_NODE": "16(x2),4"}) == 16
    assert heldcpus.slurm_cpus({}) is None
    held = heldcpus.decide(64, 8, none)
    assert held.cpus == 8.0 and "Slurm" in held.source
    # an unrestricted process on a workstation: idle power by the CPUs it used
    free = heldcpus.decide(64, None, none)
    assert free.cpus is None and free.source.startswith("CPUs used")


def test_no_cgroup_information(tmp_path):
    lim = cgroup.read_cpu_limits(str(tmp_path / "proc"), str(tmp_path / "sys"))
    assert lim == cgroup.CpuLimits(None, None, "no /proc cgroup information")


def test_topology_smt_from_sys(tmp_path):
    """2 packages x 2 cores x 2 threads: siblings (0,4), (1,5) on package 0, (2,6), (3,7) on 1."""
    base = tmp_path / "sys/devices/system/cpu"
    for cpu in range(8):
        core = cpu % 4
        write(base / f"cpu{cpu}/topology/thread_siblings_list", f"{core},{core + 4}\n")
        write(base / f"cpu{cpu}/topology/physical_package_id", f"{core // 2}\n")
    write(base / "cpufreq/policy0", "")  # not a cpuN directory: ignored
    t = procfs.read_topology(str(tmp_path / "sys"))
    assert (t.logical, t.cores, t.packages, t.threads_per_core) == (8, 4, 2, 2)


def test_topology_falls_back_to_cpuinfo(tmp_path):
    t = procfs.read_topology(str(tmp_path / "sys"), procfs.CpuInfo("x", 4, 4))
    assert (t.logical, t.cores, t.threads_per_core) == (4, 4, 1) and "cpuinfo" in t.source
