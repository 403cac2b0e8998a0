"""``bids-energy slurm`` argument handling and submission (sbatch replaced by a fake)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bids_energy.cli import slurm as cli
from bids_energy.errors import BidsEnergyError, UsageError
from bids_energy.hpc.slurm import JobFiles
from bids_energy.hpc.submit import parse_parsable, submit


def _ds(tmp_path: Path, n: int = 3) -> Path:
    ds = tmp_path / "ds"
    for i in range(1, n + 1):
        (ds / f"sub-{i:02d}").mkdir(parents=True)
    (ds / "dataset_description.json").write_text('{"Name": "x", "BIDSVersion": "1.9.0"}')
    return ds


def test_parse_parsable_forms():
    assert parse_parsable("12345\n") == "12345"
    assert parse_parsable("678;cedar\n") == "678"
    assert parse_parsable("sbatch: warning: x\n42\n") == "42"
    with pytest.raises(BidsEnergyError):
        parse_parsable("Submitted batch job 12\n")
    with pytest.raises(BidsEnergyError):
        parse_parsable("")


def test_submit_chains_group_after_array(tmp_path):
    calls = []

    def fake(cmd):
        calls.append(list(cmd))
        return subprocess.CompletedProcess(cmd, 0, stdout=f"{100 + len(calls)}\n", stderr="")

    files = JobFiles(tmp_path, tmp_path / "p", tmp_path / "a.sbatch", tmp_path / "g.sbatch",
                     tmp_path / "s.sh", 3)
    sub = submit(files, runner=fake)
    assert (sub.array_job_id, sub.group_job_id) == ("101", "102")
    assert calls[0] == ["sbatch", "--parsable", str(tmp_path / "a.sbatch")]
    assert calls[1] == ["sbatch", "--parsable", "--dependency=afterany:101",
                        str(tmp_path / "g.sbatch"), "101"]


def test_submit_failure_carries_temp_failure_code(tmp_path):
    def fake(cmd):
        return subprocess.CompletedProcess(cmd, 1, stdout="", stderr="Invalid account")

    files = JobFiles(tmp_path, tmp_path / "p", tmp_path / "a", tmp_path / "g", tmp_path / "s", 1)
    with pytest.raises(BidsEnergyError, match="Invalid account") as info:
        submit(files, runner=fake)
    assert info.value.exit_code == 75


def test_cli_writes_scripts_without_submitting(tmp_path, capsys):
    ds = _ds(tmp_path)
    out = tmp_path / "out"
    rc = cli.main([str(ds), str(out), "--pipeline", "demo", "--runtime", "none",
                   "--participant-label", "sub-01", "03", "--cpus", "2"])
    assert rc == 0
    slurm_dir = out / "code" / "slurm"
    plist = next(slurm_dir.glob("*_participants.txt"))
    assert plist.read_text() == "01\n03\n"
    array = next(slurm_dir.glob("*_array.sbatch")).read_text()
    assert "#SBATCH --array=1-2" in array
    assert "--nthreads 2" in array  # --cpus is passed on as --nthreads
    assert "submit with" in capsys.readouterr().out


def test_cli_nthreads_goes_before_pipeline_args(tmp_path):
    ds = _ds(tmp_path, 1)
    opts = cli.build_parser().parse_args([str(ds), str(tmp_path / "o"), "--runtime", "none",
                                          "--cpus", "4"])
    plan = cli.plan_from_args(opts, ["--cleanup", "delete", "--", "--sloppy"])
    assert plan.extra_args == ("--cleanup", "delete", "--nthreads", "4", "--", "--sloppy")
    plan = cli.plan_from_args(opts, ["--nthreads", "2"])
    assert plan.extra_args == ("--nthreads", "2")


def test_cli_requires_image_for_containers(tmp_path, capsys):
    ds = _ds(tmp_path, 1)
    rc = cli.main([str(ds), str(tmp_path / "o"), "--runtime", "apptainer"])
    assert rc == UsageError.exit_code
    assert "--image" in capsys.readouterr().err


def test_cli_refuses_output_inside_input(tmp_path):
    ds = _ds(tmp_path, 1)
    rc = cli.main([str(ds), str(ds / "derivatives"), "--runtime", "none"])
    assert rc == 64
    assert not (ds / "derivatives").exists()


def test_cli_bad_time_is_usage_error(tmp_path):
    with pytest.raises(SystemExit) as info:
        cli.build_parser().parse_args(["a", "b", "--time", "12h"])
    assert info.value.code == 64


def test_cli_unknown_participant_exit_18(tmp_path):
    ds = _ds(tmp_path, 1)
    assert cli.main([str(ds), str(tmp_path / "o"), "--runtime", "none",
                     "--participant-label", "09"]) == 18


def test_cli_submit_missing_image_is_exit_66(tmp_path):
    ds = _ds(tmp_path, 1)
    rc = cli.main([str(ds), str(tmp_path / "o"), "--image", str(tmp_path / "no.sif"), "--submit"])
    assert rc == 66


def test_cli_submit_calls_sbatch(tmp_path, monkeypatch, capsys):
    ds = _ds(tmp_path, 2)
    seen = []

    def fake_submit(files):
        seen.append(files)
        from bids_energy.hpc.submit import Submission
        return Submission("7", "8")

    monkeypatch.setattr(cli, "submit", fake_submit)
    rc = cli.main([str(ds), str(tmp_path / "o"), "--runtime", "none", "--submit"])
    assert rc == 0 and seen[0].n_tasks == 2
    assert "array job 7" in capsys.readouterr().out


def test_participant_labels_use_the_bids_app_label_type(tmp_path):
    """The same argument type as the participant level: path characters are refused (64)."""
    import pytest

    from bids_energy.cli.slurm import main

    with pytest.raises(SystemExit) as e:
        main([str(tmp_path), str(tmp_path / "out"), "--runtime", "none",
              "--participant-label", "../etc"])
    assert e.value.code == 64
