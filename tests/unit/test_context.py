"""Container and Slurm detection on fake roots and environments."""

from __future__ import annotations

from pathlib import Path

import pytest

from bids_energy.context import (
    cgroup_engine_hint,
    detect_container,
    detect_slurm,
    parse_containerenv,
)


def _roots(tmp_path: Path) -> tuple[Path, Path]:
    root, proc = tmp_path / "root", tmp_path / "proc"
    (root / "run").mkdir(parents=True)
    (proc / "1").mkdir(parents=True)
    (proc / "self").mkdir(parents=True)
    (proc / "1" / "cgroup").write_text("0::/init.scope\n")
    (proc / "self" / "cgroup").write_text("0::/user.slice\n")
    return root, proc


def test_bare_host(tmp_path):
    root, proc = _roots(tmp_path)
    got = detect_container(proc, {}, root)
    assert got["runtime"] is None and got["image"] is None


def test_docker_marker_and_baked_image_name(tmp_path):
    root, proc = _roots(tmp_path)
    (root / ".dockerenv").write_text("")
    got = detect_container(proc, {"BIDS_ENERGY_IMAGE": "bids-energy:fmriprep"}, root)
    assert got == {"runtime": "docker", "image": "bids-energy:fmriprep",
                   "detected_by": "/.dockerenv"}


def test_podman_reads_image_from_containerenv(tmp_path):
    root, proc = _roots(tmp_path)
    (root / "run" / ".containerenv").write_text(
        'engine="podman-4.3.1"\nname="x"\nimage="localhost/bids-energy:ci"\nrootless=0\n')
    got = detect_container(proc, {"BIDS_ENERGY_IMAGE": "other"}, root)
    assert got["runtime"] == "podman"
    assert got["image"] == "localhost/bids-energy:ci"
    assert got["engine"] == "podman-4.3.1"


def test_podman_unprivileged_empty_containerenv_falls_back_to_env(tmp_path):
    root, proc = _roots(tmp_path)
    (root / "run" / ".containerenv").write_text("")
    got = detect_container(proc, {"BIDS_ENERGY_IMAGE": "localhost/bids-energy:ci"}, root)
    assert (got["runtime"], got["image"]) == ("podman", "localhost/bids-energy:ci")


@pytest.mark.parametrize("var,runtime", [("APPTAINER_CONTAINER", "apptainer"),
                                         ("SINGULARITY_CONTAINER", "singularity")])
def test_apptainer_and_singularity_win_over_files(tmp_path, var, runtime):
    root, proc = _roots(tmp_path)
    (root / ".dockerenv").write_text("")  # the host's, seen through Apptainer's binds
    got = detect_container(proc, {var: "/project/bids-energy.sif"}, root)
    assert got["runtime"] == runtime and got["image"] == "/project/bids-energy.sif"


def test_apptainer_preferred_when_both_set(tmp_path):
    root, proc = _roots(tmp_path)
    env = {"APPTAINER_CONTAINER": "/a.sif", "SINGULARITY_CONTAINER": "/a.sif"}
    assert detect_container(proc, env, root)["runtime"] == "apptainer"


def test_container_env_variable(tmp_path):
    root, proc = _roots(tmp_path)
    assert detect_container(proc, {"container": "lxc"}, root)["runtime"] == "lxc"


def test_generic_cgroup_hint(tmp_path):
    root, proc = _roots(tmp_path)
    (proc / "1" / "cgroup").write_text(
        "12:memory:/kubepods/burstable/pod1234/abcdef\n0::/\n")
    got = detect_container(proc, {}, root)
    assert got["runtime"] == "kubernetes" and got["detected_by"] == "/proc/1/cgroup"


@pytest.mark.parametrize("text,engine", [
    ("0::/system.slice/docker-0123abcd.scope\n", "docker"),
    ("4:memory:/machine.slice/libpod-9f3e.scope\n", "podman"),
    ("0::/user.slice/user-1000.slice/session-3.scope\n", None),
    ("0::/\n", None),
    ("0::/dockerd-like-name-is-not-a-hint/x\n", None),
])
def test_cgroup_engine_hint(text, engine):
    assert cgroup_engine_hint(text) == engine


def test_parse_containerenv_skips_empty_values():
    assert parse_containerenv('image=""\nname="c"\njunk\n') == {"name": "c"}


def test_unreadable_proc_is_no_container(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    got = detect_container(tmp_path / "no-proc", {}, root)
    assert got["runtime"] is None


def test_slurm_outside_a_job_keeps_core_keys_null():
    got = detect_slurm({})
    assert got == {"job_id": None, "array_job_id": None, "array_task_id": None,
                   "cluster": None, "partition": None}


def test_slurm_array_task():
    env = {"SLURM_JOB_ID": "1235", "SLURM_ARRAY_JOB_ID": "1234", "SLURM_ARRAY_TASK_ID": "2",
           "SLURM_CLUSTER_NAME": "narval", "SLURM_JOB_PARTITION": "cpubase_bycore_b1",
           "SLURM_CPUS_ON_NODE": "4", "SLURM_MEM_PER_NODE": "8192", "SLURM_JOB_ACCOUNT": "def-lab",
           "SLURM_GPUS_ON_NODE": ""}
    got = detect_slurm(env)
    assert got["job_id"] == "1235" and got["array_job_id"] == "1234"
    assert got["array_task_id"] == "2" and got["cluster"] == "narval"
    assert got["cpus_on_node"] == "4" and got["mem_per_node_mb"] == "8192"
    assert got["account"] == "def-lab"
    assert "gpus" not in got  # empty values are not recorded
