"""run_cleanup on trees laid out like the real pipelines' outputs (and the stand-ins' trees)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bids_energy.cleanup import read_manifest, run_cleanup
from bids_energy.cleanup.rules import default_rules
from bids_energy.errors import UsageError
from bids_energy.pipelines.base import Job
from synthdata.layouts import (
    FMRIPREP_SUBJECT_FILES,
    FS_SUBJECT_FILES,
    make_dataset_files,
    make_fmriprep_participant,
    make_freesurfer_subject,
    make_work_dir,
)

REPO = Path(__file__).resolve().parents[2]
STANDINS = REPO / "tests" / "fixtures" / "standins"


def snapshot(root: Path) -> dict[str, str]:
    """Every path below root -> content hash (files) or 'link:<target>' (links), no following."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = "link:" + os.readlink(p)
            else:
                with open(p, "rb") as fh:
                    out[rel] = hashlib.sha256(fh.read()).hexdigest()
    return out


def make_job(
    tmp: Path,
    pipeline: str = "fmriprep",
    label: str = "01",
    session: str | None = None,
    work: Path | None = None,
) -> Job:
    return Job(
        bids_dir=tmp / "bids",
        output_root=tmp / "out",
        pipeline_dir=tmp / "out" / pipeline,
        work_dir=work if work is not None else tmp / "work" / f"sub-{label}",
        participant=label,
        session=session,
        variants=[],
    )


def fmriprep_out(tmp: Path, labels=("01",), session=None) -> Path:
    out = tmp / "out" / "fmriprep"
    make_dataset_files(out)
    for label in labels:
        make_fmriprep_participant(out, label, session=session)
    (tmp / "bids").mkdir(exist_ok=True)
    return out


def fmriprep_rules() -> dict:
    return default_rules("fmriprep")


# --- what goes, what stays ------------------------------------------------------------------


def test_fmriprep_delete_keeps_the_keep_list_and_removes_the_rest(tmp_path: Path) -> None:
    out = fmriprep_out(tmp_path)
    job = make_job(tmp_path)
    make_work_dir(job.work_dir, "01")
    before = snapshot(out)
    s = run_cleanup(job, fmriprep_rules(), mode="delete")

    assert s["status"] == "done" and s["reason"] is None
    after = snapshot(out)
    for tmpl, kept in FMRIPREP_SUBJECT_FILES:
        rel = f"sub-01/{tmpl.format(p='sub-01')}"
        assert (rel in after) is kept, rel
    assert "sub-01.html" in after
    fs = "sourcedata/freesurfer/sub-01"
    for rel in (
        "stats/aseg.stats",
        "mri/aparc+aseg.mgz",
        "surf/lh.thickness",
        "surf/lh.white",
        "surf/lh.pial",
        "surf/lh.pial.T1",
        "scripts/recon-all.log",
    ):
        assert f"{fs}/{rel}" in after, rel
    for rel in (
        "mri/orig.mgz",
        "mri/orig/001.mgz",
        "mri/nu.mgz",
        "mri/T1.mgz",
        "mri/brainmask.auto.mgz",
        "scripts/IsRunning.lh+rh",
        "tmp/scratch.mgz",
    ):
        assert f"{fs}/{rel}" not in after, rel
    assert not (out / fs / "mri" / "orig").exists()  # emptied folders go too
    assert not (out / fs / "tmp").exists()
    # dataset-level and shared files untouched
    for rel in (
        "dataset_description.json",
        ".bidsignore",
        "logs/CITATION.md",
        "logs/CITATION.bib",
        "desc-aparcaseg_dseg.tsv",
        "sourcedata/freesurfer/fsaverage/surf/lh.sphere.reg",
    ):
        assert after[rel] == before[rel]
    # every survivor is unchanged, the count adds up
    assert all(before[k] == v for k, v in after.items() if k in before)
    removed = set(before) - set(after)
    assert len(removed) == s["files_removed"] == s["files_to_delete"]
    assert s["files_after"] == s["files_before"] - s["files_removed"]
    assert s["bytes_after"] == s["bytes_before"] - s["bytes_removed"]
    assert s["bytes_removed"] == 16 * len(removed)
    # the work dir went, and is recorded
    assert s["work_dir_removed"] is True and not job.work_dir.exists()
    assert s["work_dir_files"] == 20 and s["work_dir_bytes"] == 160


