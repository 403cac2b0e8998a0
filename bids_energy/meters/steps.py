"""Energy by step: program names, the program -> step table, and the per-step tally.

A "program" is what a user would recognise in a process list (``antsRegistration``,
``mri_convert``, a python worker's script name); a "step" is the processing stage it
belongs to. Pipelines pass their own (glob, step) table, which wins over the common one.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Interpreters whose own name says nothing: the script they run names the program.
_INTERPRETER = re.compile(
    r"^(python[0-9.]*|pypy[0-9.]*|bash|sh|dash|zsh|ksh|tcsh|csh|perl[0-9.]*|ruby|node|"
    r"Rscript|R|octave(-cli)?|matlab|java|env|nipype.*)$"
)
# Interpreter options that consume the next argument.
_OPT_WITH_ARG = {"-W", "-X", "--check-hash-based-pycs"}
UNKNOWN = "unknown"

COMMON_STEP_MAP: tuple[tuple[str, str], ...] = (
    # bids-energy's own job root (the reaping shim): its start-up is the wrapper's cost
    ("bids_energy.shim", "bids-energy wrapper"),
    # FreeSurfer
    ("recon-all", "surface reconstruction"),
    ("mri_convert", "resampling"),
    ("mri_vol2vol", "resampling"),
    ("mri_synthseg", "segmentation"),
    ("mri_synthstrip", "brain extraction"),
    ("mri_watershed", "brain extraction"),
    ("mri_normalize", "bias correction"),
    ("mri_nu_correct.mni", "bias correction"),
    ("mri_ca_register", "registration"),
    ("mri_em_register", "registration"),
    ("mri_robust_register", "registration"),
    ("mri_ca_label", "segmentation"),
    ("mri_segment*", "segmentation"),
    ("mri_aparc2aseg", "segmentation"),
    ("mri_segstats", "segmentation"),
    ("mri_*", "segmentation"),
    ("mris_*", "surface reconstruction"),
    # FastSurfer
    ("run_prediction.py", "segmentation"),
    ("run_fastsurfer.sh", "fastsurfer"),
    ("recon-surf.sh", "surface reconstruction"),
    # ANTs
    ("antsBrainExtraction.sh", "brain extraction"),
    ("antsRegistration*", "registration"),
    ("antsApplyTransforms", "resampling"),
    ("antsAtroposN4.sh", "segmentation"),
    ("Atropos", "segmentation"),
    ("N4BiasFieldCorrection", "bias correction"),
    # FSL
    ("mcflirt", "motion correction"),
    ("flirt", "registration"),
    ("fnirt", "registration"),
    ("applywarp", "resampling"),
    ("bet", "brain extraction"),
    ("bet2", "brain extraction"),
    ("fast", "segmentation"),
    ("topup", "distortion correction"),
    ("applytopup", "distortion correction"),
    ("melodic", "ica"),
    # AFNI
    ("3dQwarp", "distortion correction"),
    ("3dvolreg", "motion correction"),
    ("3dSkullStrip", "brain extraction"),
    ("3dAutomask", "brain extraction"),
    ("3dTshift", "slice timing correction"),
    ("3dUnifize", "bias correction"),
    ("3dresample", "resampling"),
    ("3d*", "afni"),
    # nipreps
    ("sdcflows*", "distortion correction"),
    ("fmriprep", "fmriprep"),
)


def _script_after_interpreter(args: Sequence[str]) -> str | None:
    """The script or module an interpreter runs, skipping its options (``python -u -m mod``)."""
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-m" and i + 1 < len(args):
            return args[i + 1]
        if a == "-c":
            return None
        if a.startswith("-"):
            i += 2 if a in _OPT_WITH_ARG else 1
            continue
        if "=" in a and not a.startswith("/"):  # env VAR=value cmd
            i += 1
            continue
        return a
    return None


def program_name(comm: str, cmdline: Sequence[str]) -> str:
    """A readable program name for a process.

    argv[0]'s basename (what ``exec -a`` or a symlink shows) unless it is an interpreter, in
    which case the script it runs (recursing through ``env``); comm when cmdline is empty
    (kernel threads, zombies). Shebang scripts run by path keep their own name in comm.
    """
    if not cmdline:
        return comm or UNKNOWN
    argv0 = os.path.basename(cmdline[0]) or comm
    if not _INTERPRETER.match(argv0):
        return argv0
    script = _script_after_interpreter(cmdline[1:])
    if script is None:
        return argv0
    base = os.path.basename(script)
    if _INTERPRETER.match(base):
        return program_name(base, [script, *cmdline[cmdline.index(script) + 1:]])
    return base



def step_for(program: str, step_map: Iterable[tuple[str, str]] = ()) -> str:
    """Pipeline entries first, then the common table; unknown programs keep their own name."""
    for pattern, step in step_map:
        if fnmatch.fnmatchcase(program, pattern):
            return step
    for pattern, step in COMMON_STEP_MAP:
        if fnmatch.fnmatchcase(program, pattern):
            return step
    return program


def split_by_weights(amount: float, weights: dict[str, float]) -> dict[str, float]:
    """Share ``amount`` in proportion to non-negative weights; empty if they sum to zero."""
    total = sum(w for w in weights.values() if w > 0)
    if total <= 0:
        return {}
    return {k: amount * w / total for k, w in weights.items() if w > 0}


@dataclass
class _Step:
    programs: set[str] = field(default_factory=set)
    cpu_s: float = 0.0
    energy_wh: float = 0.0
    gpu_energy_wh: float = 0.0
    first_seen_s: float | None = None
    last_seen_s: float | None = None


@dataclass(frozen=True)
class StepTotals:
    """One step's whole-run CPU and energy (the footprint adds shares and rounds)."""

    step: str
    programs: tuple[str, ...]
    cpu_s: float
    energy_wh: float
    gpu_energy_wh: float
    first_seen_s: float | None
    last_seen_s: float | None


