"""RAPL through the real CLI on a simulated counter under --powercap-root (issue 13).

benchmarks/support/rapl_sim.py advances a package counter from the node's real /proc/stat
(10 W idle + 15 W per busy CPU, wrapping every few seconds); the job's figure must follow
the shared-node definition: 15 W x its CPU time + its idle share.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bids_energy.footprint import read_footprint
from tests.conftest import REPO

BURN = "import time\nt=time.process_time()\nwhile time.process_time()-t<{s}: pass\n"


@pytest.fixture
def powercap(tmp_path):
    root = tmp_path / "powercap"
    sim = subprocess.Popen([sys.executable, str(REPO / "benchmarks" / "support" / "rapl_sim.py"),
                            str(root), "--idle-w", "10", "--k-w", "15"])
    try:
        for _ in range(200):
            if (root / "ready").exists():
                break
            time.sleep(0.05)
        yield root
    finally:
        sim.terminate()
        sim.wait()


def test_rapl_job_energy_by_the_shared_node_definition(synthetic_bids, tmp_path, run_cli, powercap):
    script = tmp_path / "burn.py"
    script.write_text(BURN.format(s=1.5))
    out = tmp_path / "out"
    rc, _, err = run_cli(synthetic_bids, out, "participant", "--participant-label", "01",
                         "--pipeline", "command", "--powercap-root", powercap,
                         "--idle-power-w", "10", "--cleanup", "off", "--",
                         sys.executable, str(script))
    assert rc == 0, err
    rec = read_footprint(out / "command" / "sub-01" / "sub-01_footprint.json")
    cpu = rec["energy"]["components"]["cpu"]
    assert cpu["method"] == "measured: rapl, shared-node split"
    assert cpu["inputs"]["powercap_root"] == str(powercap)
    sp = cpu["split"]
    assert sp["idle_power_method"] == "given: --idle-power-w" and sp["idle_power_w"] == 10.0
    assert sp["job_energy_wh"] == pytest.approx(
        sp["job_dynamic_energy_wh"] + sp["job_idle_energy_wh"], abs=2e-6)
    assert sp["remainder_energy_wh"] == pytest.approx(
        sp["node_energy_wh"] - sp["job_energy_wh"], abs=2e-6)
    assert cpu["job_energy_wh"] == sp["job_energy_wh"]
    n = sp["node_cpus"]
    held = sp["held_cpus"]
    idle_share_j = 10 * (held * rec["wall_s"] if held else rec["cpu_s"]) / n
    expected_wh = (15 * rec["cpu_s"] + idle_share_j) / 3600
    # The simulator and the sampler read /proc/stat at different instants, and on a loaded
    # CI machine the simulator can update the counter late at the end of the job (the
    # benchmark saw one run in ten at -14 % at load 15 on 2 cores): 25 % slack here; the
    # exact arithmetic is pinned by the unit tests, the precision by benchmarks/rapl_neighbour.py.
    assert cpu["job_energy_wh"] == pytest.approx(expected_wh, rel=0.25)
    assert any("capped" in w for w in rec["warnings"])  # 100 J range: 1 s is too long


def test_powercap_root_that_is_not_a_directory(synthetic_bids, tmp_path, run_cli):
    rc, _, err = run_cli(synthetic_bids, tmp_path / "out", "participant",
                         "--powercap-root", tmp_path / "nowhere")
    assert rc == 66, err
    assert "--powercap-root" in err and len(err.strip().splitlines()) == 1


def test_dry_run_names_the_powercap_root(synthetic_bids, tmp_path, run_cli, powercap):
    rc, _, err = run_cli(synthetic_bids, tmp_path / "out", "participant", "--dry-run",
                         "--powercap-root", powercap)
    assert rc == 0, err
    assert "meter cpu: measured: rapl" in err, err
    assert os.path.isdir(powercap)
