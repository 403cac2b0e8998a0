"""Submitting the generated scripts with ``sbatch`` (the only part that touches Slurm)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bids_energy.errors import BidsEnergyError, ExitCode, UsageError
from bids_energy.hpc.slurm import JobFiles

_JOB_ID_RE = re.compile(r"^(\d+)(?:;\S+)?$")

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class Submission:
    array_job_id: str
    group_job_id: str


def parse_parsable(stdout: str) -> str:
    """Job id from ``sbatch --parsable`` output (``12345`` or ``12345;cluster``)."""
    lines = [ln.strip() for ln in stdout.strip().splitlines() if ln.strip()]
    match = _JOB_ID_RE.match(lines[-1]) if lines else None
    if not match:
        raise BidsEnergyError(f"cannot read a job id from sbatch output: {stdout!r}")
    return match.group(1)


def _default_runner(cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=False)


def sbatch(args: Sequence[str], runner: Runner = _default_runner, exe: str = "sbatch") -> str:
    """Run ``sbatch --parsable ARGS`` and return the job id."""
    if runner is _default_runner and shutil.which(exe) is None:
        raise UsageError(f"{exe} not found: --submit needs a Slurm login node "
                         "(or leave out --submit and copy the scripts there)")
    proc = runner([exe, "--parsable", *args])
    if proc.returncode != 0:
        raise BidsEnergyError(
            f"sbatch failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}",
            exit_code=ExitCode.TEMP_FAILURE,
        )
    return parse_parsable(proc.stdout)


def submit(files: JobFiles, runner: Runner = _default_runner, exe: str = "sbatch") -> Submission:
    """Submit the array, then the group job after it (``afterany``: failures still reported)."""
    array_id = sbatch([str(files.array_script)], runner, exe)
    group_id = sbatch(
        [f"--dependency=afterany:{array_id}", str(files.group_script), array_id], runner, exe
    )
    return Submission(array_id, group_id)