def test_manifest_lists_every_path_with_size_action_and_rule(tmp_path: Path) -> None:
    out = fmriprep_out(tmp_path)
    job = make_job(tmp_path)
    before = snapshot(out)
    s = run_cleanup(job, fmriprep_rules(), mode="delete")
    manifest = Path(s["manifest"])
    assert manifest == out / "sub-01" / "sub-01_cleanup.tsv"
    rows = read_manifest(manifest)
    assert list(rows[0]) == ["path", "kind", "size_bytes", "action", "rule"]
    by_path = {r["path"]: r for r in rows}
    owned = {
        k for k in before if k.startswith(("sub-01/", "sub-01.", "sourcedata/freesurfer/sub-01/"))
    }
    assert set(by_path) == owned  # exactly the participant's paths, nothing else
    assert (
        by_path["sub-01/anat/sub-01_desc-preproc_T1w.nii.gz"]["rule"] == "pipeline-keep:*preproc*"
    )
    row = by_path["sub-01/anat/sub-01_label-GM_probseg.nii.gz"]
    assert (row["action"], row["rule"], row["size_bytes"]) == (
        "delete",
        "pipeline-delete:/sub-*/",
        "16",
    )
    assert by_path["sourcedata/freesurfer/sub-01/surf/lh.pial"]["kind"] == "symlink"
    assert sum(r["action"] == "delete" for r in rows) == s["files_removed"]
    # a second cleanup finds nothing more to delete and protects the first manifest
    s2 = run_cleanup(job, fmriprep_rules(), mode="delete")
    assert s2["files_removed"] == 0
    rows2 = {r["path"]: r for r in read_manifest(manifest)}
    assert rows2["sub-01/sub-01_cleanup.tsv"]["action"] == "protected"


def test_dry_run_changes_nothing_but_writes_the_manifest(tmp_path: Path) -> None:
    out = fmriprep_out(tmp_path)
    job = make_job(tmp_path)
    make_work_dir(job.work_dir, "01")
    before, work_before = snapshot(out), snapshot(job.work_dir)
    s = run_cleanup(job, fmriprep_rules())  # the default mode
    after = snapshot(out)
    manifest_rel = "sub-01/sub-01_cleanup.tsv"
    assert after.pop(manifest_rel)
    assert after == before and snapshot(job.work_dir) == work_before
    assert s["status"] == "dry-run" and s["files_removed"] == 0 and s["bytes_removed"] == 0
    assert s["files_to_delete"] > 0 and s["files_after"] == s["files_before"]
    rows = read_manifest(out / manifest_rel)
    files = [r for r in rows if r["kind"] != "dir"]
    assert sum(r["action"] == "delete" for r in files) == s["files_to_delete"]
    assert rows[-1]["rule"] == "work-dir:removed-after-success"
    assert s["work_dir_removed"] is False and s["work_dir_reason"] == "dry run"


@pytest.mark.parametrize("status", ["failed", "interrupted", "timeout", ""])
def test_failed_or_interrupted_run_is_never_cleaned(tmp_path: Path, status: str) -> None:
    out = fmriprep_out(tmp_path)
    job = make_job(tmp_path)
    make_work_dir(job.work_dir, "01")
    before, work_before = snapshot(out), snapshot(job.work_dir)
    s = run_cleanup(job, fmriprep_rules(), mode="delete", status=status)
    assert s["status"] == "skipped" and "never cleaned" in s["reason"]
    assert snapshot(out) == before and snapshot(job.work_dir) == work_before
    assert s["manifest"] is None


def test_mode_off_does_nothing(tmp_path: Path) -> None:
    out = fmriprep_out(tmp_path)
    before = snapshot(out)
    s = run_cleanup(make_job(tmp_path), fmriprep_rules(), mode="off")
    assert s["status"] == "skipped" and s["mode"] == "off"
    assert snapshot(out) == before
    with pytest.raises(UsageError):
        run_cleanup(make_job(tmp_path), fmriprep_rules(), mode="yes")


# --- protected set, links, scope ----------------------------------------------------------------


