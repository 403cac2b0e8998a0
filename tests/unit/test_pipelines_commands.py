"""Exact argv of every variant of fMRIPrep, FastSurfer and recon-all, and input selection."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bids_energy.errors import ParticipantSkipped, UsageError
from bids_energy.pipelines import get_pipeline
from bids_energy.pipelines.base import Job
from bids_energy.pipelines.fastsurfer import FastSurferPipeline
from bids_energy.pipelines.freesurfer import parse_freesurfer_version

LIC = Path("/lic/license.txt")


def make_job(tmp: Path, pipe: str, variants, **kw) -> Job:
    out = tmp / "out"
    p = get_pipeline(pipe)
    defaults = dict(
        bids_dir=tmp / "ds",
        output_root=out,
        pipeline_dir=out / p.pipeline_dir_name(variants),
        work_dir=tmp / "work",
        participant="01",
        session=None,
        variants=list(variants),
        executable=pipe,
        version=None,
        license_file=LIC,
    )
    defaults.update(kw)
    return Job(**defaults)


# --- fMRIPrep --------------------------------------------------------------------------------
def fmriprep_expected(tmp: Path, pdir: str, changes: list[str], nthreads="5", spaces=None):
    spaces = spaces or ["MNI152NLin6Asym:res-2"]
    return [
        "fmriprep",
        str(tmp / "ds"),
        str(tmp / "out" / pdir),
        "participant",
        "--participant-label",
        "01",
        "--fs-license-file",
        str(LIC),
        "-w",
        str(tmp / "work"),
        "--nthreads",
        nthreads,
        "--omp-nthreads",
        "1",
        "--mem-mb",
        "30000",
        "--output-spaces",
        *spaces,
        "--random-seed",
        "1234",
        "--skull-strip-fixed-seed",
        *changes,
    ]


FMRIPREP_CASES = {
    "baseline": dict(changes=[]),
    "fs-no-reconall": dict(changes=["--fs-no-reconall"]),
    "sloppy": dict(changes=["--sloppy"]),
    "low-mem": dict(changes=["--low-mem"]),
    "fsaverage": dict(changes=[], spaces=["MNI152NLin6Asym:res-2", "fsaverage"]),
    "aroma": dict(changes=["--use-aroma"]),
    "res-1": dict(changes=[], spaces=["MNI152NLin6Asym:res-1"]),
    "syn-sdc": dict(changes=["--use-syn-sdc", "error"]),
    "nthreads-16": dict(changes=[], nthreads="16"),
    "nthreads-1": dict(changes=[], nthreads="1"),
}


@pytest.mark.parametrize("variant", list(FMRIPREP_CASES))
def test_fmriprep_every_variant(tmp_path, variant):
    job = make_job(tmp_path, "fmriprep", [variant], version="22.1.1")
    pdir = "fmriprep" if variant == "baseline" else f"fmriprep-{variant}"
    argv = get_pipeline("fmriprep").build_command(job)
    assert argv == fmriprep_expected(tmp_path, pdir, **FMRIPREP_CASES[variant])


def test_fmriprep_threads_and_memory_from_cli(tmp_path):
    job = make_job(tmp_path, "fmriprep", ["baseline"], nthreads=8, mem_gb=16)
    argv = get_pipeline("fmriprep").build_command(job)
    assert argv[argv.index("--nthreads") + 1] == "8"
    assert argv[argv.index("--omp-nthreads") + 1] == "1"
    assert argv[argv.index("--mem-mb") + 1] == str(16 * 1024)


def test_fmriprep_variant_threads_win_over_cli_with_warning(tmp_path):
    job = make_job(tmp_path, "fmriprep", ["nthreads-16"], nthreads=4)
    argv = get_pipeline("fmriprep").build_command(job)
    assert argv[argv.index("--nthreads") + 1] == "16"
    assert argv.count("--nthreads") == 1
    assert any("--nthreads 4 ignored" in w for w in job.warnings)


def test_fmriprep_combination(tmp_path):
    job = make_job(tmp_path, "fmriprep", ["fsaverage", "res-1", "sloppy", "nthreads-1"])
    argv = get_pipeline("fmriprep").build_command(job)
    i = argv.index("--output-spaces")
    assert argv[i + 1 : i + 3] == ["MNI152NLin6Asym:res-1", "fsaverage"]
    assert argv[argv.index("--nthreads") + 1] == "1"
    assert argv[-1] == "--sloppy"


def test_fmriprep_extra_args(tmp_path):
    fp = get_pipeline("fmriprep")
    job = make_job(tmp_path, "fmriprep", ["nthreads-16"], extra_args=["--nthreads", "4"])
    with pytest.raises(UsageError, match="contradicts variant 'nthreads-16'"):
        fp.build_command(job)
    job = make_job(tmp_path, "fmriprep", ["res-1"], extra_args=["--output-spaces", "T1w"])
    with pytest.raises(UsageError, match="contradicts variant 'res-1'"):
        fp.build_command(job)
    job = make_job(tmp_path, "fmriprep", ["sloppy"], extra_args=["--notrack", "--mem", "4000"])
    argv = fp.build_command(job)
    assert argv[-1] == "--notrack"
    assert argv.count("--mem-mb") == 1 and "--mem" not in argv
    assert argv[argv.index("--mem-mb") + 1] == "4000"


def test_fmriprep_aroma_warning_goes_to_job(tmp_path):
    job = make_job(tmp_path, "fmriprep", ["aroma"], version="24.1.1")
    get_pipeline("fmriprep").build_command(job)
    get_pipeline("fmriprep").build_command(job)  # twice (dry run then run): warned once
    assert sum("ignores it" in w for w in job.warnings) == 1


def test_fmriprep_session_label_by_version(tmp_path):
    fp = get_pipeline("fmriprep")
    job = make_job(tmp_path, "fmriprep", ["baseline"], session="2", version="24.1.1")
    argv = fp.build_command(job)
    assert argv[argv.index("--session-label") + 1] == "2"
    job = make_job(tmp_path, "fmriprep", ["baseline"], session="2", version="23.2.1")
    assert "--session-label" not in fp.build_command(job)
    assert any("no --session-label" in w for w in job.warnings)


def test_fmriprep_traits():
    fp = get_pipeline("fmriprep")
    assert fp.writes_dataset_description() is True
    assert fp.per_session is False
    assert fp.needs_license is True
    assert {"keep", "delete"} <= set(fp.cleanup_rules)
    for word in ("preproc", "brain_mask", "confounds", "html", "svg", "emissions"):
        assert any(word in g for g in fp.cleanup_rules["keep"])
    steps = dict(fp.step_map)
    assert steps["antsRegistration"] == "registration"
    assert steps["mcflirt"] == "motion correction"
    assert steps["recon-all"] == "surface reconstruction"


# --- FastSurfer ------------------------------------------------------------------------------
def fastsurfer_job(tmp, variants, **kw):
    job = make_job(tmp, "fastsurfer", variants, executable="run_fastsurfer.sh", **kw)
    sd = str(job.pipeline_dir)
    job.inputs = {"t1w": "/data/sub-01_T1w.nii.gz", "subjects_dir": sd, "subject_id": "sub-01"}
    if "surf-only" in variants:
        del job.inputs["t1w"]
    return job


def fastsurfer_expected(job, changes, t1=True, lic=True):
    head = ["run_fastsurfer.sh"]
    if t1:
        head += ["--t1", "/data/sub-01_T1w.nii.gz"]
    head += ["--sid", "sub-01", "--sd", str(job.pipeline_dir)]
    if lic:
        head += ["--fs_license", str(LIC)]
    return head + changes


FASTSURFER_CASES = {
    ("baseline",): dict(changes=[]),
    ("cpu",): dict(changes=["--device", "cpu", "--viewagg_device", "cpu"]),
    ("gpu",): dict(changes=["--device", "cuda"]),
    ("seg-only",): dict(changes=["--seg_only"], lic=False),
    ("surf-only",): dict(changes=["--surf_only"], t1=False),
    ("threads-8",): dict(changes=["--threads", "8"]),
    ("parallel",): dict(changes=["--parallel"]),
    ("gpu", "seg-only"): dict(changes=["--device", "cuda", "--seg_only"], lic=False),
    ("cpu", "threads-4", "parallel"): dict(
        changes=["--device", "cpu", "--viewagg_device", "cpu", "--threads", "4", "--parallel"]
    ),
}


@pytest.mark.parametrize("variants", list(FASTSURFER_CASES), ids="+".join)
def test_fastsurfer_every_variant(tmp_path, variants):
    job = fastsurfer_job(tmp_path, list(variants))
    argv = FastSurferPipeline(geteuid=lambda: 1000).build_command(job)
    assert argv == fastsurfer_expected(job, **FASTSURFER_CASES[variants])


def test_fastsurfer_allow_root_only_as_root(tmp_path):
    job = fastsurfer_job(tmp_path, ["gpu"])
    assert FastSurferPipeline(geteuid=lambda: 0).build_command(job)[-1] == "--allow_root"
    assert "--allow_root" not in FastSurferPipeline(geteuid=lambda: 1000).build_command(job)
    job.extra_args = ["--allow_root"]  # the user's own flag is not doubled
    assert FastSurferPipeline(geteuid=lambda: 0).build_command(job).count("--allow_root") == 1


def test_fastsurfer_threads(tmp_path):
    pipe = FastSurferPipeline(geteuid=lambda: 1000)
    job = fastsurfer_job(tmp_path, ["baseline"], nthreads=6)
    argv = pipe.build_command(job)
    assert argv[argv.index("--threads") + 1] == "6"
    job = fastsurfer_job(tmp_path, ["threads-2"], nthreads=6)
    argv = pipe.build_command(job)
    assert argv.count("--threads") == 1 and argv[argv.index("--threads") + 1] == "2"
    assert any("--nthreads 6 ignored" in w for w in job.warnings)


@pytest.mark.parametrize(
    "variants,extra,owner",
    [
        (["gpu"], ["--device", "cpu"], "gpu"),
        (["cpu"], ["--device=cuda"], "cpu"),
        (["surf-only"], ["--seg_only"], "surf-only"),
        (["threads-4"], ["--threads", "2"], "threads-4"),
    ],
)
def test_fastsurfer_contradicting_extra_refused(tmp_path, variants, extra, owner):
    job = fastsurfer_job(tmp_path, variants, extra_args=extra)
    with pytest.raises(UsageError, match=f"contradicts variant '{owner}'"):
        FastSurferPipeline(geteuid=lambda: 1000).build_command(job)


def test_fastsurfer_build_needs_inputs(tmp_path):
    job = make_job(tmp_path, "fastsurfer", ["gpu"])
    with pytest.raises(RuntimeError, match="inputs"):
        get_pipeline("fastsurfer").build_command(job)


# --- FreeSurfer ------------------------------------------------------------------------------
def freesurfer_job(tmp, variants, t1s=("/data/a_T1w.nii.gz",), **kw):
    job = make_job(tmp, "freesurfer", variants, executable="recon-all", **kw)
    job.inputs = {"subjects_dir": str(job.pipeline_dir), "subject_id": "sub-01"}
    if t1s:
        job.inputs["t1w"] = list(t1s)
    return job


FREESURFER_CASES = {
    ("baseline",): ["-all"],
    ("parallel",): ["-all", "-parallel"],
    ("openmp-4",): ["-all", "-openmp", "4"],
    ("autorecon1",): ["-autorecon1"],
    ("autorecon2",): ["-autorecon2"],
    ("autorecon3",): ["-autorecon3"],
    ("parallel", "openmp-8", "autorecon3"): ["-openmp", "8", "-parallel", "-autorecon3"],
}


@pytest.mark.parametrize("variants", list(FREESURFER_CASES), ids="+".join)
def test_freesurfer_every_variant(tmp_path, variants):
    continuing = any(v in ("autorecon2", "autorecon3") for v in variants)
    job = freesurfer_job(tmp_path, list(variants), t1s=() if continuing else ("/d/a_T1w.nii.gz",))
    argv = get_pipeline("freesurfer").build_command(job)
    head = ["recon-all", "-subjid", "sub-01"]
    if not continuing:
        head += ["-i", "/d/a_T1w.nii.gz"]
    head += ["-sd", str(job.pipeline_dir)]
    assert argv == head + FREESURFER_CASES[variants]


def test_freesurfer_several_t1w_and_openmp_from_nthreads(tmp_path):
    job = freesurfer_job(tmp_path, ["baseline"], t1s=("/d/r1.nii.gz", "/d/r2.nii.gz"), nthreads=3)
    argv = get_pipeline("freesurfer").build_command(job)
    assert argv[3:7] == ["-i", "/d/r1.nii.gz", "-i", "/d/r2.nii.gz"]
    assert argv[-2:] == ["-openmp", "3"]


def test_freesurfer_extra_stage_flag_contradicts(tmp_path):
    job = freesurfer_job(tmp_path, ["autorecon1"], extra_args=["-all"])
    with pytest.raises(UsageError, match="contradicts variant 'autorecon1'"):
        get_pipeline("freesurfer").build_command(job)
    job = freesurfer_job(tmp_path, ["baseline"], extra_args=["-3T"])
    assert get_pipeline("freesurfer").build_command(job)[-1] == "-3T"


def test_freesurfer_stage_folders_are_shared():
    fs = get_pipeline("freesurfer")
    assert fs.pipeline_dir_name(["autorecon1"]) == fs.pipeline_dir_name(["autorecon3"])
    assert fs.pipeline_dir_name(["autorecon1"]) == "freesurfer-autorecon"
    assert fs.pipeline_dir_name(["parallel", "autorecon2"]) == "freesurfer-parallel+autorecon"
    assert fs.pipeline_dir_name(["baseline"]) == "freesurfer"


@pytest.mark.parametrize(
    "text,version",
    [
        ("freesurfer-linux-ubuntu22_x86_64-7.4.1-20230614-7eb8460", "7.4.1"),
        ("freesurfer-linux-centos7_x86_64-7.3.2-20220804-6354275", "7.3.2"),
        ("freesurfer-Linux-centos6_x86_64-stable-pub-v6.0.0-2beb96c", "6.0.0"),
    ],
)
def test_freesurfer_version_text(text, version):
    assert parse_freesurfer_version(text) == version


# --- inputs through pybids -------------------------------------------------------------------
@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    """Two datasets: plain (sub-01, sub-02 without T1w) and sessions with two T1w runs."""
    import bids

    from bids_energy.synthetic import make_synthetic_dataset

    root = tmp_path_factory.mktemp("pipeline_inputs")
    plain = make_synthetic_dataset(root / "plain", n_subjects=2, shape=(5, 5, 5))
    for f in (plain / "sub-02" / "anat").glob("*T1w*"):
        f.unlink()
    ses = make_synthetic_dataset(root / "ses", n_subjects=1, sessions=["2", "1"], shape=(5, 5, 5))
    anat = ses / "sub-01" / "ses-1" / "anat"
    shutil.move(anat / "sub-01_ses-1_T1w.nii.gz", anat / "sub-01_ses-1_run-2_T1w.nii.gz")
    shutil.copy(anat / "sub-01_ses-1_run-2_T1w.nii.gz", anat / "sub-01_ses-1_run-10_T1w.nii.gz")
    shutil.copy(anat / "sub-01_ses-1_run-2_T1w.nii.gz", anat / "sub-01_ses-1_run-1_T1w.nii.gz")
    return {
        "plain": (plain, bids.BIDSLayout(plain, validate=False)),
        "ses": (ses, bids.BIDSLayout(ses, validate=False)),
    }


def test_fastsurfer_inputs_pick_absolute_t1w(tmp_path, layouts):
    ds, layout = layouts["plain"]
    job = make_job(tmp_path, "fastsurfer", ["gpu"], bids_dir=ds)
    inputs = get_pipeline("fastsurfer").inputs(job, layout)
    assert inputs["t1w"] == str((ds / "sub-01/anat/sub-01_T1w.nii.gz").resolve())
    assert Path(inputs["t1w"]).is_absolute()
    assert inputs["subject_id"] == "sub-01"


@pytest.mark.parametrize("pipe", ["fastsurfer", "freesurfer", "fmriprep"])
def test_missing_t1w_skips_participant(tmp_path, layouts, pipe):
    ds, layout = layouts["plain"]
    job = make_job(tmp_path, pipe, ["baseline"], bids_dir=ds, participant="02")
    with pytest.raises(ParticipantSkipped, match="sub-02 has no T1w"):
        get_pipeline(pipe).inputs(job, layout)


def test_session_rule_first_session_first_run(tmp_path, layouts):
    ds, layout = layouts["ses"]
    job = make_job(tmp_path, "fastsurfer", ["cpu"], bids_dir=ds)
    inputs = get_pipeline("fastsurfer").inputs(job, layout)
    assert inputs["t1w"].endswith("sub-01_ses-1_run-1_T1w.nii.gz")
    assert any("using ses-1" in w for w in job.warnings)
    assert any("3 T1w images" in w for w in job.warnings)


def test_session_given_and_freesurfer_takes_all_runs(tmp_path, layouts):
    ds, layout = layouts["ses"]
    job = make_job(tmp_path, "freesurfer", ["baseline"], bids_dir=ds, session="1")
    inputs = get_pipeline("freesurfer").inputs(job, layout)
    assert [Path(p).name for p in inputs["t1w"]] == [
        "sub-01_ses-1_run-1_T1w.nii.gz",
        "sub-01_ses-1_run-2_T1w.nii.gz",
        "sub-01_ses-1_run-10_T1w.nii.gz",
    ]
    assert inputs["subject_id"] == "sub-01_ses-1"
    job = make_job(tmp_path, "fastsurfer", ["baseline"], bids_dir=ds, session="2")
    assert get_pipeline("fastsurfer").inputs(job, layout)["t1w"].endswith("ses-2_T1w.nii.gz")


def test_fmriprep_inputs(tmp_path, layouts):
    ds, layout = layouts["plain"]
    job = make_job(tmp_path, "fmriprep", ["baseline"], bids_dir=ds)
    inputs = get_pipeline("fmriprep").inputs(job, layout)
    assert [Path(p).name for p in inputs["bold"]] == ["sub-01_task-rest_bold.nii.gz"]


def test_continuation_stages_find_earlier_subject(tmp_path, layouts):
    ds, layout = layouts["plain"]
    fs = get_pipeline("fastsurfer")
    job = make_job(tmp_path, "fastsurfer", ["surf-only"], bids_dir=ds)
    with pytest.raises(ParticipantSkipped, match="run --variant seg-only first"):
        fs.inputs(job, layout)
    seg = tmp_path / "out" / "fastsurfer-gpu+seg-only" / "sub-01" / "mri"
    seg.mkdir(parents=True)
    (seg / "aparc.DKTatlas+aseg.deep.mgz").write_text("x")
    inputs = fs.inputs(job, layout)
    assert inputs["subjects_dir"] == str(tmp_path / "out" / "fastsurfer-gpu+seg-only")
    assert "t1w" not in inputs
    assert any("continues" in w for w in job.warnings)

    fr = get_pipeline("freesurfer")
    job = make_job(tmp_path, "freesurfer", ["autorecon2"], bids_dir=ds)
    with pytest.raises(ParticipantSkipped, match="autorecon2 continues"):
        fr.inputs(job, layout)
    mri = job.pipeline_dir / "sub-01" / "mri"
    mri.mkdir(parents=True)
    (mri / "brainmask.mgz").write_text("x")
    assert fr.inputs(job, layout)["subjects_dir"] == str(job.pipeline_dir)


def test_freesurfer_refuses_rerun_with_new_input(tmp_path, layouts):
    ds, layout = layouts["plain"]
    job = make_job(tmp_path, "freesurfer", ["baseline"], bids_dir=ds)
    (job.pipeline_dir / "sub-01" / "mri" / "orig").mkdir(parents=True)
    (job.pipeline_dir / "sub-01" / "mri" / "orig" / "001.mgz").write_text("x")
    with pytest.raises(ParticipantSkipped, match="already holds a recon-all subject"):
        get_pipeline("freesurfer").inputs(job, layout)


def test_environment(tmp_path):
    job = freesurfer_job(tmp_path, ["baseline"])
    env = get_pipeline("freesurfer").environment(job)
    assert env == {"SUBJECTS_DIR": str(job.pipeline_dir), "FS_LICENSE": str(LIC)}
    assert get_pipeline("fmriprep").environment(job) == {"FS_LICENSE": str(LIC)}
