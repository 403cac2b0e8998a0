"""Phases marked from bash and from Python inside a measured participant run.

The children burn known CPU inside their phases; each phase's share of the job's CPU must
match what it burned within 5 percentage points.
"""

from __future__ import annotations

import json
import shlex
import sys

import pytest

from bids_energy.footprint import read_footprint
from bids_energy.meters.phaselog import NO_PHASE
from tests.conftest import REPO

BURN = REPO / "tests" / "fixtures" / "phases" / "burn.py"


def _run(run_cli, bids, out, script: str, tmp_path):
    sh = tmp_path / "job.sh"
    sh.write_text(script)
    rc, _, err = run_cli(bids, out, "participant", "--participant-label", "01",
                         "--pipeline", "command", "--sampling-interval", "0.1",
                         "--cleanup", "off", "--", "bash", str(sh))
    assert rc == 0, err
    return read_footprint(out / "command" / "sub-01" / "sub-01_footprint.json")


def test_phases_from_bash_and_python_share_cpu_as_burned(synthetic_bids, tmp_path, run_cli):
    py = shlex.quote(sys.executable)
    script = f"""set -e
test -n "$BIDS_ENERGY_PHASE_FILE"
echo "begin bash-untimed" >> "$BIDS_ENERGY_PHASE_FILE"
{py} {BURN} {tmp_path}/untimed.json 1.2
echo "$(date +%s.%N) begin bash-timed" >> "$BIDS_ENERGY_PHASE_FILE"
{py} {BURN} {tmp_path}/timed.json 0.8
echo "$(date +%s.%N) end bash-timed" >> "$BIDS_ENERGY_PHASE_FILE"
{py} {BURN} {tmp_path}/py.json --phases load=0.4 train=1.2 evaluate=0.6
"""
    rec = _run(run_cli, synthetic_bids, tmp_path / "out", script, tmp_path)
    assert str(tmp_path / "out" / "work") in rec["context"]["work_dir"]
    burned = json.loads((tmp_path / "py.json").read_text())
    burned["bash-untimed"] = json.loads((tmp_path / "untimed.json").read_text())
    burned["bash-timed"] = json.loads((tmp_path / "timed.json").read_text())
    rows = {r["phase"]: r for r in rec["phases"]["rows"]}
    assert set(rows) == {*burned, NO_PHASE}, rows
    job_cpu = sum(r["cpu_s"] for r in rows.values())
    assert abs(job_cpu - rec["cpu_s"]) < 0.05 * rec["cpu_s"]
    for name, cpu in burned.items():
        share = rows[name]["cpu_share"]
        assert abs(share - cpu / job_cpu) < 0.05, (name, share, cpu / job_cpu, rows)
        assert rows[name]["occurrences"] == 1
        assert rows[name]["energy_wh"] > 0 and rows[name]["co2e_g"] > 0
    assert sum(r["cpu_share"] for r in rows.values()) == pytest.approx(1.0, abs=2e-3)
    assert sum(r["energy_share"] for r in rows.values()) == pytest.approx(1.0, abs=2e-3)
    assert abs(sum(r["energy_wh"] for r in rows.values())
               - rec["energy"]["job_energy_wh"]) < 1e-4 + 0.01 * rec["energy"]["job_energy_wh"]
    order = [s[0] for s in rec["phases"]["spans"]]
    assert order == ["bash-untimed", "bash-timed", "load", "train", "evaluate"]
    assert rec["phases"]["ignored_lines"] == 0


def test_concurrent_writers_and_garbage_lines(synthetic_bids, tmp_path, run_cli):
    py = shlex.quote(sys.executable)
    script = f"""set -e
F="$BIDS_ENERGY_PHASE_FILE"
writer() {{ for i in $(seq 1 40); do echo "$(date +%s.%N) begin $1" >> "$F"; done; }}
writer alpha & writer beta & wait
echo "this is not a phase line" >> "$F"
echo "begin two words" >> "$F"
printf '\\x00\\x01\\n' >> "$F"
echo "begin last" >> "$F"
{py} {BURN} {tmp_path}/last.json 0.5
echo "end last" >> "$F"
"""
    rec = _run(run_cli, synthetic_bids, tmp_path / "out", script, tmp_path)
    ph = rec["phases"]
    assert ph["ignored_lines"] == 3
    assert ph["events"] == 82
    assert any("3 unparseable line(s)" in w for w in rec["warnings"])
    rows = {r["phase"]: r for r in ph["rows"]}
    assert {"alpha", "beta", "last", NO_PHASE} <= set(rows)
    assert rows["alpha"]["occurrences"] + rows["beta"]["occurrences"] >= 2
    assert rows["last"]["occurrences"] == 1 and rows["last"]["cpu_s"] > 0.3
