"""fMRIPrep adapter: the ten variants of the carbon study as data.

The baseline is the study's P0 command (seed ``002_*``); each variant changes one thing,
so a footprint per variant answers "what does this choice cost". Threads and memory come
from ``--nthreads``/``--mem-gb`` when given, else the study's values.
"""

from __future__ import annotations

from pathlib import Path

from bids_energy.bids import t1w_files
from bids_energy.cleanup import rules as cleanup_rules_data
from bids_energy.errors import ParticipantSkipped
from bids_energy.labels import describe
from bids_energy.pipelines.base import Job, Pipeline, Variant, version_tuple
from bids_energy.pipelines.variants import add_warnings

STUDY_NTHREADS = 5
STUDY_OMP_NTHREADS = 1
STUDY_MEM_MB = 30000
STUDY_SPACE = "MNI152NLin6Asym:res-2"

_V = Variant
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        _V(
            "baseline", "carbon-study P0: full anatomical + functional preprocessing with recon-all"
        ),
        _V(
            "fs-no-reconall",
            "P1: skip FreeSurfer surface reconstruction (-48% emissions in the study)",
            add_flags=("--fs-no-reconall",),
            conflicts=("fsaverage",),
        ),
        _V("sloppy", "P2: low-quality, fast settings (testing only)", add_flags=("--sloppy",)),
        _V(
            "low-mem",
            "P3: trade disk for memory when writing BOLD series",
            add_flags=("--low-mem",),
        ),
        _V(
            "fsaverage",
            "P4: also resample BOLD onto the fsaverage surface",
            append_options={"--output-spaces": ("fsaverage",)},
            conflicts=("fs-no-reconall",),
        ),
        _V(
            "aroma",
            "P5: ICA-AROMA denoising (--use-aroma; a no-op in 23.1-24.x, removed in 25.0)",
            add_flags=("--use-aroma",),
            max_version="25.0",
            refused_note="--use-aroma was removed in fMRIPrep 25.0; run fMRIPost-AROMA "
            "on the outputs instead.",
            version_warnings=(
                (
                    "23.1",
                    "25.0",
                    "variant 'aroma': fMRIPrep 23.1-24.x accepts --use-aroma but ignores it "
                    "(no AROMA outputs); the run measures the baseline",
                ),
            ),
        ),
        _V(
            "res-1",
            "P6: output space at 1 mm instead of 2 mm",
            set_options={"--output-spaces": ("MNI152NLin6Asym:res-1",)},
        ),
        _V(
            "syn-sdc",
            "P7: fieldmap-less distortion correction (--use-syn-sdc error)",
            set_options={"--use-syn-sdc": ("error",)},
            min_version="21.0",
            refused_note="before 21.0 --use-syn-sdc took no value.",
        ),
        _V(
            "nthreads-16",
            "P8: 16 threads",
            set_options={"--nthreads": ("16",)},
            group="nthreads",
        ),
        _V("nthreads-1", "P9: one thread", set_options={"--nthreads": ("1",)}, group="nthreads"),
    )
}

# Spellings fMRIPrep accepts for one option; extra arguments are compared by canonical name.
ALIASES = {
    "--n_cpus": "--nthreads",
    "--n-cpus": "--nthreads",
    "--omp_nthreads": "--omp-nthreads",
    "--mem": "--mem-mb",
    "--mem_mb": "--mem-mb",
    "--participant_label": "--participant-label",
    "--work-dir": "-w",
    "--output_spaces": "--output-spaces",
    "--fs-license-file": "--fs-license-file",
}