def test_protected_set_survives_delete_everything_rules(tmp_path: Path) -> None:
    out = fmriprep_out(tmp_path)
    job = make_job(tmp_path)
    sub = out / "sub-01"
    (sub / "sub-01_footprint.json").write_text("{}")
    (sub / "sub-01_footprint.html").write_text("<html/>")
    (sub / "dataset_description.json").write_text("{}")
    extra = sub / "written-by-app.txt"
    extra.write_text("mine")
    s = run_cleanup(job, {"delete": ["**"]}, mode="delete", user_delete=["*"], protected=[extra])
    left = snapshot(out)
    for rel in (
        "sub-01/sub-01_footprint.json",
        "sub-01/sub-01_footprint.html",
        "sub-01/dataset_description.json",
        "sub-01/written-by-app.txt",
        "dataset_description.json",
        ".bidsignore",
        "logs/CITATION.md",
    ):
        assert rel in left, rel
    owned = [k for k in left if k.startswith("sub-01/")]
    assert sorted(owned) == sorted(
        [
            "sub-01/sub-01_footprint.json",
            "sub-01/sub-01_footprint.html",
            "sub-01/dataset_description.json",
            "sub-01/written-by-app.txt",
            "sub-01/sub-01_cleanup.tsv",
        ]
    )
    assert s["files_protected"] == 4
    rows = {r["path"]: r for r in read_manifest(Path(s["manifest"]))}
    assert rows["sub-01/written-by-app.txt"]["rule"] == "protected:written-by-this-run"


def test_symlinks_are_removed_as_links_and_never_followed(tmp_path: Path) -> None:
    out = fmriprep_out(tmp_path)
    job = make_job(tmp_path)
    outside = tmp_path / "precious"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "data.nii").write_text("do not touch")
    (outside / "file.nii").write_text("do not touch")
    anat = out / "sub-01" / "anat"
    os.symlink(outside / "file.nii", anat / "sub-01_link-to-file.nii")  # absolute, file
    os.symlink(outside, anat / "linkdir")  # a link to a folder: never walked into
    os.symlink("../../../../precious/deep", anat / "rel-linkdir")  # relative, escaping
    os.symlink("nowhere", anat / "dangling")
    before_outside = snapshot(outside)
    s = run_cleanup(job, fmriprep_rules(), mode="delete")
    assert snapshot(outside) == before_outside
    for name in ("sub-01_link-to-file.nii", "linkdir", "rel-linkdir", "dangling"):
        assert not os.path.lexists(anat / name), name
    rows = {r["path"]: r for r in read_manifest(Path(s["manifest"]))}
    assert rows["sub-01/anat/linkdir"]["kind"] == "symlink"
    assert not any(p.startswith("sub-01/anat/linkdir/") for p in rows)
    assert s["errors"] == []


def test_subject_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out" / "fastsurfer"
    make_dataset_files(out, "FastSurfer")
    elsewhere = make_freesurfer_subject(tmp_path / "elsewhere", "sub-01")
    os.symlink(elsewhere, out / "sub-01")
    before = snapshot(elsewhere)
    s = run_cleanup(make_job(tmp_path, "fastsurfer"), default_rules("fastsurfer"), mode="delete")
    assert s["status"] == "skipped" and "link" in s["reason"]
    assert snapshot(elsewhere) == before


def test_kept_link_keeps_its_target(tmp_path: Path) -> None:
    out = fmriprep_out(tmp_path)
    anat = out / "sub-01" / "anat"
    os.symlink("sub-01_label-GM_probseg.nii.gz", anat / "sub-01_desc-preproc_GM.nii.gz")
    run_cleanup(make_job(tmp_path), fmriprep_rules(), mode="delete")
    assert (anat / "sub-01_desc-preproc_GM.nii.gz").exists()  # link not left dangling
    assert (anat / "sub-01_label-GM_probseg.nii.gz").exists()


def test_two_participants_sharing_an_output_folder(tmp_path: Path) -> None:
    out = fmriprep_out(tmp_path, labels=("01", "02", "010"))
    before = snapshot(out)
    s = run_cleanup(
        make_job(tmp_path, label="01"), fmriprep_rules(), mode="delete", user_delete=["**"]
    )
    after = snapshot(out)
    others = {
        k: v
        for k, v in before.items()
        if not k.startswith(("sub-01/", "sub-01.", "sourcedata/freesurfer/sub-01/"))
    }
    assert {k: after.get(k) for k in others} == others  # sub-02, sub-010 and shared: intact
    assert any(k.startswith("sub-02/") for k in others) and any(
        k.startswith("sub-010/") for k in others
    )
    assert s["files_removed"] > 0
    # and the other participant's cleanup does not touch what is left of sub-01
    left01 = {k: v for k, v in after.items() if k.startswith("sub-01")}
    run_cleanup(make_job(tmp_path, label="02"), fmriprep_rules(), mode="delete")
    assert {k: v for k, v in snapshot(out).items() if k.startswith("sub-01")} == left01