class StepTally:
    """Accumulates CPU and energy per step, interval by interval.

    Energy of an interval is split by that interval's CPU shares (GPU energy by per-process
    GPU shares where NVML gives them). An interval with energy but no step CPU (idle memory,
    waiting on I/O) goes to the step that was last active, so shares still add up to the whole.
    """

    def __init__(self, step_map: Iterable[tuple[str, str]] = ()) -> None:
        self.step_map = tuple(step_map)
        self._steps: dict[str, _Step] = {}
        self._last_active: str | None = None
        self._step_of: dict[str, str] = {}  # program -> step: the glob table is matched once

    def step(self, program: str) -> str:
        """step_for with this tally's table, remembered per program."""
        name = self._step_of.get(program)
        if name is None:
            name = self._step_of[program] = step_for(program, self.step_map)
        return name

    def add_interval(self, t_end_s: float, dt_s: float, cpu_by_program: dict[str, float],
                     energy_wh: float, gpu_energy_wh: float = 0.0,
                     gpu_by_program: dict[str, float] | None = None) -> None:
        cpu_by_step: dict[str, float] = {}
        for prog, cpu in cpu_by_program.items():
            if cpu <= 0:
                continue
            name = self.step(prog)
            st = self._steps.setdefault(name, _Step())
            st.programs.add(prog)
            st.cpu_s += cpu
            if st.first_seen_s is None:
                st.first_seen_s = max(0.0, t_end_s - dt_s)
            st.last_seen_s = t_end_s
            cpu_by_step[name] = cpu_by_step.get(name, 0.0) + cpu
        gpu_by_step: dict[str, float] = {}
        for prog, w in (gpu_by_program or {}).items():
            name = self.step(prog)
            gpu_by_step[name] = gpu_by_step.get(name, 0.0) + w
            self._steps.setdefault(name, _Step()).programs.add(prog)
        if cpu_by_step:
            self._last_active = max(cpu_by_step, key=lambda k: cpu_by_step[k])
        gpu_split = split_by_weights(gpu_energy_wh, gpu_by_step)
        rest = energy_wh - (gpu_energy_wh if gpu_split else 0.0)
        cpu_split = split_by_weights(rest, cpu_by_step)
        if not cpu_split and rest > 0 and self._last_active is not None:
            cpu_split = {self._last_active: rest}
        for name, e in cpu_split.items():
            self._steps[name].energy_wh += e
        for name, e in gpu_split.items():
            self._steps[name].energy_wh += e
            self._steps[name].gpu_energy_wh += e

    def totals(self) -> list[StepTotals]:
        """Steps ordered by first appearance."""
        return [StepTotals(name, tuple(sorted(s.programs)), s.cpu_s, s.energy_wh,
                           s.gpu_energy_wh, s.first_seen_s, s.last_seen_s)
                for name, s in sorted(self._steps.items(),
                                      key=lambda kv: (kv[1].first_seen_s is None,
                                                      kv[1].first_seen_s or 0))]