class FmriprepPipeline(Pipeline):
    name = "fmriprep"
    description = "fMRIPrep: anatomical + functional MRI preprocessing (nipreps)"
    executable_names = ("fmriprep",)
    variants = VARIANTS
    default_variants = ("baseline",)
    thread_option = "--nthreads"
    option_aliases = ALIASES
    needs_license = True  # fMRIPrep checks for it even with --fs-no-reconall
    # fMRIPrep processes all of a participant's sessions in one run (one anatomical template);
    # the CLI then makes one job per participant unless --session-label is given.
    per_session = False
    cleanup_rules = cleanup_rules_data.FMRIPREP  # one source of truth: bids_energy/cleanup/rules.py
    step_map = (
        ("antsBrainExtraction.sh", "brain extraction"),
        ("antsAtroposN4.sh", "brain extraction"),
        ("N4BiasFieldCorrection", "bias field correction"),
        ("antsRegistration", "registration"),
        ("antsAI", "registration"),
        ("bbregister", "registration"),
        ("mri_coreg", "registration"),
        ("recon-all", "surface reconstruction"),
        ("mri_*", "surface reconstruction"),
        ("mris_*", "surface reconstruction"),
        ("mcflirt", "motion correction"),
        ("3dvolreg", "motion correction"),
        ("3dTshift", "slice timing correction"),
        ("3dQwarp", "distortion correction"),
        ("sdcflows*", "distortion correction"),
        ("fsl_prepare_fieldmap", "distortion correction"),
        ("antsApplyTransforms", "resampling"),
        ("fast", "tissue segmentation"),
        ("ICA_AROMA*", "ICA-AROMA"),
        ("melodic", "ICA-AROMA"),
    )

    def inputs(self, job: Job, layout) -> dict:
        """fMRIPrep reads the whole dataset itself; we only check the participant has a T1w."""
        t1w = t1w_files(layout, job.participant, job.session, return_type="filename")
        if not t1w:
            where = describe(job.participant, job.session)
            raise ParticipantSkipped(f"{where} has no T1w image; fMRIPrep needs one")
        query = dict(subject=job.participant, suffix="bold", extension=[".nii", ".nii.gz"])
        if job.session:
            query["session"] = job.session
        bold = layout.get(return_type="filename", **query)
        return {"bids_dir": str(job.bids_dir), "t1w": sorted(t1w), "bold": sorted(bold)}

    def baseline_options(self, job: Job) -> list[tuple[str, tuple[str, ...]]]:
        nthreads = job.nthreads or STUDY_NTHREADS
        mem_mb = round(job.mem_gb * 1024) if job.mem_gb else STUDY_MEM_MB
        opts: list[tuple[str, tuple[str, ...]]] = [("--participant-label", (job.participant,))]
        if job.session:
            if version_tuple(job.version) >= (24, 1):
                opts.append(("--session-label", (job.session,)))
            else:
                add_warnings(
                    job.warnings,
                    [
                        f"fMRIPrep {job.version or '(unknown version)'} has no --session-label "
                        f"(24.1+): it processes every session of sub-{job.participant}"
                    ],
                )
        if job.license_file:
            opts.append(("--fs-license-file", (str(job.license_file),)))
        opts += [
            ("-w", (str(job.work_dir),)),
            ("--nthreads", (str(nthreads),)),
            ("--omp-nthreads", (str(min(STUDY_OMP_NTHREADS, nthreads)),)),
            ("--mem-mb", (str(mem_mb),)),
            ("--output-spaces", (STUDY_SPACE,)),
            ("--random-seed", ("1234",)),
            ("--skull-strip-fixed-seed", ()),
        ]
        return opts

    def positional_args(self, job: Job) -> list[str]:
        return [str(job.bids_dir), str(job.pipeline_dir), "participant"]

    def environment(self, job: Job) -> dict[str, str]:
        return {"FS_LICENSE": str(job.license_file)} if job.license_file else {}

    def writes_dataset_description(self) -> bool:
        return True

    def freesurfer_dir(self, job: Job) -> Path:
        """Where fMRIPrep puts recon-all's subjects dir (the cleanup engine reads this)."""
        return job.pipeline_dir / "sourcedata" / "freesurfer"
