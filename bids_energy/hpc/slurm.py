"""Slurm job scripts for a BIDS App run: one array task per participant, then the group level.

Pure text generation (no Slurm needed to test it): ``render_*`` return the scripts, and
``write_job_files`` puts them next to a participants list, one label a line, which task ``i``
reads line ``i`` of. The layout follows what Compute Canada users already run
(the Alliance documentation, docs.alliancecan.ca, "Apptainer" page): the container through Apptainer/Singularity with ``--cleanenv``,
read-only data bind, work directory on ``$SLURM_TMPDIR``, variables passed in as
``APPTAINERENV_*``/``SINGULARITYENV_*`` (``--cleanenv`` drops everything else, the Slurm job
ids included, so those are passed explicitly: the footprint records them), and a group job
``--dependency=afterany`` on the array that first saves the tasks' ``sacct`` records, so the
group report can set Slurm's own accounting beside the measured energy.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bids_energy import __version__
from bids_energy.context import SLURM_VARS
from bids_energy.estimate.sacct import SACCT_FIELDS

RUNTIMES = ("apptainer", "singularity", "none")

# The sacct columns the group job saves are the ones the estimate parser reads: one list.
SACCT_FORMAT = SACCT_FIELDS

# Every Slurm variable the footprint's context reads (context.SLURM_VARS), and only those:
# --cleanenv would drop them inside the container, so the job script forwards them.
SLURM_CONTEXT_VARS = tuple(SLURM_VARS.values())

# Slurm --time forms: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
_TIME_RE = re.compile(r"^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d{1,2}(:\d{1,2}){0,2})$")
_MEM_RE = re.compile(r"^\d+[KMGT]?$", re.IGNORECASE)

# Paths inside the container (binds), as BIDS Apps document them.
DATA_MNT, OUT_MNT, WORK_MNT = "/data", "/out", "/work"
LICENSE_MNT, TEMPLATEFLOW_MNT = "/opt/bids-energy/license.txt", "/templateflow"


def valid_time(value: str) -> bool:
    return bool(_TIME_RE.match(value))


def valid_mem(value: str) -> bool:
    return bool(_MEM_RE.match(value))


@dataclass(frozen=True)
class SlurmPlan:
    """Everything the scripts depend on; paths are absolute host paths."""

    bids_dir: Path
    output_dir: Path
    pipeline: str
    variants: tuple[str, ...] = ()
    runtime: str = "apptainer"
    image: Path | None = None
    account: str | None = None
    time: str | None = None
    mem: str | None = None
    cpus: int | None = None
    gpus: int | None = None
    partition: str | None = None
    max_parallel: int | None = None
    group_time: str = "00:30:00"
    group_mem: str = "2G"
    fs_license: Path | None = None
    templateflow_home: Path | None = None
    modules: tuple[str, ...] = ()
    extra_args: tuple[str, ...] = ()
    python: str = field(default_factory=lambda: sys.executable)
    pythonpath: str | None = None
    work_dir_flag: str | None = "--work-dir"
    job_name: str | None = None

    @property
    def name(self) -> str:
        return self.job_name or "-".join(["bids-energy", self.pipeline, *self.variants])

    @property
    def env_prefix(self) -> str:
        return "SINGULARITYENV_" if self.runtime == "singularity" else "APPTAINERENV_"


@dataclass(frozen=True)
class JobFiles:
    """The files ``write_job_files`` wrote; ``submit`` takes them."""

    script_dir: Path
    participants_file: Path
    array_script: Path
    group_script: Path
    submit_script: Path
    n_tasks: int


def _q(value: str | Path) -> str:
    return shlex.quote(str(value))


def sbatch_lines(options: list[tuple[str, object | None]]) -> list[str]:
    """``#SBATCH --key=value`` lines, skipping options left unset."""
    return [f"#SBATCH --{k}={v}" for k, v in options if v is not None and v != ""]


def _resources(plan: SlurmPlan) -> list[tuple[str, object | None]]:
    return [
        ("account", plan.account),
        ("partition", plan.partition),
    ]


def _binds(plan: SlurmPlan, with_work: bool) -> str:
    binds = [f'"$BIDS_DIR":{DATA_MNT}:ro', f'"$OUT_DIR":{OUT_MNT}']
    if with_work:
        binds.append(f'"$WORK_DIR":{WORK_MNT}')
    if plan.fs_license:
        binds.append(f"{_q(plan.fs_license)}:{LICENSE_MNT}:ro")
    if plan.templateflow_home:
        binds.append(f"{_q(plan.templateflow_home)}:{TEMPLATEFLOW_MNT}")
    return ",".join(binds)