def test_session_cleanup_touches_only_that_session(tmp_path: Path) -> None:
    out = tmp_path / "out" / "fmriprep"
    make_fmriprep_participant(out, "01", session="A")
    make_fmriprep_participant(out, "01", session="B")
    before = snapshot(out)
    s = run_cleanup(make_job(tmp_path, session="A"), fmriprep_rules(), mode="delete")
    after = snapshot(out)
    assert s["manifest"].endswith("sub-01/ses-A/sub-01_ses-A_cleanup.tsv")
    ses_b = {k: v for k, v in before.items() if "ses-B" in k}
    assert {k: after.get(k) for k in ses_b} == ses_b
    assert "sub-01/ses-A/func/sub-01_ses-A_task-rest_desc-coreg_boldref.nii.gz" not in after
    assert "sourcedata/freesurfer/sub-01_ses-A/mri/T1.mgz" not in after


def test_user_globs_override_the_defaults(tmp_path: Path) -> None:
    out = fmriprep_out(tmp_path)
    s = run_cleanup(
        make_job(tmp_path),
        fmriprep_rules(),
        mode="delete",
        user_keep=["*_desc-aseg_dseg*", "sub-01/figures/*.svg"],
        user_delete=["*desc-preproc_bold*", "*.svg", "*.html"],
    )
    anat, func = out / "sub-01" / "anat", out / "sub-01" / "func"
    assert (anat / "sub-01_desc-aseg_dseg.nii.gz").exists()  # user keep over pipeline delete
    assert not list(func.glob("*desc-preproc_bold*"))  # user delete over pipeline keep
    assert (out / "sub-01" / "figures" / "sub-01_dseg.svg").exists()  # user keep over user delete
    assert not (out / "sub-01" / "figures" / "sub-01_desc-summary_T1w.html").exists()
    assert (out / "sub-01" / "sub-01_cleanup.tsv").exists()  # protected beats user delete
    assert s["rules"]["user-keep"] == ["*_desc-aseg_dseg*", "sub-01/figures/*.svg"]
    with pytest.raises(UsageError):
        run_cleanup(make_job(tmp_path), fmriprep_rules(), mode="delete", user_delete=["../x"])


def test_paths_with_odd_characters(tmp_path: Path) -> None:
    out = fmriprep_out(tmp_path)
    func = out / "sub-01" / "func"
    odd = [
        "tab\there.nii",
        "new\nline.nii",
        "space name [1].nii",
        "ünïcødé_desc-preproc.nii",
        "star*q?.nii",
        "-leading-dash.nii",
        "quote\"'.nii",
        "back\\slash.nii",
    ]
    for name in odd:
        (func / name).write_bytes(b"12345")
    weird_dir = func / "dir with\ttab"
    weird_dir.mkdir()
    (weird_dir / "x.nii").write_bytes(b"1")
    s = run_cleanup(make_job(tmp_path), fmriprep_rules(), mode="delete")
    assert (func / "ünïcødé_desc-preproc.nii").exists()
    assert [n for n in odd if (func / n).exists()] == ["ünïcødé_desc-preproc.nii"]
    assert not weird_dir.exists()
    rows = {r["path"] for r in read_manifest(Path(s["manifest"]))}
    assert "sub-01/func/new\nline.nii" in rows and "sub-01/func/dir with\ttab/x.nii" in rows


def test_work_dir_shared_or_dangerous_is_kept(tmp_path: Path) -> None:
    fmriprep_out(tmp_path)
    shared = tmp_path / "work"
    make_work_dir(shared, "01")
    s = run_cleanup(make_job(tmp_path, work=shared), fmriprep_rules(), mode="delete")
    assert shared.exists() and s["work_dir_removed"] is False
    assert "may be shared" in s["work_dir_reason"]
    # the output folder's parent as work dir: refused even when declared owned
    s = run_cleanup(
        make_job(tmp_path, work=tmp_path / "out"),
        fmriprep_rules(),
        mode="delete",
        work_dir_owned=True,
    )
    assert (tmp_path / "out" / "fmriprep" / "dataset_description.json").exists()
    assert "is or contains" in s["work_dir_reason"]
    # declared owned and safe: removed
    s = run_cleanup(
        make_job(tmp_path, work=shared), fmriprep_rules(), mode="delete", work_dir_owned=True
    )
    assert not shared.exists() and s["work_dir_removed"] is True


