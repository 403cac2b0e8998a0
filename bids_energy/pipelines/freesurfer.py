"""FreeSurfer recon-all adapter: the whole stream or one of its three stages.

``autorecon1``/``2``/``3`` let a footprint be taken per stage; stages 2 and 3 continue a
subject made by the stage before, in place, so they need no T1w but an existing subject.
"""

from __future__ import annotations

import re
from pathlib import Path

from bids_energy.cleanup import rules as cleanup_rules_data
from bids_energy.errors import ParticipantSkipped
from bids_energy.pipelines.base import (
    Job,
    Option,
    Pipeline,
    Variant,
    find_existing_subject,
    parse_version_text,
    select_t1w,
)
from bids_energy.pipelines.variants import add_warnings

# What a stage needs from the stage before it (relative to the subject folder).
STAGE_NEEDS = {"autorecon2": "mri/brainmask.mgz", "autorecon3": "surf/lh.white"}
STAGE_FLAGS = ("-all", "-autorecon1", "-autorecon2", "-autorecon3", "-autorecon-all")

_V = Variant


def _stage(n: int, what: str) -> Variant:
    return _V(
        f"autorecon{n}",
        what,
        remove_options=("-all",),
        add_flags=(f"-autorecon{n}",),
        group="stage",
    )


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        _V("baseline", "the whole recon-all stream (-all)"),
        _V("parallel", "run hemispheres in parallel (-parallel)", add_flags=("-parallel",)),
        _V(
            "openmp-N",
            "use {n} OpenMP threads (-openmp {n})",
            set_options={"-openmp": ("{n}",)},
            group="openmp",
            parametric=True,
        ),
        _stage(1, "stage 1 only: motion correction, intensity normalisation, skull strip"),
        _stage(2, "stage 2 only: subcortical segmentation, white surface (needs stage 1)"),
        _stage(3, "stage 3 only: spherical registration, parcellation, stats (needs stage 2)"),
    )
}

ALIASES = {"-s": "-subjid", "-subject": "-subjid", "-threads": "-openmp"}
EXCLUSIVE = (frozenset(STAGE_FLAGS),)


def parse_freesurfer_version(text: str) -> str | None:
    """``freesurfer-linux-ubuntu22_x86_64-7.4.1-20230614-7eb8460`` -> ``7.4.1``."""
    m = re.search(r"[-v](\d+\.\d+\.\d+)(?:-|$|\s)", text or "")
    return m.group(1) if m else parse_version_text(text)


class FreeSurferPipeline(Pipeline):
    name = "freesurfer"
    description = "FreeSurfer recon-all: cortical reconstruction and volumetric segmentation"
    executable_names = ("recon-all",)
    variants = VARIANTS
    default_variants = ("baseline",)
    thread_option = "-openmp"
    option_aliases = ALIASES
    exclusive_options = EXCLUSIVE
    repeat_options = ("-i",)
    needs_license = True
    cleanup_rules = cleanup_rules_data.FREESURFER  # one source of truth: bids_energy/cleanup/rules.py
    step_map = (
        ("mri_convert", "motion correction and conform"),
        ("mri_robust_template", "motion correction and conform"),
        ("talairach*", "talairach registration"),
        ("mri_nu_correct*", "intensity normalisation"),
        ("mri_normalize", "intensity normalisation"),
        ("mri_watershed", "skull strip"),
        ("mri_em_register", "subcortical segmentation"),
        ("mri_ca_*", "subcortical segmentation"),
        ("mri_segment", "white matter segmentation"),
        ("mri_fill", "white matter segmentation"),
        ("mri_tessellate", "surface reconstruction"),
        ("mris_fix_topology", "surface reconstruction"),
        ("mris_make_surfaces", "surface reconstruction"),
        ("mris_place_surface", "surface reconstruction"),
        ("mris_inflate", "surface reconstruction"),
        ("mris_sphere", "spherical registration"),
        ("mris_register", "spherical registration"),
        ("mris_ca_label", "parcellation"),
        ("mris_anatomical_stats", "stats"),
        ("mri_segstats", "stats"),
        ("mri_*", "surface reconstruction"),
        ("mris_*", "surface reconstruction"),
    )

    @staticmethod
    def subject_id(job: Job) -> str:
        return job.entity_prefix

    def parse_version(self, text: str) -> str | None:
        return parse_freesurfer_version(text)

    def pipeline_dir_name(self, variants) -> str:
        """Stages share one folder (``freesurfer-autorecon``) so stage 2 finds stage 1."""
        names = ["autorecon" if v in STAGE_NEEDS or v == "autorecon1" else v for v in variants]
        return super().pipeline_dir_name(list(dict.fromkeys(names)))

    def inputs(self, job: Job, layout) -> dict:
        sid = self.subject_id(job)
        stage = next((v for v in job.variants if v in STAGE_NEEDS), None)
        if stage:
            needed = STAGE_NEEDS[stage]
            sd = find_existing_subject(job.pipeline_dir, job.output_root, self.name, sid, needed)
            if sd is None:
                raise ParticipantSkipped(
                    f"{stage} continues an existing subject, but no {sid}/{needed} was found "
                    f"under {job.output_root}/{self.name}*; run the stage before it first"
                )
            if sd != job.pipeline_dir:
                add_warnings(job.warnings, [f"{stage} continues {sd / sid} in place"])
            return {"subjects_dir": str(sd), "subject_id": sid}
        files, warnings = select_t1w(layout, job.participant, job.session, all_runs=True)
        add_warnings(job.warnings, warnings)
        if (job.pipeline_dir / sid / "mri" / "orig" / "001.mgz").exists():
            raise ParticipantSkipped(
                f"{job.pipeline_dir / sid} already holds a recon-all subject; recon-all refuses "
                "new input (-i) for it: remove the folder or use another output directory"
            )
        return {
            "t1w": [str(f.resolve()) for f in files],
            "subjects_dir": str(job.pipeline_dir),
            "subject_id": sid,
        }

    def baseline_options(self, job: Job) -> list[Option]:
        if "subjects_dir" not in job.inputs:
            raise RuntimeError("FreeSurferPipeline.inputs() must run before build_command()")
        base: list[Option] = [("-subjid", (job.inputs["subject_id"],))]
        if job.inputs.get("t1w"):
            base.append(("-i", tuple(job.inputs["t1w"])))
        base += [("-sd", (job.inputs["subjects_dir"],)), ("-all", ())]
        if job.nthreads:
            base.append(("-openmp", (str(job.nthreads),)))
        return base

    def environment(self, job: Job) -> dict[str, str]:
        env = {"SUBJECTS_DIR": job.inputs.get("subjects_dir", str(job.pipeline_dir))}
        if job.license_file:
            env["FS_LICENSE"] = str(job.license_file)
        return env

    def subject_path(self, job: Job) -> Path:
        return Path(job.inputs.get("subjects_dir", job.pipeline_dir)) / self.subject_id(job)
