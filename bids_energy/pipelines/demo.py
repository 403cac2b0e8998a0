"""`demo`: a real anatomical workflow with ANTs on each T1w, run as a measured child process.

N4, registration to the MNI152 2009a template that nilearn bundles, Atropos tissue
segmentation, template-space outputs and a quality file (see ``demo_worker``). Its variants
follow fMRIPrep's own cost knobs. It needs the ``demo`` extra (antspyx, nilearn); without it
the run stops before anything is measured, with the install command in the message.
"""

from __future__ import annotations

import sys

from bids_energy import __version__
from bids_energy.bids import find_t1w
from bids_energy.cleanup import rules as cleanup_rules_data
from bids_energy.pipelines.base import Job, Pipeline, Variant


class DemoPipeline(Pipeline):
    name = "demo"
    description = ("N4, registration to MNI152NLin2009aSym, Atropos segmentation of the T1w "
                   "(ANTsPy; template from nilearn), with a quality score")
    variants = {
        "baseline": Variant("baseline", "affine + SyN at the T1w's resolution (SyN 40x20x0)"),
        "sloppy": Variant(
            "sloppy", "as fMRIPrep --sloppy: a template 1.5x coarser, half the SyN iterations",
            set_options={"--reg-res-scale": ("1.5",), "--syn-iterations": ("20x10x0",)},
            group="registration"),
        "affine-only": Variant(
            "affine-only", "no nonlinear (SyN) stage: cheaper, leaves the local anatomy unaligned",
            set_options={"--transform": ("affine",)}, group="registration"),
    }
    cleanup_rules = cleanup_rules_data.DEMO  # one source of truth: bids_energy/cleanup/rules.py
    step_map = (("*demo_worker*", "anatomical workflow"),)

    def find_executable(self, override: str | None = None) -> str | None:
        if override is None:
            from bids_energy.template import require_demo_extra

            require_demo_extra()  # exit 1 naming pip install 'bids-energy[demo]'
        return override or sys.executable

    def version(self, executable: str) -> str | None:
        return __version__

    def inputs(self, job: Job, layout) -> dict:
        return {"t1w": find_t1w(layout, job.participant, job.session)}

    def environment(self, job: Job) -> dict[str, str]:
        """Threads from --nthreads (default 1), for ITK (ANTs) and BLAS alike. An unpinned
        BLAS spins its idle threads when a neighbour holds a core, which would bill the
        neighbour's contention as our CPU."""
        n = str(job.nthreads or 1)
        names = ("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "OMP_NUM_THREADS",
                 "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        return {v: n for v in names}

    def build_command(self, job: Job) -> list[str]:
        argv = [
            job.executable or sys.executable, "-m", "bids_energy.pipelines.demo_worker",
            "--t1w", str(job.inputs["t1w"]),
            "--out", str(job.subject_dir),
            "--prefix", job.entity_prefix,
        ]
        for v in job.variants:
            for opt, values in self.variants[v].set_options.items():
                argv += [opt, *values]
        return argv + list(job.extra_args)
