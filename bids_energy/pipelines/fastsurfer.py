"""FastSurfer adapter: deep-learning segmentation (GPU or CPU) plus surface reconstruction.

The variants separate what costs energy where: ``seg-only`` is the network (GPU-friendly),
``surf-only`` the FreeSurfer-derived surface stream (CPU only), ``gpu``/``cpu`` pin the
device so the footprint says which one did the work.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from bids_energy.cleanup import rules as cleanup_rules_data
from bids_energy.errors import ParticipantSkipped
from bids_energy.pipelines.base import (
    Job,
    Option,
    Pipeline,
    Variant,
    find_existing_subject,
    select_t1w,
)
from bids_energy.pipelines.variants import add_warnings

SEGMENTATION = "mri/aparc.DKTatlas+aseg.deep.mgz"

_V = Variant
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        _V("baseline", "FastSurfer defaults: segmentation + surfaces, device chosen by FastSurfer"),
        _V(
            "cpu",
            "run the segmentation network on the CPU",
            set_options={"--device": ("cpu",), "--viewagg_device": ("cpu",)},
            group="device",
            device="cpu",
        ),
        _V(
            "gpu",
            "run the segmentation network on the GPU (CUDA)",
            set_options={"--device": ("cuda",)},
            group="device",
            device="gpu",
        ),
        _V(
            "seg-only",
            "segmentation only (no surfaces; no FreeSurfer license needed)",
            add_flags=("--seg_only",),
            group="stage",
            needs_license=False,
        ),
        _V(
            "surf-only",
            "surfaces only, continuing an earlier seg-only run of the participant",
            add_flags=("--surf_only",),
            group="stage",
        ),
        _V(
            "threads-N",
            "use {n} threads (--threads {n})",
            set_options={"--threads": ("{n}",)},
            group="threads",
            parametric=True,
        ),
        _V("parallel", "process both hemispheres in parallel", add_flags=("--parallel",)),
    )
}

EXCLUSIVE = (frozenset({"--seg_only", "--surf_only"}),)


def gpu_visible(proc_root: str | os.PathLike = "/proc", env: dict | None = None) -> bool:
    """Whether FastSurfer's ``auto`` device would find a GPU: an NVIDIA driver listing a GPU
    and CUDA_VISIBLE_DEVICES not hiding it. Used only to report the device honestly."""
    env = os.environ if env is None else env
    if env.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    gpus = Path(proc_root) / "driver" / "nvidia" / "gpus"
    return gpus.is_dir() and any(gpus.iterdir())


class FastSurferPipeline(Pipeline):
    name = "fastsurfer"
    description = "FastSurfer: deep-learning whole-brain segmentation and cortical surfaces"
    executable_names = ("run_fastsurfer.sh",)
    variants = VARIANTS
    default_variants = ("baseline",)
    thread_option = "--threads"
    exclusive_options = EXCLUSIVE
    needs_license = True
    cleanup_rules = cleanup_rules_data.FASTSURFER  # one source of truth: bids_energy/cleanup/rules.py
    step_map = (
        ("run_prediction.py", "segmentation (network)"),
        ("python*", "segmentation (network)"),
        ("recon-surf.sh", "surface reconstruction"),
        ("mri_*", "surface reconstruction"),
        ("mris_*", "surface reconstruction"),
        ("N4BiasFieldCorrection", "bias field correction"),
    )

    def __init__(self, geteuid: Callable[[], int] | None = None, proc_root: str = "/proc"):
        # uid and /proc are injectable so tests cover root and GPU detection without either
        self._geteuid = geteuid or os.geteuid
        self._proc_root = proc_root

    @staticmethod
    def subject_id(job: Job) -> str:
        return job.entity_prefix

    def inputs(self, job: Job, layout) -> dict:
        sid = self.subject_id(job)
        if "surf-only" in job.variants:
            sd = find_existing_subject(
                job.pipeline_dir, job.output_root, self.name, sid, SEGMENTATION
            )
            if sd is None:
                raise ParticipantSkipped(
                    f"surf-only continues an earlier segmentation, but no {sid}/{SEGMENTATION} "
                    f"was found under {job.output_root}/{self.name}*; run --variant seg-only first"
                )
            if sd != job.pipeline_dir:
                add_warnings(
                    job.warnings,
                    [f"surf-only continues {sd / sid} in place; its surfaces are written there"],
                )
            return {"subjects_dir": str(sd), "subject_id": sid}
        files, warnings = select_t1w(layout, job.participant, job.session)
        add_warnings(job.warnings, warnings)
        return {
            "t1w": str(files[0].resolve()),
            "subjects_dir": str(job.pipeline_dir),
            "subject_id": sid,
        }

    def baseline_options(self, job: Job) -> list[Option]:
        if "subjects_dir" not in job.inputs:
            raise RuntimeError("FastSurferPipeline.inputs() must run before build_command()")
        base: list[Option] = []
        if "t1w" in job.inputs:
            base.append(("--t1", (job.inputs["t1w"],)))
        base += [("--sid", (job.inputs["subject_id"],)), ("--sd", (job.inputs["subjects_dir"],))]
        if job.license_file and self.needs_license_for(job.variants):
            base.append(("--fs_license", (str(job.license_file),)))
        if job.nthreads:
            base.append(("--threads", (str(job.nthreads),)))
        return base

    def finish_options(self, job: Job, options: list[Option]) -> list[Option]:
        """FastSurfer refuses to run as root without --allow_root (containers run as root)."""
        if self._geteuid() == 0 and "--allow_root" not in dict(options):
            options.append(("--allow_root", ()))
        return options

    def environment(self, job: Job) -> dict[str, str]:
        env = {"SUBJECTS_DIR": job.inputs.get("subjects_dir", str(job.pipeline_dir))}
        if job.license_file:
            env["FS_LICENSE"] = str(job.license_file)
        return env

    def device(self, variants: Sequence[str]) -> str:
        """Pinned by cpu/gpu; otherwise what FastSurfer's ``auto`` would pick here."""
        for n in variants:
            v = self.get_variant(n)
            if v is not None and v.device:
                return v.device
        if "surf-only" in variants:
            return "cpu"
        return "gpu" if gpu_visible(self._proc_root) else "cpu"
