"""The Slurm path as Apptainer runs it: the generated array job, on a real single-node Slurm,
through an ``apptainer`` stand-in that reproduces Apptainer's runtime semantics with podman.

Apptainer cannot be installed on CI, so ``tests/fixtures/standins/apptainer`` runs the job
script's ``apptainer run --cleanenv -B ... IMAGE.sif ...`` with podman: image read-only, the
caller's uid, only ``APPTAINERENV_*`` (prefix stripped) and Apptainer's own variables under
``--cleanenv``, ``-B`` binds, ``--nv`` a no-op. The image is the project's own, built offline
by ``ci/container/build-and-run.sh`` (the podman container test's builder); the cluster is
``ci/slurm/cluster.sh`` (the Slurm test's). The "SIF" is a file naming the podman image.

What it checks: every Slurm variable ``context.py`` reads (``context.SLURM_VARS``) that the
job had arrives in the footprint, the job name and the GPU count included. Slurm sets
``SLURM_GPUS_ON_NODE`` only when GPUs are allocated and this cluster has none, so the test
exports ``SLURM_GPUS_ON_NODE=1`` in the submitting environment: ``sbatch`` propagates the
submitter's environment (``--export=ALL``, its default) and ``slurmd`` leaves a variable it does
not own alone, so the job sees it exactly as a GPU job would, and ``--cleanenv`` would drop it
unless the job script forwards it. Several minutes on a first run (image build), then ~1 min.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bids_energy.context import SLURM_VARS
from bids_energy.footprint import validation_errors
from tests.conftest import tree_hash
from tests.integration.test_slurm_cluster import DAEMONS, _wait_for, slurm_env  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
STANDIN = REPO / "tests" / "fixtures" / "standins" / "apptainer"
BUILD = REPO / "ci" / "container" / "build-and-run.sh"

pytestmark = [pytest.mark.slurm, pytest.mark.container, pytest.mark.slow]


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "Slurm daemons and rootful podman need root"
    tools = (*DAEMONS, "podman", "runc", "debootstrap")
    gone = [t for t in tools if shutil.which(t) is None]
    return f"not installed: {', '.join(gone)} (ci/install-system-packages.sh)" if gone else None


@pytest.fixture(scope="module", autouse=True)
def _tools():
    why = _missing()
    if why and os.environ.get("CI") == "true":
        pytest.fail(f"{why}: CI installs them with ci/install-system-packages.sh")
    if why:
        pytest.skip(why)


@pytest.fixture(scope="module")
def image() -> str:
    proc = subprocess.run(["bash", str(BUILD), "image"], capture_output=True, text=True,
                          timeout=1500)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return os.environ.get("BIDS_ENERGY_IMAGE", "localhost/bids-energy:ci")


@pytest.fixture
def sif(image, tmp_path) -> Path:
    path = tmp_path / "images" / "bids-energy-demo.sif"
    path.parent.mkdir()
    path.write_text(f"podman-image: {image}\n")
    return path


def _logged_envs(log: Path) -> list[dict[str, str]]:
    """The host environments the stand-in was called with, one dict per call."""
    calls: list[dict[str, str]] = []
    for line in log.read_text().splitlines():
        if line.startswith("--- "):
            calls.append({})
        elif "=" in line and calls:
            key, value = line.split("=", 1)
            calls[-1][key] = value
    return calls


def test_stand_in_cleanenv_binds_and_read_only_image(sif, tmp_path):
    """The stand-in itself behaves as Apptainer does for what the job scripts use."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "f.txt").write_text("x\n")
    env = dict(os.environ, APPTAINERENV_KEPT="yes", NOT_KEPT="no", SINGULARITYENV_ALSO="1")
    script = ('env; id -u; touch /image-is-writable 2>/dev/null && echo WRITABLE; '
              'cat /d/f.txt; touch /d/new 2>/dev/null && echo DATA-WRITABLE; pwd')
    proc = subprocess.run([str(STANDIN), "exec", "--cleanenv", "--nv", "-B", f"{data}:/d:ro",
                           str(sif), "sh", "-c", script],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    seen = dict(ln.split("=", 1) for ln in proc.stdout.splitlines() if "=" in ln)
    assert seen["KEPT"] == "yes" and seen["ALSO"] == "1"
    assert "NOT_KEPT" not in seen and "APPTAINERENV_KEPT" not in seen
    assert seen["APPTAINER_CONTAINER"] == str(sif)
    lines = proc.stdout.splitlines()
    assert str(os.getuid()) in lines
    assert "WRITABLE" not in lines and "DATA-WRITABLE" not in lines
    assert "x" in lines and str(tmp_path) in lines  # bind, and the cwd bound and used


def test_array_job_under_apptainer_records_every_slurm_variable(slurm_env, sif, synthetic_bids,  # noqa: F811
                                                                tmp_path):
    out = tmp_path / "out"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apptainer").symlink_to(STANDIN)
    log = tmp_path / "apptainer-calls.log"
    env = dict(slurm_env, PATH=f"{bin_dir}{os.pathsep}{slurm_env['PATH']}",
               SLURM_GPUS_ON_NODE="1", APPTAINER_STANDIN_LOG=str(log))
    before = tree_hash(synthetic_bids)
    proc = subprocess.run(
        [sys.executable, "-m", "bids_energy", "slurm", str(synthetic_bids), str(out),
         "--pipeline", "demo", "--runtime", "apptainer", "--image", str(sif),
         "--participant-label", "01", "02", "--cpus", "1", "--mem", "1G", "--submit"],
        capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    m = re.search(r"array job (\d+) \(2 tasks\) and group job (\d+)", proc.stdout)
    assert m, proc.stdout
    array_id, group_id = m.groups()
    logs = out / "code" / "slurm" / "logs"
    state = _wait_for(env, group_id, timeout_s=600)
    log_text = "\n".join(p.read_text() for p in sorted(logs.glob("*.out")))
    assert state == "COMPLETED", log_text[-4000:]

    calls = _logged_envs(log)
    tasks = {c["SLURM_ARRAY_TASK_ID"]: c for c in calls if c.get("SLURM_ARRAY_JOB_ID") == array_id
             and c.get("SLURM_JOB_ID") != group_id}
    assert sorted(tasks) == ["1", "2"], [c.get("SLURM_JOB_ID") for c in calls]
    for task, label in (("1", "01"), ("2", "02")):
        fp = json.loads((out / "demo" / f"sub-{label}" / f"sub-{label}_footprint.json")
                        .read_text())
        assert validation_errors(fp) == []
        assert fp["status"] == "success", log_text[-3000:]
        container = fp["context"]["container"]
        assert (container["runtime"], container["image"]) == ("apptainer", str(sif))
        slurm, job_env = fp["context"]["slurm"], tasks[task]
        had = {key: job_env[var] for key, var in SLURM_VARS.items() if job_env.get(var)}
        # every variable context.py reads that the job had arrives, with the job's value
        assert {k: slurm.get(k) for k in had} == had
        assert slurm["job_name"] == "bids-energy-demo"
        assert slurm["gpus"] == "1"
        assert slurm["array_task_id"] == task and slurm["array_job_id"] == array_id
        assert {"cpus_per_task", "mem_per_node_mb", "node", "cluster"} <= set(had)
    # the group job ran under the stand-in too, after the array
    assert any(c.get("SLURM_JOB_ID") == group_id for c in calls)
    assert sorted(out.glob("group_*.tsv")) and sorted(out.glob("group_*.html"))
    assert tree_hash(synthetic_bids) == before
