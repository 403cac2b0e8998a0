"""Default junk rules per pipeline: pure data, used when an adapter declares none.

Globs are relative to the pipeline's output folder (see ``patterns.py`` for their syntax) and
participant-agnostic: cleanup only ever walks one participant's subtree, so ``sub-*/`` here
means "this participant's folder". Unmatched files are kept; a rule must name what goes.

Sources: the fMRIPrep keep-list is fMRIPrepCleanup's (names containing preproc, brain_mask,
confounds, html, svg or emissions are kept, the rest deleted; github.com/nipreps/fmriprep, "fMRIPrepCleanup" in
its documentation), with
figures and logs also kept. The FreeSurfer/FastSurfer lists keep what a cortical thickness or
volumetric study reads (stats, segmentations, white/pial surfaces, thickness, area, the
sphere registration, logs) and delete volumes and surfaces recon-all only needs on its way.
"""

from __future__ import annotations

from types import MappingProxyType


def _subject_tree(prefix: str) -> dict[str, tuple[str, ...]]:
    """FreeSurfer-layout rules (``$SD/$SID/{mri,surf,...}``) for subject folders at ``prefix``."""
    keep = (
        "stats/",
        "label/",
        "scripts/*.log",
        "scripts/*.done",
        "scripts/*.env",
        "mri/aparc*",
        "mri/aseg*",
        "mri/*.deep.mgz",
        "mri/*.deep.withCC.mgz",
        "mri/wmparc*",
        "mri/brainmask.mgz",
        "mri/norm.mgz",
        "mri/transforms/",
        "surf/?h.white",
        "surf/?h.pial",
        "surf/?h.pial.T1",
        "surf/?h.thickness",
        "surf/?h.area",
        "surf/?h.sphere.reg",
    )
    delete = (
        "mri/orig/",
        "mri/orig.mgz",
        "mri/orig_nu.mgz",
        "mri/rawavg.mgz",
        "mri/nu.mgz",
        "mri/T1.mgz",
        "mri/brainmask.auto.mgz",
        "mri/mask.mgz",
        "mri/tmp/",
        "surf/?h.*.nofix",
        "surf/?h.defect_*",
        "tmp/",
        "trash/",
        "touch/",
    )
    return {
        "keep": tuple(f"{prefix}{g}" for g in keep),
        "delete": tuple(f"{prefix}{g}" for g in delete) + ("*IsRunning*",),
    }


_FS = _subject_tree("sub-*/")
_FMRIPREP_FS = _subject_tree("sourcedata/freesurfer/sub-*/")

FMRIPREP = MappingProxyType(
    {
        "description": "fMRIPrepCleanup keep-list; FreeSurfer subject pruned like freesurfer",
        "keep": (
            "*preproc*",
            "*brain_mask*",
            "*confounds*",
            "*html*",
            "*svg*",
            "*emissions*",
            "/sub-*/figures/",
            "/sub-*/log/",
            *_FMRIPREP_FS["keep"],
        ),
        "delete": (
            "/sub-*/",  # the rest of the participant's derivatives folder (anchored)
            *_FMRIPREP_FS["delete"],
        ),
    }
)

FREESURFER = MappingProxyType(
    {
        "description": "keep stats, segmentations, thickness-study surfaces and logs",
        "keep": _FS["keep"],
        "delete": _FS["delete"],
    }
)

FASTSURFER = MappingProxyType(
    {
        "description": "as freesurfer; FastSurfer's *.deep.mgz segmentations are kept",
        "keep": _FS["keep"],
        "delete": _FS["delete"],
    }
)

DEMO = MappingProxyType(
    {
        "description": "keep every derivative the ANTs workflow writes; it leaves no junk",
        "keep": ("*desc-preproc*", "*desc-brain_mask*", "*dseg*", "*probseg*", "*_xfm.*",
                 "*desc-quality*"),
        "delete": (),
    }
)

# A free-form command's outputs are unknown: only the user's --delete globs remove anything.
COMMAND = MappingProxyType({"description": "no defaults", "keep": (), "delete": ()})

# The work directory is removed as a whole after a successful run (see remove.py), so its
# rule is one glob naming everything in it.
WORK_DIR = MappingProxyType({"description": "work dir removed after success", "delete": ("**",)})

DEFAULTS = MappingProxyType(
    {
        "fmriprep": FMRIPREP,
        "fastsurfer": FASTSURFER,
        "freesurfer": FREESURFER,
        "demo": DEMO,
        "command": COMMAND,
    }
)


def default_rules(pipeline: str | None) -> dict[str, tuple[str, ...]]:
    """The default rules for a pipeline name (``fmriprep``, ``fmriprep-sloppy`` ...); {} if none."""
    if not pipeline:
        return {}
    rules = DEFAULTS.get(pipeline) or DEFAULTS.get(pipeline.split("-", 1)[0])
    if rules is None:
        return {}
    return {k: tuple(v) for k, v in rules.items() if k in ("keep", "delete")}
