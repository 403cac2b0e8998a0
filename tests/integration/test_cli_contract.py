"""The BIDS-App contract through the real entry point: exit codes, one-line errors, and the
input dataset left untouched whatever happens."""

from __future__ import annotations

import json
import os
import shlex
import sys

import pytest

from tests.conftest import tree_hash


def _one_line_error(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.startswith("bids-energy: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("case,setup,args,code,needle", [
    ("missing bids_dir", None, ["{tmp}/nope", "{tmp}/out", "participant"], 66, "does not exist"),
    ("bids_dir is a file", "file", ["{tmp}/afile", "{tmp}/out", "participant"], 66, "not a readable folder"),
    ("no description", "nodesc", ["{ds}", "{tmp}/out", "participant"], 16, "dataset_description.json is missing"),
    ("description not JSON", "badjson", ["{ds}", "{tmp}/out", "participant"], 16, "not valid JSON"),
    ("output inside input", None, ["{ds}", "{ds}/derivatives/x", "participant"], 73, "inside bids_dir"),
    ("unknown level", None, ["{ds}", "{tmp}/out", "session"], 17, "unknown analysis level"),
    ("unknown participant", None, ["{ds}", "{tmp}/out", "participant", "--participant-label", "77"], 18, "sub-77"),
    ("unknown pipeline", None, ["{ds}", "{tmp}/out", "participant", "--pipeline", "spm"], 64, "unknown pipeline"),
    ("unknown variant", None, ["{ds}", "{tmp}/out", "participant", "--variant", "turbo"], 64, "unknown variant"),
    ("conflicting variants", None, ["{ds}", "{tmp}/out", "participant", "--variant", "sloppy", "--variant", "affine-only"], 64, "conflict"),
    ("unknown region", None, ["{ds}", "{tmp}/out", "participant", "--region", "ZZ-QQ"], 64, "ZZ-QQ"),
    ("unwritable output", "ro_out", ["{ds}", "{tmp}/ro/out", "participant"], 73, "cannot create"),
    ("command without command", None, ["{ds}", "{tmp}/out", "participant", "--pipeline", "command"], 64, "needs a command"),
    ("path-like label", None, ["{ds}", "{tmp}/out", "participant", "--participant-label", "../x"], 64, "label"),
])
def test_error_cases(case, setup, args, code, needle, synthetic_bids, tmp_path, run_cli):
    if setup == "file":
        (tmp_path / "afile").write_text("x")
    elif setup == "nodesc":
        (synthetic_bids / "dataset_description.json").unlink()
    elif setup == "badjson":
        (synthetic_bids / "dataset_description.json").write_text("{")
    elif setup == "ro_out":
        if os.geteuid() == 0:
            (tmp_path / "ro").write_text("a file where a folder should be")
        else:
            (tmp_path / "ro").mkdir(mode=0o500)
    before = tree_hash(synthetic_bids)
    rc, out, err = run_cli(*[a.format(tmp=tmp_path, ds=synthetic_bids) for a in args])
    assert rc == code, (case, rc, err)
    if code != 64 or "usage:" not in err:
        assert needle in _one_line_error(err)
    else:
        assert needle in err
    assert "Traceback" not in err
    assert tree_hash(synthetic_bids) == before


def test_dry_run_prints_exact_commands_and_runs_nothing(synthetic_bids, tmp_path, run_cli):
    out_dir = tmp_path / "out"
    rc, out, err = run_cli(synthetic_bids, out_dir, "participant", "--dry-run",
                           "--participant-label", "01", "sub-03", "--variant", "affine-only")
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2
    argv = shlex.split(lines[0])
    assert argv[:3] == [sys.executable, "-m", "bids_energy.pipelines.demo_worker"]
    assert argv[argv.index("--t1w") + 1] == str(synthetic_bids.resolve() / "sub-01/anat/sub-01_T1w.nii.gz")
    assert argv[argv.index("--transform") + 1] == "affine"
    assert "sub-03" in lines[1]
    assert not out_dir.exists()


def test_dry_run_command_pipeline_placeholders(synthetic_bids, tmp_path, run_cli):
    rc, out, err = run_cli(synthetic_bids, tmp_path / "out", "participant", "--dry-run",
                           "--pipeline", "command", "--participant-label", "02", "--",
                           "echo", "{bids_dir}", "{participant}", "{output_dir}")
    assert rc == 0, err
    argv = shlex.split(out.strip())
    assert argv[0] == "echo" and argv[2] == "02"
    assert argv[1] == str(synthetic_bids.resolve())
    assert argv[3].endswith("/out/command/sub-02")


def test_sessions_expand_to_one_command_each(synthetic_bids_sessions, tmp_path, run_cli):
    rc, out, err = run_cli(synthetic_bids_sessions, tmp_path / "out", "participant", "--dry-run")
    assert rc == 0, err
    assert len(out.strip().splitlines()) == 4
    rc, out, _ = run_cli(synthetic_bids_sessions, tmp_path / "out", "participant", "--dry-run",
                         "--session-label", "2")
    assert [ln for ln in out.splitlines() if "ses-2" in ln] and "ses-1_T1w" not in out


def test_missing_t1w_is_reported_not_crashed(synthetic_bids, tmp_path, run_cli):
    for f in (synthetic_bids / "sub-02" / "anat").iterdir():
        f.unlink()
    rc, out, err = run_cli(synthetic_bids, tmp_path / "out", "participant", "--dry-run")
    assert rc == 0, err
    assert "sub-02: no usable T1w" in err
    assert len(out.strip().splitlines()) == 2
    rc, out, err = run_cli(synthetic_bids, tmp_path / "out", "participant", "--dry-run",
                           "--participant-label", "02")
    assert rc == 65 and "no participant could be run" in err


def test_list_variants(synthetic_bids, tmp_path, run_cli):
    rc, out, err = run_cli(synthetic_bids, tmp_path / "out", "participant", "--list-variants")
    assert rc == 0, err
    assert "baseline" in out and "sloppy" in out and "affine-only" in out


def test_read_only_input_dataset_description_unchanged(synthetic_bids, tmp_path, run_cli):
    before = json.loads((synthetic_bids / "dataset_description.json").read_text())
    run_cli(synthetic_bids, tmp_path / "out", "participant", "--dry-run")
    assert json.loads((synthetic_bids / "dataset_description.json").read_text()) == before
