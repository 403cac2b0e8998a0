"""Small trees laid out like the real pipelines' outputs, for tests and the benchmark.

File names follow fMRIPrep 23-24 derivatives and FreeSurfer 7 / FastSurfer 2 subject folders
(fmriprep.org "Outputs of fMRIPrep", FreeSurfer's recon-all table); contents are a few bytes, since only names and sizes matter here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

FS_SUBJECT_FILES: tuple[str, ...] = (
    "mri/orig/001.mgz",
    "mri/orig.mgz",
    "mri/orig_nu.mgz",
    "mri/rawavg.mgz",
    "mri/nu.mgz",
    "mri/T1.mgz",
    "mri/brainmask.auto.mgz",
    "mri/brainmask.mgz",
    "mri/norm.mgz",
    "mri/aseg.mgz",
    "mri/aseg.auto_noCCseg.mgz",
    "mri/aparc+aseg.mgz",
    "mri/aparc.DKTatlas+aseg.deep.mgz",
    "mri/wm.mgz",
    "mri/filled.mgz",
    "mri/transforms/talairach.xfm",
    "surf/lh.white",
    "surf/rh.white",
    "surf/lh.pial.T1",
    "surf/rh.pial.T1",
    "surf/lh.thickness",
    "surf/rh.thickness",
    "surf/lh.area",
    "surf/rh.area",
    "surf/lh.sphere.reg",
    "surf/rh.sphere.reg",
    "surf/lh.orig.nofix",
    "surf/rh.smoothwm.nofix",
    "surf/lh.defect_labels",
    "surf/lh.inflated",
    "stats/aseg.stats",
    "stats/lh.aparc.stats",
    "stats/aseg+DKT.stats",
    "label/lh.cortex.label",
    "scripts/recon-all.log",
    "scripts/recon-all.done",
    "scripts/IsRunning.lh+rh",
    "tmp/scratch.mgz",
    "touch/rusage.mri_nu_correct.mni.dat",
)

# (relative path, kept by the default fmriprep rules?)
FMRIPREP_SUBJECT_FILES: tuple[tuple[str, bool], ...] = (
    ("anat/{p}_desc-preproc_T1w.nii.gz", True),
    ("anat/{p}_desc-preproc_T1w.json", True),
    ("anat/{p}_desc-brain_mask.nii.gz", True),
    ("anat/{p}_desc-aseg_dseg.nii.gz", False),
    ("anat/{p}_label-GM_probseg.nii.gz", False),
    ("anat/{p}_from-T1w_to-MNI152NLin6Asym_mode-image_xfm.h5", False),
    ("anat/{p}_hemi-L_pial.surf.gii", False),
    ("anat/{p}_space-MNI152NLin6Asym_res-2_desc-preproc_T1w.nii.gz", True),
    ("func/{p}_task-rest_desc-confounds_timeseries.tsv", True),
    ("func/{p}_task-rest_space-MNI152NLin6Asym_res-2_desc-preproc_bold.nii.gz", True),
    ("func/{p}_task-rest_space-MNI152NLin6Asym_res-2_boldref.nii.gz", False),
    ("func/{p}_task-rest_desc-coreg_boldref.nii.gz", False),
    ("func/{p}_task-rest_space-fsaverage_hemi-L_bold.func.gii", False),
    ("figures/{p}_desc-summary_T1w.html", True),
    ("figures/{p}_dseg.svg", True),
    ("log/20240101-120000_abcd/fmriprep.toml", True),
)


def _write(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def make_freesurfer_subject(sd: Path, sid: str, size: int = 16) -> Path:
    """A FreeSurfer/FastSurfer subject folder ``sd/sid`` with ``?h.pial`` links as in FS 7."""
    subj = sd / sid
    for rel in FS_SUBJECT_FILES:
        _write(subj / rel, size)
    for h in ("lh", "rh"):
        link = subj / "surf" / f"{h}.pial"
        if not link.is_symlink():
            link.symlink_to(f"{h}.pial.T1")
    return subj


def make_dataset_files(out: Path, name: str = "fMRIPrep") -> None:
    """The dataset-level files every derivatives folder has."""
    out.mkdir(parents=True, exist_ok=True)
    desc = {"Name": name, "BIDSVersion": "1.8.0", "DatasetType": "derivative"}
    (out / "dataset_description.json").write_text(json.dumps(desc))
    (out / ".bidsignore").write_text("*_footprint.json\n*_cleanup.tsv\n")
    _write(out / "logs" / "CITATION.md", 64)
    _write(out / "logs" / "CITATION.bib", 64)
    _write(out / "desc-aparcaseg_dseg.tsv", 32)


def make_fmriprep_participant(
    out: Path, label: str, session: str | None = None, freesurfer: bool = True, size: int = 16
) -> Path:
    """One participant's fMRIPrep outputs in ``out`` (dataset files made if missing)."""
    if not (out / "dataset_description.json").exists():
        make_dataset_files(out)
    prefix = f"sub-{label}_ses-{session}" if session else f"sub-{label}"
    base = out / f"sub-{label}" / (f"ses-{session}" if session else "")
    for tmpl, _ in FMRIPREP_SUBJECT_FILES:
        _write(base / tmpl.format(p=prefix), size)
    _write(out / f"{prefix}.html", size)
    if freesurfer:
        make_freesurfer_subject(out / "sourcedata" / "freesurfer", prefix, size)
        fsavg = out / "sourcedata" / "freesurfer" / "fsaverage"
        _write(fsavg / "surf" / "lh.sphere.reg", size)
    return base


def make_work_dir(work: Path, label: str, n_files: int = 20, size: int = 8) -> Path:
    """A work dir like fMRIPrep's (``fmriprep_wf/single_subject_<label>_wf/...``)."""
    node = work / "fmriprep_24_1_wf" / f"single_subject_{label}_wf"
    for i in range(n_files):
        _write(node / f"node_{i % 5}" / f"result_{i}.pklz", size)
    return work


def make_bulk_participant(out: Path, label: str, n_files: int, files_per_dir: int = 100) -> int:
    """A participant folder of ``n_files`` small files, a tenth of them named like kept ones."""
    base = out / f"sub-{label}"
    made = 0
    d = 0
    while made < n_files:
        folder = base / "func" / f"run-{d:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(min(files_per_dir, n_files - made)):
            kept = (made % 10) == 0
            name = f"sub-{label}_run-{d}_chunk-{k}_{'desc-preproc_bold' if kept else 'boldref'}.nii"
            fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, b"xxxx")
            os.close(fd)
            made += 1
        d += 1
    return made
