"""The Slurm array, group and submit scripts we generate, linted with shellcheck.

Users run these on clusters we never see; shellcheck catches the quoting and word-splitting
mistakes that ``bash -n`` lets through. Every runtime (Apptainer, Singularity, none) and the
optional parts (license, TemplateFlow, modules, GPUs, extra pipeline arguments with spaces)
are rendered, so each branch of the templates is linted.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bids_energy.hpc.slurm import SlurmPlan, write_job_files
from tests.fixtures.tools import SHELLCHECK_STEP, require_executable

FULL = dict(
    fs_license=Path("/project/licenses/license.txt"),
    templateflow_home=Path("/project/templateflow cache"),
    modules=("apptainer/1.2", "StdEnv/2023"),
    gpus=1,
    cpus=8,
    mem="32G",
    partition="gpu",
    max_parallel=4,
    extra_args=("--output-spaces", "MNI152NLin2009cAsym:res-2 T1w", "--me-output-echos"),
)
CASES = {
    "apptainer-minimal": dict(runtime="apptainer", image=Path("/project/img/bids-energy.sif")),
    "apptainer-full": dict(runtime="apptainer", image=Path("/project/my images/be.sif"), **FULL),
    "singularity-full": dict(runtime="singularity", image=Path("/project/img/be.sif"), **FULL),
    "no-container": dict(runtime="none", image=None, pythonpath="/home/me/bids-energy"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_generated_job_scripts_pass_shellcheck(case, tmp_path):
    shellcheck = require_executable("shellcheck", SHELLCHECK_STEP)
    plan = SlurmPlan(bids_dir=Path("/project/data set"), output_dir=Path("/scratch/out"),
                     pipeline="fmriprep", variants=("fs-no-reconall",), account="def-lab",
                     time="12:00:00", **CASES[case])
    files = write_job_files(plan, ["01", "02", "03"], tmp_path / "slurm jobs")
    scripts = [files.array_script, files.group_script, files.submit_script]
    proc = subprocess.run([shellcheck, "--severity=style", "--shell=bash",
                           *map(str, scripts)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
