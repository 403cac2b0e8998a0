"""End to end: ``run.py ... --compare-trackers codecarbon`` with and without a neighbour.

Our job figure follows the job's CPU time; CodeCarbon's follows the whole machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bids_energy.synthetic import make_synthetic_dataset
from tests.fixtures.load import wait_for_quiet

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
ATTEMPTS = 3


FIXED_WORK = "x = 0\nfor i in range(15_000_000):\n    x += i * i % 7\n"


def _participant(bids: Path, out: Path, work: Path) -> dict:
    """A fixed amount of CPU work, so what moves between the runs is attribution, not the job."""
    cmd = [sys.executable, str(ROOT / "run.py"), str(bids), str(out), "participant",
           "--pipeline", "command", "--compare-trackers", "codecarbon", "--region", "CA-QC",
           "--", sys.executable, str(work)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (fp,) = out.rglob("*_footprint.json")
    return json.loads(fp.read_text())


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs a core for the neighbour")
def test_codecarbon_bills_the_neighbour_we_do_not(tmp_path):
    if not (ROOT / "run.py").exists():
        pytest.skip("run.py not present")
    bids = make_synthetic_dataset(tmp_path / "bids", n_subjects=1, shape=(8, 8, 8))
    work = tmp_path / "work.py"
    work.write_text(FIXED_WORK)
    _participant(bids, tmp_path / "warm-up", work)  # first runs pay for cold caches
    for attempt in range(ATTEMPTS):  # a shared machine: wait for a quiet window, then measure
        wait_for_quiet()
        alone = _participant(bids, tmp_path / f"alone-{attempt}", work)
        busy_a = alone["attribution"]["node_busy_cpu_s"] / alone["wall_s"]
        if busy_a <= 1.3:
            break
    else:
        pytest.skip(f"machine stayed busy ({busy_a:.2f} cores) without our neighbour, "
                    f"{ATTEMPTS} quiet-window waits")
    neighbour = subprocess.Popen(
        [sys.executable, "-c", "import time\nwhile time.process_time() < 600: pass\n"]
    )
    try:
        time.sleep(0.3)
        shared = _participant(bids, tmp_path / "shared", work)
    finally:
        os.kill(neighbour.pid, signal.SIGKILL)
        neighbour.wait()
    cc_a, cc_s = alone["trackers"]["codecarbon"], shared["trackers"]["codecarbon"]
    assert cc_a["status"] == cc_s["status"] == "ok"
    ours_a, ours_s = alone["energy"]["job_energy_wh"], shared["energy"]["job_energy_wh"]
    print(f"ours {ours_a:.4g} -> {ours_s:.4g} Wh; codecarbon {cc_a['energy_wh']:.4g} -> "
          f"{cc_s['energy_wh']:.4g} Wh (cpu {cc_a['cpu_energy_wh']:.4g} -> "
          f"{cc_s['cpu_energy_wh']:.4g})")  # fmt: skip
    assert ours_s == pytest.approx(ours_a, rel=0.2)  # this VM: +-10 % run to run
    assert cc_s["cpu_energy_wh"] / cc_a["cpu_energy_wh"] > 1.3
    # the gap between CodeCarbon and us widens when someone else shares the machine
    assert cc_s["energy_wh"] / ours_s > 1.1 * cc_a["energy_wh"] / ours_a
