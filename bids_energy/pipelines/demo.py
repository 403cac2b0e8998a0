"""`demo`: a small real pipeline (numpy/nibabel on each T1w), run as a measured child process."""

from __future__ import annotations

import sys

from bids_energy import __version__
from bids_energy.bids import find_t1w
from bids_energy.cleanup import rules as cleanup_rules_data
from bids_energy.pipelines.base import Job, Pipeline, Variant


class DemoPipeline(Pipeline):
    name = "demo"
    description = "bias correction, normalisation, smoothing and brain mask of the T1w (numpy)"
    variants = {
        "baseline": Variant("baseline", "4 bias-field iterations, cubic field, 4.7 mm FWHM"),
        "fast": Variant("fast", "1 iteration, linear field: less CPU, rougher correction",
                        set_options={"--iterations": ("1",), "--order": ("1",)}, group="effort"),
        "thorough": Variant("thorough", "8 iterations, quartic field: more CPU",
                            set_options={"--iterations": ("8",), "--order": ("4",)}, group="effort"),
    }
    cleanup_rules = cleanup_rules_data.DEMO  # one source of truth: bids_energy/cleanup/rules.py
    step_map = (("*demo_worker*", "brain extraction"),)

    def find_executable(self, override: str | None = None) -> str | None:
        return override or sys.executable

    def version(self, executable: str) -> str | None:
        return __version__

    def inputs(self, job: Job, layout) -> dict:
        return {"t1w": find_t1w(layout, job.participant, job.session)}

    def environment(self, job: Job) -> dict[str, str]:
        """Threads from --nthreads (default 1). An unpinned BLAS spins its idle threads when
        a neighbour holds a core, which would bill the neighbour's contention as our CPU."""
        n = str(job.nthreads or 1)
        return {v: n for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}

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