def _container_env(plan: SlurmPlan) -> list[str]:
    """Exports that carry license, TemplateFlow and Slurm ids through ``--cleanenv``."""
    p = plan.env_prefix
    lines = []
    if plan.fs_license:
        lines.append(f"export {p}FS_LICENSE={LICENSE_MNT}")
    if plan.templateflow_home:
        lines.append(f"export {p}TEMPLATEFLOW_HOME={TEMPLATEFLOW_MNT}")
    names = " ".join(SLURM_CONTEXT_VARS)
    lines += [
        f"for var in {names}; do",
        f'    if [ -n "${{!var:-}}" ]; then export "{p}$var=${{!var}}"; fi',
        "done",
    ]
    return lines


def _app_prefix(plan: SlurmPlan, with_work: bool) -> list[str]:
    """The words that start the app, before its BIDS-App arguments."""
    if plan.runtime == "none":
        return [_q(plan.python), "-m", "bids_energy"]
    exe = plan.runtime
    words = [exe, "run", "--cleanenv", "-B", _binds(plan, with_work)]
    if plan.gpus:
        words.append("--nv")
    words.append(_q(plan.image))
    return words


def _pipeline_args(plan: SlurmPlan) -> list[str]:
    words = ["--pipeline", _q(plan.pipeline)]
    for v in plan.variants:
        words += ["--variant", _q(v)]
    return words


def app_command(plan: SlurmPlan, level: str) -> str:
    """The command line a job script runs for ``level`` (participant or group)."""
    if plan.runtime == "none":
        data, out, work = '"$BIDS_DIR"', '"$OUT_DIR"', '"$WORK_DIR"'
    else:
        data, out, work = DATA_MNT, OUT_MNT, WORK_MNT
    participant = level == "participant"
    words = [*_app_prefix(plan, participant), data, out, level]
    if participant:
        words += ["--participant-label", '"$LABEL"']
    words += _pipeline_args(plan)
    if participant and plan.work_dir_flag:
        words += [plan.work_dir_flag, work]
    if participant:
        words += [_q(a) for a in plan.extra_args]
    return " ".join(words)


def _preamble(plan: SlurmPlan) -> list[str]:
    lines = ["set -euo pipefail", ""]
    lines += [f"module load {_q(m)}" for m in plan.modules]
    lines += [f"BIDS_DIR={_q(plan.bids_dir)}", f"OUT_DIR={_q(plan.output_dir)}"]
    if plan.runtime == "none":
        if plan.pythonpath:
            lines.append(f'export PYTHONPATH={_q(plan.pythonpath)}"${{PYTHONPATH:+:$PYTHONPATH}}"')
        if plan.fs_license:
            lines.append(f"export FS_LICENSE={_q(plan.fs_license)}")
        if plan.templateflow_home:
            lines.append(f"export TEMPLATEFLOW_HOME={_q(plan.templateflow_home)}")
    return lines


def render_array_script(plan: SlurmPlan, participants_file: Path, n_tasks: int,
                        log_dir: Path) -> str:
    """The array job: task ``i`` runs the participant on line ``i`` of ``participants_file``."""
    array = f"1-{n_tasks}" + (f"%{plan.max_parallel}" if plan.max_parallel else "")
    header = sbatch_lines([
        ("job-name", plan.name),
        *_resources(plan),
        ("time", plan.time),
        ("cpus-per-task", plan.cpus),
        ("mem", plan.mem),
        ("gpus-per-node", plan.gpus),
        ("array", array),
        ("output", log_dir / "%x_%A_%a.out"),
    ])
    body = _preamble(plan) + [
        f"PARTICIPANTS={_q(participants_file)}",
        'LABEL=$(sed -n "${SLURM_ARRAY_TASK_ID}p" "$PARTICIPANTS")',
        'if [ -z "$LABEL" ]; then',
        '    echo "no participant on line $SLURM_ARRAY_TASK_ID of $PARTICIPANTS" >&2',
        "    exit 64",
        "fi",
        "# Work on node-local disk; Compute Canada sets SLURM_TMPDIR and wipes it after the job.",
        'WORK_DIR="${SLURM_TMPDIR:-${TMPDIR:-/tmp}}/bids-energy_${SLURM_ARRAY_JOB_ID}_'
        '${SLURM_ARRAY_TASK_ID}"',
        'mkdir -p "$WORK_DIR"',
        "trap 'rm -rf \"$WORK_DIR\"' EXIT",
    ]
    if plan.runtime != "none":
        body += _container_env(plan)
    body += [
        'echo "bids-energy: sub-$LABEL (task $SLURM_ARRAY_TASK_ID, job $SLURM_JOB_ID)"',
        app_command(plan, "participant"),
    ]
    return _script(header, body)


