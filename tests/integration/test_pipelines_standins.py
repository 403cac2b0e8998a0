"""Every variant's command run through its stand-in: exact argv received, outputs written.

The stand-ins parse arguments like the real tools, so a flag the adapter gets wrong fails
here with argparse's exit 2, as it would hours into a real run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bids_energy.pipelines import get_pipeline
from bids_energy.pipelines.base import Job
from bids_energy.pipelines.fastsurfer import FastSurferPipeline

STANDINS = Path(__file__).resolve().parents[1] / "fixtures" / "standins"
EXE = {
    "fmriprep": STANDINS / "fmriprep",
    "fastsurfer": STANDINS / "run_fastsurfer.sh",
    "freesurfer": STANDINS / "recon-all",
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    import bids

    from bids_energy.synthetic import make_synthetic_dataset

    ds = make_synthetic_dataset(tmp_path_factory.mktemp("standin_ds") / "ds", 1, shape=(5, 5, 5))
    return ds, bids.BIDSLayout(ds, validate=False)


@pytest.fixture
def license_file(tmp_path):
    lic = tmp_path / "license.txt"
    lic.write_text("stand-in license\n")
    return lic


def standin_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FS_LICENSE", "FREESURFER_HOME")}
    env.update(STANDIN_ARGV_LOG=str(tmp_path / "argv.jsonl"), STANDIN_CPU_SECONDS="0.03")
    env.update(extra)
    return env


def logged(tmp_path: Path, prog: str | None = None) -> list[dict]:
    log = tmp_path / "argv.jsonl"
    if not log.exists():
        return []
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    return [r for r in rows if prog is None or r["prog"] == prog]


def run_variant(tmp_path, dataset, license_file, pipe, variants, pipeline_obj=None, **env):
    ds, layout = dataset
    p = pipeline_obj or get_pipeline(pipe)
    out = tmp_path / "out"
    job = Job(
        bids_dir=ds,
        output_root=out,
        pipeline_dir=out / p.pipeline_dir_name(variants),
        work_dir=tmp_path / "work",
        participant="01",
        session=None,
        variants=list(variants),
        nthreads=2,
        executable=str(EXE[pipe]),
        version=p.version(str(EXE[pipe])),
        license_file=license_file if p.needs_license_for(variants) else None,
    )
    job.inputs = p.inputs(job, layout)
    argv = p.build_command(job)
    e = standin_env(tmp_path, **env)
    e.update(p.environment(job))
    proc = subprocess.run(argv, env=e, capture_output=True, text=True, timeout=60)
    return job, argv, proc


def assert_argv_received(tmp_path, argv, prog):
    calls = logged(tmp_path, prog)
    assert calls, f"{prog} was never called"
    assert calls[-1]["argv"] == argv[1:]


# --- fMRIPrep --------------------------------------------------------------------------------
FMRIPREP_VARIANTS = [
    "baseline",
    "fs-no-reconall",
    "sloppy",
    "low-mem",
    "fsaverage",
    "aroma",
    "res-1",
    "syn-sdc",
    "nthreads-16",
    "nthreads-1",
]


@pytest.mark.parametrize("variant", FMRIPREP_VARIANTS)
def test_fmriprep_variant_through_standin(tmp_path, dataset, license_file, variant):
    job, argv, proc = run_variant(tmp_path, dataset, license_file, "fmriprep", [variant])
    assert proc.returncode == 0, proc.stderr
    assert_argv_received(tmp_path, argv, "fmriprep")
    out, sub = job.pipeline_dir, job.pipeline_dir / "sub-01"
    for rel in (
        "dataset_description.json",
        "logs/CITATION.md",
        "sub-01.html",
        "sub-01/anat/sub-01_desc-preproc_T1w.nii.gz",
        "sub-01/anat/sub-01_desc-brain_mask.nii.gz",
        "sub-01/anat/sub-01_from-T1w_to-MNI152NLin6Asym_mode-image_xfm.h5",
        "sub-01/func/sub-01_task-rest_desc-confounds_timeseries.tsv",
    ):
        assert (out / rel).is_file(), rel
    assert list((sub / "figures").glob("*.svg"))
    res = "1" if variant == "res-1" else "2"
    bold = f"sub-01_task-rest_space-MNI152NLin6Asym_res-{res}_desc-preproc_bold.nii.gz"
    assert (sub / "func" / bold).is_file()
    fs_subject = out / "sourcedata" / "freesurfer" / "sub-01"
    if variant == "fs-no-reconall":
        assert not fs_subject.exists()
        assert not (sub / "anat" / "sub-01_desc-aseg_dseg.nii.gz").exists()
    else:
        assert (fs_subject / "scripts" / "recon-all.log").is_file()
        assert (sub / "anat" / "sub-01_desc-aseg_dseg.nii.gz").is_file()
        assert logged(tmp_path, "recon-all")[0]["argv"][:2] == ["-subjid", "sub-01"]
    if variant == "fsaverage":
        assert (sub / "func" / "sub-01_task-rest_hemi-L_space-fsaverage_bold.func.gii").is_file()
    assert list((tmp_path / "work").glob("fmriprep_24_1_wf/single_subject_01_wf/**/*.pklz"))
    children = {r["prog"] for r in logged(tmp_path)}
    assert {"antsBrainExtraction.sh", "antsRegistration", "mcflirt"} <= children
    assert ("3dQwarp" in children) is (variant == "syn-sdc")
    desc = json.loads((out / "dataset_description.json").read_text())
    assert desc["GeneratedBy"][0]["Version"] == "24.1.1"


def test_fmriprep_standin_refuses_aroma_on_25(tmp_path, dataset, license_file):
    env = standin_env(tmp_path, STANDIN_FMRIPREP_VERSION="25.1.0")
    ds, _ = dataset
    argv = [
        str(EXE["fmriprep"]),
        str(ds),
        str(tmp_path / "o"),
        "participant",
        "--use-aroma",
        "--fs-license-file",
        str(license_file),
    ]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "unrecognized arguments: --use-aroma" in proc.stderr
    # and the adapter never builds it: the variant is refused up front
    from bids_energy.errors import UsageError

    ver = get_pipeline("fmriprep").version(str(EXE["fmriprep"]))
    assert ver == "24.1.1"  # the version env only reached the subprocess above
    with pytest.raises(UsageError):
        get_pipeline("fmriprep").resolve_variants(["aroma"], "25.1.0")


def test_fmriprep_version_is_configurable(tmp_path):
    env = standin_env(tmp_path, STANDIN_FMRIPREP_VERSION="23.2.1")
    proc = subprocess.run(
        [str(EXE["fmriprep"]), "--version"], env=env, capture_output=True, text=True, timeout=30
    )
    assert proc.stdout.strip() == "fMRIPrep v23.2.1"


def test_fmriprep_standin_unknown_flag_and_no_license(tmp_path, dataset, license_file):
    ds, _ = dataset
    base = [str(EXE["fmriprep"]), str(ds), str(tmp_path / "o"), "participant"]
    env = standin_env(tmp_path)
    proc = subprocess.run(
        [*base, "--fs-license-file", str(license_file), "--no-such-flag"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2 and "unrecognized arguments: --no-such-flag" in proc.stderr
    proc = subprocess.run(base, env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 126 and "license file is required" in proc.stderr


def test_fmriprep_failure_on_request(tmp_path, dataset, license_file):
    _, _, proc = run_variant(
        tmp_path, dataset, license_file, "fmriprep", ["fs-no-reconall"], STANDIN_EXIT_CODE="3"
    )
    assert proc.returncode == 3
    assert "failing on request" in proc.stderr


# --- FastSurfer ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "variants",
    [
        ["baseline"],
        ["cpu"],
        ["gpu"],
        ["seg-only"],
        ["threads-3"],
        ["parallel"],
        ["gpu", "seg-only"],
    ],
    ids="+".join,
)
def test_fastsurfer_variant_through_standin(tmp_path, dataset, license_file, variants):
    job, argv, proc = run_variant(tmp_path, dataset, license_file, "fastsurfer", variants)
    assert proc.returncode == 0, proc.stderr
    assert_argv_received(tmp_path, argv, "run_fastsurfer.sh")
    subj = job.pipeline_dir / "sub-01"
    assert (subj / "mri/aparc.DKTatlas+aseg.deep.mgz").is_file()
    assert (subj / "stats/aseg+DKT.stats").is_file()
    assert not list(subj.rglob("*IsRunning*"))
    surfaces = (subj / "surf/lh.white").is_file()
    assert surfaces is ("seg-only" not in variants)
    assert ("--fs_license" in argv) is ("seg-only" not in variants)
    progs = {r["prog"] for r in logged(tmp_path)}
    assert "run_prediction.py" in progs
    assert ("recon-surf.sh" in progs) is surfaces


def test_fastsurfer_surf_only_continues_seg_only(tmp_path, dataset, license_file):
    _, _, proc = run_variant(tmp_path, dataset, license_file, "fastsurfer", ["gpu", "seg-only"])
    assert proc.returncode == 0, proc.stderr
    job, argv, proc = run_variant(tmp_path, dataset, license_file, "fastsurfer", ["surf-only"])
    assert proc.returncode == 0, proc.stderr
    assert_argv_received(tmp_path, argv, "run_fastsurfer.sh")
    assert "--t1" not in argv
    seg_dir = tmp_path / "out" / "fastsurfer-gpu+seg-only"
    assert argv[argv.index("--sd") + 1] == str(seg_dir)
    assert (seg_dir / "sub-01/surf/lh.pial").is_file()


def test_fastsurfer_standin_refuses_root_without_allow_root(tmp_path, dataset, license_file):
    pipe = FastSurferPipeline(geteuid=lambda: 1000)  # adapter believes it is not root ...
    _, argv, proc = run_variant(
        tmp_path, dataset, license_file, "fastsurfer", ["cpu"], pipe, STANDIN_EUID="0"
    )  # ... but the process is: the stand-in refuses as FastSurfer does
    assert "--allow_root" not in argv
    assert proc.returncode == 1 and "--allow_root" in proc.stderr
    pipe = FastSurferPipeline(geteuid=lambda: 0)
    _, argv, proc = run_variant(
        tmp_path, dataset, license_file, "fastsurfer", ["cpu"], pipe, STANDIN_EUID="0"
    )
    assert proc.returncode == 0, proc.stderr


def test_fastsurfer_standin_rejects_unknown_and_missing_license(tmp_path, dataset):
    env = standin_env(tmp_path, STANDIN_EUID="1000")
    t1 = str(dataset[0] / "sub-01/anat/sub-01_T1w.nii.gz")
    base = [str(EXE["fastsurfer"]), "--t1", t1, "--sid", "s", "--sd", str(tmp_path)]
    proc = subprocess.run([*base, "--turbo"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and "unrecognized arguments: --turbo" in proc.stderr
    proc = subprocess.run(base, env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and "license" in proc.stderr
    proc = subprocess.run(
        [*base, "--seg_only", "--device", "tpu"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 2 and "invalid device" in proc.stderr


def test_fastsurfer_failure_leaves_isrunning(tmp_path, dataset, license_file):
    job, _, proc = run_variant(
        tmp_path, dataset, license_file, "fastsurfer", ["seg-only"], STANDIN_EXIT_CODE="1"
    )
    assert proc.returncode == 1
    assert list((job.pipeline_dir / "sub-01").rglob("*IsRunning*"))


# --- FreeSurfer ------------------------------------------------------------------------------
@pytest.mark.parametrize("variants", [["baseline"], ["parallel"], ["openmp-2"]], ids="+".join)
def test_freesurfer_variant_through_standin(tmp_path, dataset, license_file, variants):
    job, argv, proc = run_variant(tmp_path, dataset, license_file, "freesurfer", variants)
    assert proc.returncode == 0, proc.stderr
    assert_argv_received(tmp_path, argv, "recon-all")
    subj = job.pipeline_dir / "sub-01"
    for rel in (
        "mri/orig.mgz",
        "mri/nu.mgz",
        "mri/T1.mgz",
        "mri/aseg.mgz",
        "surf/lh.pial",
        "surf/rh.sphere.reg",
        "label/lh.aparc.annot",
        "stats/aseg.stats",
        "scripts/recon-all.log",
    ):
        assert (subj / rel).is_file(), rel
    assert not list(subj.rglob("*IsRunning*"))
    assert "finished without error" in (subj / "scripts/recon-all.log").read_text()
    progs = {r["prog"] for r in logged(tmp_path)}
    assert {"mri_convert", "mri_ca_register", "mris_make_surfaces", "mris_sphere"} <= progs


def test_freesurfer_stages_one_two_three(tmp_path, dataset, license_file):
    """autorecon1, 2, 3 in turn continue one subject in the shared stage folder."""
    for n, made in ((1, "mri/brainmask.mgz"), (2, "surf/lh.white"), (3, "stats/aseg.stats")):
        job, argv, proc = run_variant(
            tmp_path, dataset, license_file, "freesurfer", [f"autorecon{n}"]
        )
        assert proc.returncode == 0, proc.stderr
        assert_argv_received(tmp_path, argv, "recon-all")
        assert job.pipeline_dir.name == "freesurfer-autorecon"
        assert ("-i" in argv) is (n == 1)
        assert (job.pipeline_dir / "sub-01" / made).is_file()
    log = (job.pipeline_dir / "sub-01/scripts/recon-all.log").read_text()
    assert log.count("done") == 3


def test_recon_all_standin_errors(tmp_path, dataset, license_file):
    env = standin_env(tmp_path)
    t1 = str(dataset[0] / "sub-01/anat/sub-01_T1w.nii.gz")
    cmd = [str(EXE["freesurfer"]), "-subjid", "s", "-i", t1, "-sd", str(tmp_path), "-all"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and "license" in proc.stderr
    env["FS_LICENSE"] = str(license_file)
    proc = subprocess.run([*cmd, "-turbo"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and "unrecognized arguments: -turbo" in proc.stderr
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)  # -i on existing subject
    assert proc.returncode == 1 and "re-run an existing subject" in proc.stderr
    proc = subprocess.run(
        [str(EXE["freesurfer"]), "--version"], env=env, capture_output=True, text=True
    )
    assert proc.stdout.startswith("freesurfer-linux-ubuntu22_x86_64-7.4.1-")
    assert get_pipeline("freesurfer").version(str(EXE["freesurfer"])) == "7.4.1"


def test_children_burn_cpu_and_carry_their_names(tmp_path):
    """The meters test steps on these: a child's comm is the real program's name."""
    env = standin_env(tmp_path, STANDIN_CHILD_CPU_SECONDS="0.2")
    script = f"""
import resource, subprocess, time
p = subprocess.Popen([{str(STANDINS / "bin" / "antsRegistration")!r}])
comm = lambda: open(f"/proc/{{p.pid}}/comm").read().strip()
t = time.time()
while comm() != "antsRegistratio" and time.time() - t < 5:
    time.sleep(0.01)
print(comm())
p.wait()
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime)
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30
    )
    name, cpu = proc.stdout.split()
    assert name == "antsRegistratio"  # the kernel keeps 15 characters, as for the real binary
    assert float(cpu) >= 0.18
