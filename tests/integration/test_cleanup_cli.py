"""Cleanup end to end through run.py, on the tree the fMRIPrep and FastSurfer stand-ins write."""

from __future__ import annotations

import json
from pathlib import Path

from bids_energy.cleanup import read_manifest
from tests.conftest import tree_hash

STANDINS = Path(__file__).resolve().parents[1] / "fixtures" / "standins"


def _run(run_cli, ds, out, tmp_path, *extra, label="01", pipeline="fmriprep"):
    lic = tmp_path / "license.txt"
    lic.write_text("stand-in\n")
    binary = {"fmriprep": "fmriprep", "fastsurfer": "run_fastsurfer.sh"}[pipeline]
    return run_cli(ds, out, "participant", "--participant-label", label, "--pipeline", pipeline,
                   "--pipeline-bin", STANDINS / binary, "--fs-license-file", lic,
                   "-w", tmp_path / "work", *extra,
                   env={"STANDIN_CPU_SECONDS": "0.05"})


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_default_is_dry_run_and_changes_nothing(run_cli, synthetic_bids, tmp_path):
    out = tmp_path / "out"
    rc, _, err = _run(run_cli, synthetic_bids, out, tmp_path)
    assert rc == 0, err
    fp = json.loads((out / "fmriprep" / "sub-01" / "sub-01_footprint.json").read_text())
    c = fp["cleanup"]
    assert c["mode"] == "dry-run" and c["status"] == "dry-run"
    assert c["files_to_delete"] > 0 and c["files_removed"] == 0
    rows = read_manifest(Path(c["manifest"]))
    assert any(r["action"] == "delete" for r in rows)
    assert (tmp_path / "work").exists() and any((tmp_path / "work").rglob("*"))


def test_delete_two_participants_sharing_an_output_folder(run_cli, synthetic_bids, tmp_path):
    out = tmp_path / "out"
    rc, _, err = _run(run_cli, synthetic_bids, out, tmp_path, label="02")
    assert rc == 0, err
    sub02_before = tree_hash(out / "fmriprep" / "sub-02")
    rc, _, err = _run(run_cli, synthetic_bids, out, tmp_path, "--cleanup", "delete",
                      "--keep", "*_desc-aseg_dseg*")
    assert rc == 0, err
    pdir = out / "fmriprep"
    kept = _files(pdir / "sub-01")
    # the study's keep-list survives; the user's --keep overrides the default delete
    for word in ("desc-preproc", "desc-brain_mask", "confounds", ".svg", "desc-aseg_dseg"):
        assert any(word in f for f in kept), (word, sorted(kept))
    assert not any(f.endswith(".h5") for f in kept), "transforms are junk by default"
    assert (pdir / "sub-01.html").exists()
    assert (pdir / "dataset_description.json").exists() and (pdir / ".bidsignore").exists()
    assert (pdir / "sub-01" / "sub-01_footprint.json").exists()
    assert (pdir / "sub-01" / "sub-01_footprint.html").exists()
    assert tree_hash(pdir / "sub-02") == sub02_before, "the other participant is untouched"
    fp = json.loads((pdir / "sub-01" / "sub-01_footprint.json").read_text())
    c = fp["cleanup"]
    assert c["status"] == "done" and c["files_removed"] > 0
    assert c["files_after"] == c["files_before"] - c["files_removed"]
    assert c["work_dir_removed"] is True
    assert not (tmp_path / "work" / "fmriprep" / "sub-01").exists()
    assert (tmp_path / "work" / "fmriprep" / "sub-02").exists()
    desc = json.loads((pdir / "dataset_description.json").read_text())
    assert {g["Name"] for g in desc["GeneratedBy"]} >= {"bids-energy"}


def test_failed_run_is_never_cleaned(run_cli, synthetic_bids, tmp_path):
    out = tmp_path / "out"
    lic = tmp_path / "license.txt"
    lic.write_text("x\n")
    rc, _, _ = run_cli(synthetic_bids, out, "participant", "--participant-label", "01",
                       "--pipeline", "fmriprep", "--pipeline-bin", STANDINS / "fmriprep",
                       "--fs-license-file", lic, "-w", tmp_path / "work", "--cleanup", "delete",
                       env={"STANDIN_CPU_SECONDS": "0.05", "STANDIN_EXIT_CODE": "3"})
    assert rc == 3
    fp = json.loads((out / "fmriprep" / "sub-01" / "sub-01_footprint.json").read_text())
    assert fp["status"] == "failed" and fp["cleanup"]["status"] == "skipped"
    assert (tmp_path / "work" / "fmriprep" / "sub-01").exists()
