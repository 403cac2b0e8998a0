"""A real single-node Slurm cluster: the array job, the group job after it, sacct.

``ci/slurm/cluster.sh`` starts munged, mariadbd, slurmdbd, slurmctld and slurmd by hand with
all state in a private directory, and stops exactly those daemons by PID at the end.
``bids-energy slurm --runtime none --submit`` then runs the demo pipeline for the three
participants of the synthetic dataset. About 40 s with Slurm installed.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import tree_hash
from tests.fixtures.tools import SYSTEM_STEP, require_executable, require_root

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "ci" / "slurm" / "cluster.sh"
DAEMONS = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd",
           "sbatch", "sacct", "sacctmgr")

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.slow,
]


@pytest.fixture(scope="module", autouse=True)
def _slurm_tools() -> None:
    """The daemons and client commands of a one-node cluster: CI installs and runs them."""
    require_root("starting Slurm daemons needs root")
    for tool in DAEMONS:
        require_executable(tool, SYSTEM_STEP)


def _cluster(cmd: str, state: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, BIDS_ENERGY_SLURM_DIR=str(state))
    return subprocess.run(["bash", str(CLUSTER), cmd], capture_output=True, text=True,
                          env=env, timeout=timeout)


def _pids(state: Path) -> list[int]:
    return [int(p.read_text()) for p in (state / "pids").glob("*.pid") if p.read_text().strip()]


@pytest.fixture(scope="module")
def slurm_env():
    # Not pytest's tmp_path: munged needs every parent of its socket to be world-executable,
    # and a short path keeps the socket under the 108-byte limit.
    state = Path(tempfile.mkdtemp(prefix="be-slurm-", dir="/tmp"))
    state.chmod(0o755)
    started = _cluster("start", state)
    try:
        assert started.returncode == 0, started.stderr[-4000:]
        pids = _pids(state)
        assert len(pids) == 5
        env = dict(os.environ, SLURM_CONF=str(state / "etc" / "slurm.conf"))
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        yield env
    finally:
        pids = _pids(state) if (state / "pids").is_dir() else []
        stopped = _cluster("stop", state, timeout=120)
        alive = [p for p in pids if _alive(p)]
        shutil.rmtree(state, ignore_errors=True)
        assert stopped.returncode == 0, stopped.stderr[-2000:]
        assert alive == [], f"daemons still running: {alive}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _job_state(env: dict, job_id: str) -> str:
    out = subprocess.run(["sacct", "-j", job_id, "-X", "-n", "-P", "--format", "State"],
                         capture_output=True, text=True, env=env, timeout=30).stdout.split()
    return out[0] if out else ""


def _wait_for(env: dict, job_id: str, timeout_s: float = 300) -> str:
    final = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL")
    deadline = time.monotonic() + timeout_s
    state = ""
    while time.monotonic() < deadline:
        state = _job_state(env, job_id)
        if state.startswith(final):
            return state
        time.sleep(2)
    raise AssertionError(f"job {job_id} still {state or 'unknown'} after {timeout_s}s")


def test_array_then_group_with_sacct(slurm_env, synthetic_bids, tmp_path):
    out = tmp_path / "out"
    before = tree_hash(synthetic_bids)
    proc = subprocess.run(
        [sys.executable, "-m", "bids_energy", "slurm", str(synthetic_bids), str(out),
         "--pipeline", "demo", "--runtime", "none", "--submit"],
        capture_output=True, text=True, env=slurm_env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    m = re.search(r"array job (\d+) \(3 tasks\) and group job (\d+)", proc.stdout)
    assert m, proc.stdout
    array_id, group_id = m.groups()

    logs = out / "code" / "slurm" / "logs"
    state = _wait_for(slurm_env, group_id)
    log_text = "\n".join(p.read_text() for p in sorted(logs.glob("*.out")))
    assert state == "COMPLETED", log_text[-4000:]

    # one footprint per participant, each recording its own array task
    order = (out / "code" / "slurm" / "bids-energy-demo_participants.txt").read_text().split()
    assert order == ["01", "02", "03"]
    job_ids = set()
    for task, label in enumerate(order, start=1):
        fp = json.loads((out / "demo" / f"sub-{label}" / f"sub-{label}_footprint.json").read_text())
        assert fp["status"] == "success", log_text[-3000:]
        slurm = fp["context"]["slurm"]
        assert slurm["array_job_id"] == array_id
        assert slurm["array_task_id"] == str(task)
        assert slurm["job_id"]
        job_ids.add(slurm["job_id"])
    assert len(job_ids) == 3

    # the group level ran after the array: table and report cover all three
    tsvs = sorted(out.glob("group_*.tsv"))
    assert tsvs and sorted(out.glob("group_*.html")), sorted(p.name for p in out.iterdir())
    with tsvs[0].open() as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert sorted(r["participant"] for r in rows) == order

    # sacct records of every task, saved before the group level ran
    sacct = out / f"sacct_{array_id}.tsv"
    with sacct.open() as fh:
        records = list(csv.DictReader(fh, delimiter="|"))
    tasks = {r["JobID"]: r for r in records if "." not in r["JobID"]}
    assert set(tasks) == {f"{array_id}_{i}" for i in (1, 2, 3)}
    for rec in tasks.values():
        assert rec["State"] == "COMPLETED"
        assert rec["Elapsed"] and rec["TotalCPU"]
    assert any(r["MaxRSS"] for r in records if r["JobID"].endswith(".batch"))

    assert tree_hash(synthetic_bids) == before


def test_failed_tasks_still_get_group_and_sacct(slurm_env, synthetic_bids, tmp_path):
    """afterany: failing participants do not stop the group job or their sacct records."""
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "bids_energy", "slurm", str(synthetic_bids), str(out),
         "--pipeline", "command", "--runtime", "none", "--submit",
         "--participant-label", "01", "02", "--", "--command-template", "false"],
        capture_output=True, text=True, env=slurm_env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    m = re.search(r"array job (\d+) \(2 tasks\) and group job (\d+)", proc.stdout)
    assert m, proc.stdout
    array_id, group_id = m.groups()
    assert _wait_for(slurm_env, group_id) == "COMPLETED"
    with (out / f"sacct_{array_id}.tsv").open() as fh:
        tasks = {r["JobID"]: r["State"] for r in csv.DictReader(fh, delimiter="|")
                 if "." not in r["JobID"]}
    assert tasks == {f"{array_id}_1": "FAILED", f"{array_id}_2": "FAILED"}
    for label in ("01", "02"):
        fp = json.loads((out / "command" / f"sub-{label}" / f"sub-{label}_footprint.json")
                        .read_text())
        assert fp["status"] == "failed"
        assert fp["context"]["slurm"]["array_job_id"] == array_id