def sacct_command(array_var: str = "$ARRAY_JOB_ID") -> str:
    return f'sacct -j "{array_var}" -P --format {SACCT_FORMAT}'


def render_group_script(plan: SlurmPlan, n_tasks: int, log_dir: Path) -> str:
    """The group job: save the array's ``sacct`` records, then run the group level.

    Runs after every task ended (``afterany``), failed ones included, so the report lists
    failures too. Accounting reaches slurmdbd a moment after a task ends, so ``sacct`` is
    retried until all ``n_tasks`` tasks show a final state (or a minute passed).
    """
    header = sbatch_lines([
        ("job-name", plan.name + "-group"),
        *_resources(plan),
        ("time", plan.group_time),
        ("cpus-per-task", 1),
        ("mem", plan.group_mem),
        ("output", log_dir / "%x_%j.out"),
    ])
    body = _preamble(plan) + [
        'ARRAY_JOB_ID="${1:?usage: sbatch --dependency=afterany:ARRAY_ID group script ARRAY_ID}"',
        'SACCT_TSV="$OUT_DIR/sacct_${ARRAY_JOB_ID}.tsv"',
        f"N_TASKS={n_tasks}",
        'TRIES="${BIDS_ENERGY_SACCT_TRIES:-12}"',
        'for attempt in $(seq 1 "$TRIES"); do',
        f'    if {sacct_command()} > "$SACCT_TSV.part" 2>/dev/null; then',
        "        done_tasks=$(awk -F'|' -v id=\"$ARRAY_JOB_ID\" "
        "'index($1, id \"_\") == 1 && $1 !~ /\\./ && $11 !~ /^(PENDING|RUNNING|REQUEUED)/' "
        '"$SACCT_TSV.part" | wc -l)',
        '        if [ "$done_tasks" -ge "$N_TASKS" ]; then break; fi',
        "    fi",
        '    if [ "$attempt" -lt "$TRIES" ]; then sleep 5; fi',
        "done",
        'if [ -s "$SACCT_TSV.part" ]; then mv "$SACCT_TSV.part" "$SACCT_TSV";',
        'else echo "warning: sacct gave nothing for job $ARRAY_JOB_ID" >&2;'
        ' rm -f "$SACCT_TSV.part"; fi',
        'echo "bids-energy: group level after array job $ARRAY_JOB_ID"',
    ]
    if plan.runtime != "none":
        body += _container_env(plan)
    body.append(app_command(plan, "group"))
    return _script(header, body)


def render_submit_script(array_script: Path, group_script: Path) -> str:
    """What ``--submit`` does, as a script for submitting later by hand."""
    return "\n".join([
        "#!/bin/bash",
        f"# Generated by bids-energy {__version__}: submit the array, then the group job.",
        "set -euo pipefail",
        f"array=$(sbatch --parsable {_q(array_script)})",
        "array=${array%%;*}",
        f'group=$(sbatch --parsable --dependency=afterany:"$array" {_q(group_script)} "$array")',
        'echo "array job $array, group job ${group%%;*}"',
        "",
    ])


def _script(header: list[str], body: list[str]) -> str:
    top = ["#!/bin/bash", *header,
           f"# Generated by bids-energy {__version__} (bids-energy slurm); edit freely.", ""]
    return "\n".join(top + body) + "\n"


def write_job_files(plan: SlurmPlan, participants: list[str], script_dir: Path) -> JobFiles:
    """Write the participants list and the three scripts into ``script_dir``."""
    script_dir = Path(script_dir)
    log_dir = script_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    stem = plan.name
    plist = script_dir / f"{stem}_participants.txt"
    plist.write_text("".join(f"{p}\n" for p in participants))
    array = script_dir / f"{stem}_array.sbatch"
    group = script_dir / f"{stem}_group.sbatch"
    submit = script_dir / f"{stem}_submit.sh"
    array.write_text(render_array_script(plan, plist, len(participants), log_dir))
    group.write_text(render_group_script(plan, len(participants), log_dir))
    submit.write_text(render_submit_script(array, group))
    for script in (array, group, submit):
        script.chmod(0o755)
    return JobFiles(script_dir, plist, array, group, submit, len(participants))
