"""The wrapped pipelines through run.py with their stand-ins: footprints, dry runs, exit codes."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

STANDINS = Path(__file__).resolve().parents[1] / "fixtures" / "standins"
FMRIPREP = STANDINS / "fmriprep"
FASTSURFER = STANDINS / "run_fastsurfer.sh"
RECON_ALL = STANDINS / "recon-all"


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """No license in the environment unless a test puts one there; fast stand-ins."""
    e = {"STANDIN_ARGV_LOG": str(tmp_path / "argv.jsonl"), "STANDIN_CPU_SECONDS": "0.05"}
    e["FS_LICENSE"] = ""
    e["FREESURFER_HOME"] = ""
    return e


@pytest.fixture
def lic(tmp_path) -> Path:
    p = tmp_path / "license.txt"
    p.write_text("stand-in license\n")
    return p


def calls(tmp_path: Path, prog: str) -> list[list[str]]:
    log = tmp_path / "argv.jsonl"
    if not log.exists():
        return []
    rows = [json.loads(x) for x in log.read_text().splitlines()]
    return [r["argv"] for r in rows if r["prog"] == prog]


def footprint(pdir: Path, prefix: str = "sub-01") -> dict:
    return json.loads((pdir / prefix.split("_")[0] / f"{prefix}_footprint.json").read_text())


def test_fmriprep_variant_end_to_end(run_cli, synthetic_bids, tmp_path, env, lic):
    out = tmp_path / "out"
    rc, stdout, stderr = run_cli(
        synthetic_bids,
        out,
        "participant",
        "--participant-label",
        "01",
        "--pipeline",
        "fmriprep",
        "--variant",
        "fs-no-reconall",
        "--fs-license-file",
        lic,
        "--pipeline-bin",
        FMRIPREP,
        env=env,
    )
    assert rc == 0, stderr
    pdir = out / "fmriprep-fs-no-reconall"
    rec = footprint(pdir)
    assert rec["pipeline"]["name"] == "fmriprep"
    assert rec["pipeline"]["version"] == "24.1.1"
    assert rec["pipeline"]["variants"] == ["fs-no-reconall"]
    runs = [a for a in calls(tmp_path, "fmriprep") if a != ["--version"]]
    assert runs == [rec["pipeline"]["command"][1:]]
    assert "--fs-no-reconall" in runs[0]
    assert (pdir / "sub-01.html").is_file()
    assert (pdir / "sub-01/anat/sub-01_desc-preproc_T1w.nii.gz").is_file()


def test_fastsurfer_gpu_seg_only_needs_no_license(run_cli, synthetic_bids, tmp_path, env):
    out = tmp_path / "out"
    rc, _, stderr = run_cli(
        synthetic_bids,
        out,
        "participant",
        "--participant-label",
        "02",
        "--pipeline",
        "fastsurfer",
        "--variant",
        "gpu",
        "--variant",
        "seg-only",
        "--pipeline-bin",
        FASTSURFER,
        env=env,
    )
    assert rc == 0, stderr
    pdir = out / "fastsurfer-gpu+seg-only"
    rec = footprint(pdir, "sub-02")
    assert rec["pipeline"]["name"] == "fastsurfer"
    assert rec["pipeline"]["version"] == "2.2.0"
    assert rec["pipeline"]["variants"] == ["gpu", "seg-only"]
    assert rec["pipeline"]["device"] == "gpu"
    argv = rec["pipeline"]["command"]
    assert argv[argv.index("--device") + 1] == "cuda" and "--seg_only" in argv
    assert "--fs_license" not in argv
    assert ("--allow_root" in argv) is (os.geteuid() == 0)
    assert (pdir / "sub-02/mri/aparc.DKTatlas+aseg.deep.mgz").is_file()


def test_freesurfer_parallel_with_env_license(run_cli, synthetic_bids, tmp_path, env, lic):
    out = tmp_path / "out"
    env["FS_LICENSE"] = str(lic)
    rc, _, stderr = run_cli(
        synthetic_bids,
        out,
        "participant",
        "--participant-label",
        "03",
        "--pipeline",
        "freesurfer",
        "--variant",
        "parallel",
        "--nthreads",
        "2",
        "--pipeline-bin",
        RECON_ALL,
        env=env,
    )
    assert rc == 0, stderr
    pdir = out / "freesurfer-parallel"
    rec = footprint(pdir, "sub-03")
    assert (rec["pipeline"]["name"], rec["pipeline"]["version"]) == ("freesurfer", "7.4.1")
    assert rec["pipeline"]["variants"] == ["parallel"]
    assert calls(tmp_path, "recon-all")[-1] == [
        "-subjid",
        "sub-03",
        "-i",
        str((synthetic_bids / "sub-03/anat/sub-03_T1w.nii.gz").resolve()),
        "-sd",
        str(pdir.resolve()),
        "-all",
        "-openmp",
        "2",
        "-parallel",
    ]
    assert (pdir / "sub-03/stats/aseg.stats").is_file()


@pytest.mark.parametrize(
    "pipeline,bin_,variants,words",
    [
        ("fmriprep", FMRIPREP, ["turbo"], "unknown variant 'turbo'"),
        ("fmriprep", FMRIPREP, ["nthreads-1", "nthreads-16"], "conflict"),
        ("fastsurfer", FASTSURFER, ["seg-only", "surf-only"], "conflict"),
        ("fastsurfer", FASTSURFER, ["cpu", "gpu"], "conflict"),
        ("freesurfer", RECON_ALL, ["autorecon1", "autorecon2"], "conflict"),
    ],
)
def test_bad_variants_exit_64(
    run_cli, synthetic_bids, tmp_path, env, lic, pipeline, bin_, variants, words
):
    args = [a for v in variants for a in ("--variant", v)]
    rc, _, stderr = run_cli(
        synthetic_bids,
        tmp_path / "out",
        "participant",
        "--pipeline",
        pipeline,
        *args,
        "--pipeline-bin",
        bin_,
        "--fs-license-file",
        lic,
        env=env,
    )
    assert rc == 64
    assert words in stderr
    assert all(
        a == ["--version"]
        for p in ("fmriprep", "run_fastsurfer.sh", "recon-all")
        for a in calls(tmp_path, p)
    )


def test_aroma_refused_on_fmriprep_25(run_cli, synthetic_bids, tmp_path, env, lic):
    env["STANDIN_FMRIPREP_VERSION"] = "25.0.0"
    rc, _, stderr = run_cli(
        synthetic_bids,
        tmp_path / "out",
        "participant",
        "--pipeline",
        "fmriprep",
        "--variant",
        "aroma",
        "--pipeline-bin",
        FMRIPREP,
        "--fs-license-file",
        lic,
        env=env,
    )
    assert rc == 64
    assert "removed in fMRIPrep 25.0" in stderr


def test_extra_arg_contradicting_variant_exit_64(run_cli, synthetic_bids, tmp_path, env, lic):
    rc, _, stderr = run_cli(
        synthetic_bids,
        tmp_path / "out",
        "participant",
        "--pipeline",
        "fmriprep",
        "--variant",
        "nthreads-16",
        "--pipeline-bin",
        FMRIPREP,
        "--fs-license-file",
        lic,
        "--",
        "--nthreads",
        "4",
        env=env,
    )
    assert rc == 64
    assert "contradicts variant 'nthreads-16'" in stderr


@pytest.mark.parametrize(
    "pipeline,bin_,variants",
    [
        ("fmriprep", FMRIPREP, ["fs-no-reconall"]),
        ("freesurfer", RECON_ALL, []),
        ("fastsurfer", FASTSURFER, ["gpu"]),
    ],
)
def test_missing_license_exit_126(run_cli, synthetic_bids, tmp_path, env, pipeline, bin_, variants):
    args = [a for v in variants for a in ("--variant", v)]
    rc, _, stderr = run_cli(
        synthetic_bids,
        tmp_path / "out",
        "participant",
        "--pipeline",
        pipeline,
        *args,
        "--pipeline-bin",
        bin_,
        env=env,
    )
    assert rc == 126
    assert "license" in stderr.lower()
    assert len(stderr.strip().splitlines()) == 1  # one clear line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*_footprint.json"))


@pytest.mark.parametrize("pipeline", ["fmriprep", "fastsurfer", "freesurfer"])
def test_list_variants(run_cli, synthetic_bids, tmp_path, env, pipeline):
    rc, stdout, _ = run_cli(
        synthetic_bids,
        tmp_path / "out",
        "participant",
        "--pipeline",
        pipeline,
        "--list-variants",
        env=env,
    )
    assert rc == 0
    from bids_energy.pipelines import get_pipeline

    for name in get_pipeline(pipeline).variants:
        assert name in stdout
    assert "conflict group" in stdout


def test_dry_run_prints_commands_and_runs_nothing(run_cli, synthetic_bids, tmp_path, env, lic):
    out = tmp_path / "out"
    rc, stdout, stderr = run_cli(
        synthetic_bids,
        out,
        "participant",
        "--pipeline",
        "fmriprep",
        "--variant",
        "sloppy",
        "--variant",
        "res-1",
        "--fs-license-file",
        lic,
        "--pipeline-bin",
        FMRIPREP,
        "--dry-run",
        env=env,
    )
    assert rc == 0, stderr
    lines = [shlex.split(x) for x in stdout.splitlines() if x.startswith(str(FMRIPREP))]
    assert [x[x.index("--participant-label") + 1] for x in lines] == ["01", "02", "03"]
    for argv in lines:
        assert argv[1:4] == [
            str(synthetic_bids.resolve()),
            str((out / "fmriprep-sloppy+res-1").resolve()),
            "participant",
        ]
        assert "--sloppy" in argv
        assert argv[argv.index("--output-spaces") + 1] == "MNI152NLin6Asym:res-1"
    assert calls(tmp_path, "fmriprep") == [["--version"]]
    assert not (out / "fmriprep-sloppy+res-1").exists()