def test_defaults_come_from_the_pipeline_name_when_the_adapter_has_none(tmp_path: Path) -> None:
    out = tmp_path / "out" / "freesurfer"
    make_dataset_files(out, "FreeSurfer")
    make_freesurfer_subject(out, "sub-01")
    s = run_cleanup(make_job(tmp_path, "freesurfer"), {}, mode="delete")
    assert s["rules_source"] == "default:freesurfer"
    assert not (out / "sub-01" / "mri" / "T1.mgz").exists()
    assert (out / "sub-01" / "stats" / "aseg.stats").exists()
    assert len(FS_SUBJECT_FILES) + 2 == s["files_before"]  # plus the two pial links


# --- trees made by the pipeline stand-ins ------------------------------------------------------


@pytest.mark.skipif(not (STANDINS / "run_fastsurfer.sh").exists(), reason="no stand-in")
def test_fastsurfer_standin_tree(tmp_path: Path) -> None:
    t1 = tmp_path / "T1w.nii.gz"
    t1.write_bytes(b"\x1f\x8b")
    lic = tmp_path / "license.txt"
    lic.write_text("x")
    sd = tmp_path / "out" / "fastsurfer"
    sd.mkdir(parents=True)
    env = {
        **os.environ,
        "STANDIN_CPU_SECONDS": "0",
        "STANDIN_EUID": "1000",
        "PATH": f"{STANDINS / 'bin'}:{os.environ['PATH']}",
    }
    subprocess.run(
        [
            sys.executable,
            str(STANDINS / "run_fastsurfer.sh"),
            "--t1",
            str(t1),
            "--sid",
            "sub-01",
            "--sd",
            str(sd),
            "--fs_license",
            str(lic),
        ],
        check=True,
        env=env,
        timeout=120,
    )
    assert (sd / "sub-01" / "mri" / "orig.mgz").exists()
    s = run_cleanup(make_job(tmp_path, "fastsurfer"), default_rules("fastsurfer"), mode="delete")
    subj = sd / "sub-01"
    for rel in ("mri/orig.mgz", "mri/orig_nu.mgz", "mri/nu.mgz", "mri/T1.mgz", "mri/mask.mgz"):
        assert not (subj / rel).exists(), rel
    for rel in (
        "mri/aparc.DKTatlas+aseg.deep.mgz",
        "stats/aseg+DKT.stats",
        "surf/lh.thickness",
        "surf/rh.pial",
        "scripts/recon-all.log",
        "mri/aseg.mgz",
    ):
        assert (subj / rel).exists(), rel
    assert s["files_removed"] == 5


@pytest.mark.skipif(not (STANDINS / "fmriprep").exists(), reason="no stand-in")
def test_fmriprep_standin_tree_two_participants(tmp_path: Path, synthetic_bids: Path) -> None:
    lic = tmp_path / "license.txt"
    lic.write_text("x")
    out = tmp_path / "out" / "fmriprep"
    env = {
        **os.environ,
        "STANDIN_CPU_SECONDS": "0",
        "PATH": f"{STANDINS / 'bin'}:{STANDINS}:{os.environ['PATH']}",
    }
    for label in ("01", "02"):
        argv = [sys.executable, str(STANDINS / "fmriprep"), str(synthetic_bids), str(out)]
        argv += ["participant", "--participant-label", label, "--fs-license-file", str(lic)]
        argv += ["-w", str(tmp_path / "work" / f"sub-{label}")]
        subprocess.run(argv, check=True, env=env, timeout=120)
    before = snapshot(out)
    job = make_job(tmp_path)
    job.bids_dir = synthetic_bids
    s = run_cleanup(job, fmriprep_rules(), mode="delete", pipeline="fmriprep")
    after = snapshot(out)
    assert s["status"] == "done" and s["errors"] == []
    anat = "sub-01/anat/sub-01_"
    for suffix in ("desc-preproc_T1w.nii.gz", "desc-brain_mask.nii.gz", "desc-preproc_T1w.json"):
        assert anat + suffix in after, suffix
    for suffix in ("dseg.nii.gz", "label-GM_probseg.nii.gz", "hemi-L_pial.surf.gii"):
        assert anat + suffix in before and anat + suffix not in after, suffix
    assert any(k.startswith("sub-01/func/") and "desc-confounds" in k for k in after)
    assert "sub-01.html" in after and "logs/CITATION.md" in after
    assert {k: v for k, v in after.items() if "sub-02" in k} == {
        k: v for k, v in before.items() if "sub-02" in k
    }
    assert not (tmp_path / "work" / "sub-01").exists() and (tmp_path / "work" / "sub-02").exists()
    fs_before = [k for k in before if k.startswith("sourcedata/freesurfer/sub-01/")]
    assert fs_before and any(k.startswith("sourcedata/freesurfer/sub-01/stats/") for k in after)
