"""``bids-energy slurm``: write (and with ``--submit`` submit) the Slurm jobs for a dataset.

One array task per participant, then a group job after the array. Arguments after ``--``
are passed to every participant run unchanged (``-- --nthreads 8 --cleanup delete``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import bids_energy
from bids_energy.cli.parser import BidsAppParser, label, path_arg, positive_int, split_extra
from bids_energy.errors import InputMissingError, OutputError, UsageError
from bids_energy.hpc.participants import discover_participants
from bids_energy.hpc.slurm import RUNTIMES, SlurmPlan, valid_mem, valid_time, write_job_files
from bids_energy.hpc.submit import submit


def slurm_time(value: str) -> str:
    if not valid_time(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a Slurm time (MM, HH:MM:SS, D-HH:MM:SS, ...)")
    return value


def slurm_mem(value: str) -> str:
    if not valid_mem(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Slurm memory size (e.g. 8G, 4000M)")
    return value.upper()


def build_parser() -> argparse.ArgumentParser:
    p = BidsAppParser(
        prog="bids-energy slurm",
        description="Write Slurm job scripts for a dataset: one array task per participant "
        "(container run through Apptainer/Singularity, or --runtime none), then a group job "
        "that also saves the tasks' sacct records. Arguments after '--' go to every "
        "participant run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("bids_dir", type=path_arg, help="the BIDS dataset, as seen from the nodes")
    p.add_argument("output_dir", type=path_arg, help="where derivatives and footprints go")
    g = p.add_argument_group("what to run")
    g.add_argument("--pipeline", default="demo", help="pipeline name, as for participant level")
    g.add_argument("--variant", action="append", default=[], metavar="NAME",
                   help="named variant (repeatable)")
    g.add_argument("--participant-label", "--participant_label", dest="participant_label",
                   nargs="+", type=label("sub"), metavar="LABEL",
                   help="participants to include; default: all")
    g.add_argument("--runtime", choices=RUNTIMES, default="apptainer",
                   help="container runtime on the nodes; 'none' runs bids-energy directly")
    g.add_argument("--image", type=path_arg, metavar="SIF",
                   help="the Apptainer/Singularity image (required unless --runtime none)")
    g.add_argument("--fs-license", type=path_arg, metavar="FILE",
                   help="FreeSurfer license file, bound read-only and passed as FS_LICENSE")
    g.add_argument("--templateflow-home", type=path_arg, metavar="DIR",
                   help="pre-fetched TemplateFlow cache (compute nodes have no internet)")
    g.add_argument("--module", action="append", default=[], metavar="NAME",
                   help="environment module to load first (repeatable), e.g. apptainer")
    g.add_argument("--python", default=sys.executable, metavar="EXE",
                   help="python that runs bids-energy with --runtime none")
    g = p.add_argument_group("Slurm resources (per participant)")
    g.add_argument("--account", metavar="ACCOUNT", help="e.g. def-lab")
    g.add_argument("--time", type=slurm_time, metavar="TIME", help="e.g. 12:00:00")
    g.add_argument("--mem", type=slurm_mem, metavar="SIZE", help="e.g. 8G")
    g.add_argument("--cpus", type=positive_int, metavar="N",
                   help="CPUs per task (also passed as --nthreads)")
    g.add_argument("--gpus", type=positive_int, metavar="N",
                   help="GPUs per task (--gpus-per-node, and --nv for the container)")
    g.add_argument("--partition", metavar="NAME")
    g.add_argument("--max-parallel", type=positive_int, metavar="N",
                   help="at most N tasks at once (--array=1-K%%N)")
    g.add_argument("--group-time", type=slurm_time, default="00:30:00", metavar="TIME")
    g = p.add_argument_group("output")
    g.add_argument("--script-dir", type=path_arg, metavar="DIR",
                   help="where scripts, participants list and logs go "
                   "(default: <output_dir>/code/slurm)")
    g.add_argument("--submit", action="store_true",
                   help="submit with sbatch (array, then group job afterany)")
    return p


def _repo_pythonpath() -> str | None:
    """The folder holding the running ``bids_energy`` when it is not an installed copy.

    With ``--runtime none`` the jobs must import the same code that wrote the scripts.
    """
    parent = Path(bids_energy.__file__).resolve().parent.parent
    return None if parent.name in ("site-packages", "dist-packages") else str(parent)


def plan_from_args(opts: argparse.Namespace, extra: Sequence[str]) -> SlurmPlan:
    """Check the arguments against each other and build the plan (no I/O)."""
    if opts.runtime != "none" and opts.image is None:
        raise UsageError(f"--image is required with --runtime {opts.runtime}")
    bids_dir = opts.bids_dir.resolve()
    out = opts.output_dir.resolve()
    if out == bids_dir or bids_dir in out.parents:
        raise UsageError(f"output directory {out} must not be inside the input {bids_dir}")
    extra = list(extra)
    # Ours come before a second '--' (what follows it goes to the wrapped pipeline).
    ours = extra[: extra.index("--")] if "--" in extra else extra
    if opts.cpus and "--nthreads" not in ours:
        extra[len(ours):len(ours)] = ["--nthreads", str(opts.cpus)]
    return SlurmPlan(
        bids_dir=bids_dir,
        output_dir=out,
        pipeline=opts.pipeline,
        variants=tuple(opts.variant),
        runtime=opts.runtime,
        image=opts.image.resolve() if opts.image else None,
        account=opts.account,
        time=opts.time,
        mem=opts.mem,
        cpus=opts.cpus,
        gpus=opts.gpus,
        partition=opts.partition,
        max_parallel=opts.max_parallel,
        group_time=opts.group_time,
        fs_license=opts.fs_license.resolve() if opts.fs_license else None,
        templateflow_home=opts.templateflow_home.resolve() if opts.templateflow_home else None,
        modules=tuple(opts.module),
        extra_args=tuple(extra),
        python=opts.python,
        pythonpath=_repo_pythonpath() if opts.runtime == "none" else None,
    )


def run(argv: Sequence[str]) -> int:
    """Everything but error-to-exit-code translation; raises ``BidsEnergyError``."""
    ours, extra = split_extra(list(argv))
    opts = build_parser().parse_args(ours)
    plan = plan_from_args(opts, extra)
    participants = discover_participants(plan.bids_dir, opts.participant_label)
    if opts.submit and plan.image is not None and not plan.image.is_file():
        raise InputMissingError(f"container image not found: {plan.image}")
    script_dir = (opts.script_dir or plan.output_dir / "code" / "slurm").resolve()
    try:
        files = write_job_files(plan, participants, script_dir)
    except OSError as exc:
        raise OutputError(f"cannot write the job scripts in {script_dir}: {exc}") from exc
    print(f"{files.n_tasks} participant(s) -> {files.array_script}")
    print(f"group job -> {files.group_script}")
    if not opts.submit:
        print(f"submit with: bash {files.submit_script}")
        return 0
    sub = submit(files)
    print(f"submitted array job {sub.array_job_id} ({files.n_tasks} tasks) "
          f"and group job {sub.group_job_id} (afterany:{sub.array_job_id})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``bids-energy slurm``; returns the exit code."""
    from bids_energy.cli.run import exit_code_of

    return exit_code_of(lambda: run(sys.argv[1:] if argv is None else argv),
                        prog="bids-energy slurm")


if __name__ == "__main__":
    raise SystemExit(main())
