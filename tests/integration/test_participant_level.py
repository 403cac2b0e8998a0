"""Whole participant runs through the CLI: footprints that validate and tell the truth."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bids_energy.footprint import read_footprint, validation_errors
from tests.conftest import REPO, tree_hash
from tests.fixtures.tools import EXTRAS_STEP, missing

BURN = "import time\nt=time.process_time()\nwhile time.process_time()-t<{s}: pass\n"


def _footprints(out: Path) -> list[Path]:
    return sorted(out.rglob("*_footprint.json"))


def test_demo_end_to_end(synthetic_bids, tmp_path, run_cli):
    before = tree_hash(synthetic_bids)
    out = tmp_path / "out"
    rc, stdout, err = run_cli(synthetic_bids, out, "participant", "--participant-label", "01",
                              "--region", "CA-QC", "--pue", "1.2")
    assert rc == 0, err
    assert tree_hash(synthetic_bids) == before
    fp = out / "demo" / "sub-01" / "sub-01_footprint.json"
    assert str(fp) in stdout
    rec = read_footprint(fp)  # validates against the shipped schema
    assert rec["status"] == "success" and rec["exit_code"] == 0
    assert rec["participant"] == "01" and rec["session"] is None
    assert rec["pipeline"]["name"] == "demo" and rec["pipeline"]["variants"] == ["baseline"]
    assert rec["cpu_s"] > 0.2 and rec["wall_s"] >= rec["cpu_s"] * 0.3
    assert rec["energy"]["job_energy_wh"] > 0
    cpu = rec["energy"]["components"]["cpu"]
    assert cpu["method"].startswith(("measured", "estimated")) and cpu["inputs"]
    assert rec["carbon"]["pue"] == 1.2 and rec["carbon"]["region"] == "CA-QC"
    expected = rec["energy"]["job_energy_wh"] / 1000 * 1.2 * rec["carbon"]["ci_g_per_kwh"]
    assert rec["carbon"]["co2e_g"] == pytest.approx(expected, rel=1e-6)
    anat = out / "demo" / "sub-01" / "anat"
    assert (anat / "sub-01_desc-preproc_T1w.nii.gz").exists()
    assert (anat / "sub-01_desc-brain_mask.nii.gz").exists()
    desc = json.loads((out / "demo" / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative" and desc["GeneratedBy"][0]["Name"] == "bids-energy"
    assert "*_footprint.json" in (out / "demo" / ".bidsignore").read_text()
    assert not (out / "demo" / "sub-02").exists()


def test_console_script_and_module_entry_points(synthetic_bids, tmp_path):
    exe = Path(sys.executable).with_name("bids-energy")
    if not exe.exists():
        missing(f"console script {exe} not installed", EXTRAS_STEP)
    p = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("bids-energy")
    p = subprocess.run([sys.executable, "-m", "bids_energy", str(synthetic_bids), str(tmp_path / "o"),
                        "participant", "--dry-run"], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0 and p.stdout.count("demo_worker") == 3


def test_command_pipeline_measures_cpu_it_burns(synthetic_bids, tmp_path, run_cli):
    script = tmp_path / "burn.py"
    script.write_text(BURN.format(s=1.5))
    out = tmp_path / "out"
    rc, _, err = run_cli(synthetic_bids, out, "participant", "--participant-label", "02",
                         "--pipeline", "command", "--sampling-interval", "0.2", "--",
                         sys.executable, str(script), "{participant}")
    assert rc == 0, err
    rec = read_footprint(out / "command" / "sub-02" / "sub-02_footprint.json")
    # 1.5 s of burning plus two interpreters starting (the shim and the script)
    assert 1.4 <= rec["cpu_s"] <= 2.6
    assert rec["pipeline"]["command"][-1] == "02"
    assert rec["timeline"]["rows"], "the sampler kept a timeline"


def test_failed_command_writes_failed_footprint_and_returns_its_code(synthetic_bids, tmp_path, run_cli):
    out = tmp_path / "out"
    rc, _, err = run_cli(synthetic_bids, out, "participant", "--participant-label", "01",
                         "--pipeline", "command", "--cleanup", "delete", "--",
                         sys.executable, "-c", "import sys; open('{output_dir}/partial.txt','w'); sys.exit(7)")
    assert rc == 7, err
    rec = read_footprint(out / "command" / "sub-01" / "sub-01_footprint.json")
    assert rec["status"] == "failed" and rec["exit_code"] == 7
    assert rec["cleanup"]["status"] == "skipped"
    assert (out / "command" / "sub-01" / "partial.txt").exists(), "never clean up after a failure"


def test_crash_by_signal_is_failed_with_signal(synthetic_bids, tmp_path, run_cli):
    out = tmp_path / "out"
    rc, _, err = run_cli(synthetic_bids, out, "participant", "--participant-label", "01",
                         "--pipeline", "command", "--", "sh", "-c", "kill -SEGV $$")
    assert rc == 128 + signal.SIGSEGV
    rec = read_footprint(out / "command" / "sub-01" / "sub-01_footprint.json")
    assert rec["status"] == "failed" and rec["signal"] == signal.SIGSEGV and rec["oom"] is False


def _wait_for_pipeline_cpu(pid: int, script: Path, cpu_s: float, timeout_s: float = 120) -> None:
    """Until the wrapped pipeline (a child running ``script``) has used ``cpu_s``: by then
    bids-energy has its signal handlers in place and there is energy to keep."""
    import psutil

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in psutil.Process(pid).children(recursive=True):
            try:
                if str(script) in child.cmdline() and sum(child.cpu_times()[:2]) >= cpu_s:
                    return
            except psutil.Error:
                continue
        time.sleep(0.1)
    raise AssertionError(f"the pipeline did not use {cpu_s} CPU s within {timeout_s} s")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_run_still_writes_footprint(sig, synthetic_bids, tmp_path):
    out = tmp_path / "out"
    script = tmp_path / "burn.py"
    script.write_text(BURN.format(s=60))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    p = subprocess.Popen([sys.executable, str(REPO / "run.py"), str(synthetic_bids), str(out),
                          "participant", "--participant-label", "01", "--pipeline", "command",
                          "--cleanup", "delete", "--grace-period", "2", "--sampling-interval", "0.2",
                          "--", sys.executable, str(script)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    fp = out / "command" / "sub-01" / "sub-01_footprint.json"
    _wait_for_pipeline_cpu(p.pid, script, cpu_s=1.0)  # not a fixed sleep: the machine may be loaded
    p.send_signal(sig)
    stdout, err = p.communicate(timeout=60)
    assert p.returncode == 128 + sig, err
    rec = read_footprint(fp)
    assert rec["status"] == "interrupted"
    assert rec["cpu_s"] > 0.5, "energy up to the moment of interruption is kept"
    assert rec["energy"]["job_energy_wh"] > 0
    assert rec["cleanup"]["status"] == "skipped"
    assert not list(out.rglob("*.tmp")), "no half-written files left"


def test_sixteen_concurrent_runs_into_one_folder(synthetic_bids, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = []
    for i in range(16):
        procs.append(subprocess.Popen(
            [sys.executable, str(REPO / "run.py"), str(synthetic_bids), str(out), "participant",
             "--participant-label", f"0{1 + i % 3}", "--pipeline", "command",
             "--sampling-interval", "0.5", "--", "sh", "-c", f"mkdir -p {{output_dir}}/r{i}"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    desc = json.loads((out / "command" / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative"
    assert [g["Name"] for g in desc["GeneratedBy"]] == ["bids-energy"]
    fps = _footprints(out)
    assert len(fps) == 3  # three participants; reruns replace their footprint atomically
    for f in fps:
        assert validation_errors(json.loads(f.read_text())) == []
    assert not list(out.rglob("*.tmp"))


def test_unwritable_participant_folder_is_73_and_no_partial_json(synthetic_bids, tmp_path, run_cli):
    out = tmp_path / "out"
    (out / "command").mkdir(parents=True)
    (out / "command" / "sub-01").write_text("a file where the participant folder goes")
    rc, _, err = run_cli(synthetic_bids, out, "participant", "--participant-label", "01",
                         "--pipeline", "command", "--", "true")
    assert rc == 73, err
    assert "cannot create" in err and "Traceback" not in err


def test_disk_full_while_writing_footprint_is_74_and_no_partial_json(synthetic_bids, tmp_path,
                                                                     monkeypatch, capsys):
    """ENOSPC at the footprint's fsync: exit 74, one line, and no footprint or temp file left."""
    import errno

    from bids_energy import atomic_io as bio
    from bids_energy.cli.run import main

    real_fsync = bio.os.fsync
    calls = {"n": 0}

    def fsync(fd):
        target = os.readlink(f"/proc/self/fd/{fd}")
        if "_footprint.json" in target:
            calls["n"] += 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(bio.os, "fsync", fsync)
    out = tmp_path / "out"
    rc = main([str(synthetic_bids), str(out), "participant", "--participant-label", "01",
               "--pipeline", "command", "--no-report", "--", "true"])
    err = capsys.readouterr().err
    assert rc == 74 and calls["n"] == 1
    assert [ln for ln in err.splitlines() if ln.startswith("bids-energy: error:")] == [
        next(ln for ln in err.splitlines() if "No space left" in ln)]
    sub = out / "command" / "sub-01"
    assert not list(sub.glob("*_footprint.json*")) and not list(sub.glob(".*.tmp"))
