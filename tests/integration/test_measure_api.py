"""``bids_energy.measure``: a Python block measured with the participant level's meters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import bids_energy
from bids_energy.analysis.collect import collect
from bids_energy.errors import UsageError
from bids_energy.footprint import read_footprint, validation_errors
from bids_energy.phases import PHASE_FILE_ENV
from bids_energy.report.group import run_group_level
from tests.conftest import REPO

BURN = REPO / "tests" / "fixtures" / "phases" / "burn.py"


def _burn(seconds: float) -> float:
    t = time.process_time()
    while time.process_time() - t < seconds:
        pass
    return time.process_time() - t


def test_measure_writes_a_valid_footprint_with_per_epoch_phases(tmp_path, monkeypatch):
    monkeypatch.setenv(PHASE_FILE_ENV, "/elsewhere/outer-phases.log")
    burned = {}
    with bids_energy.measure(tmp_path / "out", label="resnet18", params=11_689_512,
                             flops=4.0e12, interval_s=0.1) as m:
        assert os.environ[PHASE_FILE_ENV] != "/elsewhere/outer-phases.log"
        for epoch in range(3):
            with bids_energy.phase(f"epoch-{epoch}"):
                burned[f"epoch-{epoch}"] = _burn(0.4 * (epoch + 1))
        with bids_energy.phase("child-eval"):  # a child process counts as the job's too
            subprocess.run([sys.executable, str(BURN), str(tmp_path / "child.json"), "0.8"],
                           check=True)
            burned["child-eval"] = json.loads((tmp_path / "child.json").read_text())
    assert os.environ[PHASE_FILE_ENV] == "/elsewhere/outer-phases.log", "restored after"
    path = tmp_path / "out" / "resnet18" / "resnet18_footprint.json"
    assert m.path == path and path.with_suffix(".html").exists()
    rec = read_footprint(path)
    assert validation_errors(rec) == []
    assert rec["status"] == "success" and rec["participant"] is None
    assert rec["pipeline"]["name"] == "resnet18" and rec["pipeline"]["variants"] == ["baseline"]
    assert rec["cpu_s"] >= 0.9 * sum(burned.values())
    rows = {r["phase"]: r for r in rec["phases"]["rows"]}
    for name, cpu in burned.items():
        assert abs(rows[name]["cpu_share"] - cpu / rec["cpu_s"]) < 0.05, (name, rows[name])
    assert rec["model"]["params"] == 11_689_512
    assert rec["model"]["energy_wh_per_gflop"] == pytest.approx(
        rec["energy"]["job_energy_wh"] / 4000.0, rel=1e-6)


def test_measure_on_exception_writes_failed_and_reraises(tmp_path, monkeypatch):
    monkeypatch.delenv(PHASE_FILE_ENV, raising=False)
    with pytest.raises(ZeroDivisionError), bids_energy.measure(
            tmp_path, label="crashy", participant="sub-01", session="2", variant="small batch",
            interval_s=0.1) as m, bids_energy.phase("load"):
        _burn(0.2)
        1 / 0  # noqa: B018
    assert PHASE_FILE_ENV not in os.environ
    assert m.path == tmp_path / "crashy" / "sub-01" / "sub-01_ses-2_desc-SmallBatch_footprint.json"
    rec = read_footprint(m.path)
    assert rec["status"] == "failed" and rec["exit_code"] == 1
    assert rec["participant"] == "01" and rec["session"] == "2"
    assert rec["pipeline"]["variants"] == ["small batch"]
    assert any("ZeroDivisionError" in w for w in rec["warnings"])
    assert [r["phase"] for r in rec["phases"]["rows"]][0] == "load"


def test_measure_refuses_a_participant_that_is_no_bids_label(tmp_path):
    with pytest.raises(UsageError):
        bids_energy.measure(tmp_path, label="x", participant="01/../..")


class _Param:
    def __init__(self, n: int) -> None:
        self.n = n

    def numel(self) -> int:
        return self.n


class _DuckModel:
    def parameters(self):
        return [_Param(10), _Param(32)]


def test_model_params_are_counted_without_torch(tmp_path):
    with bids_energy.measure(tmp_path, label="tiny", model=_DuckModel(), interval_s=0.1) as m:
        _burn(0.1)
    assert m.record["model"]["params"] == 42
    assert m.record["model"]["energy_wh_per_gflop"] is None


def test_ptflops_counts_flops_of_a_torch_model(tmp_path):
    from tests.fixtures.tools import MODEL_STEP, require_module

    torch = require_module("torch", MODEL_STEP)
    require_module("ptflops", MODEL_STEP)
    net = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    with bids_energy.measure(tmp_path, label="mlp", model=net, input_shape=(16,),
                             forward_passes=100, interval_s=0.1) as m:
        _burn(0.1)
    assert m.record["model"]["params"] == 16 * 8 + 8 + 8 * 2 + 2
    assert m.record["model"]["flops"] >= 2 * (16 * 8 + 8 * 2) * 100
    assert "ptflops" in m.record["model"]["flops_source"]


def test_group_level_collects_measured_blocks(tmp_path):
    for label, s in (("small", 0.1), ("large", 0.3)):
        with bids_energy.measure(tmp_path, label=label, interval_s=0.1):
            with bids_energy.phase("train"):
                _burn(s)
    got = collect(tmp_path)
    assert sorted(got.runs["pipeline"]) == ["large", "small"]
    assert set(got.runs["participant"]) == {"n/a"}
    assert set(got.phases["phase"]) >= {"train"}
    q = tmp_path / "accuracy.tsv"
    q.write_text("pipeline\taccuracy\nsmall\t0.70\nlarge\t0.76\n")
    html = run_group_level(tmp_path, quality_tsv=q, out_dir=tmp_path / "group")["html"].read_text()
    sec = html.split('<section id="quality">')[1].split("</section>")[0]
    assert "Cost against quality (accuracy, higher is better)" in sec and "<svg" in sec
    assert "<td>small</td>" in sec and "<td>large</td>" in sec
    assert '<section id="phases">' in html
