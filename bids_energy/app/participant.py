"""The participant level: one measured pipeline run per participant (and session).

Resolve the pipeline once (adapter, executable, version, variants, license, carbon), select
participants and sessions, build one ``Job`` each, then either print the commands (dry run)
or run and measure each (``app.measured``).
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from dataclasses import dataclass

from bids_energy.app.settings import RunSettings
from bids_energy.bids import (
    check_bids_dir,
    check_output_dir,
    check_output_location,
    load_layout,
    select_participants,
    sessions_for,
)
from bids_energy.errors import (
    DataError,
    ExitCode,
    InputMissingError,
    LicenseError,
    NothingSelectedError,
    ParticipantSkipped,
)
from bids_energy.labels import entity_prefix
from bids_energy.pipelines import Job, Pipeline, get_pipeline

log = logging.getLogger("bids_energy")


@dataclass(frozen=True)
class Resolved:
    """What the settings resolve to on this machine, the same for every participant of one
    invocation (resolved once: the executable's version is asked once, not per job)."""

    pipeline: Pipeline
    executable: str | None
    version: str | None
    variants: tuple[str, ...]
    license_file: os.PathLike | None
    carbon: dict
    warnings: tuple[str, ...]


def list_variants(pipeline_name: str) -> str:
    """The ``--list-variants`` table."""
    from bids_energy.pipelines.variants import format_variant_table

    return format_variant_table(get_pipeline(pipeline_name))


def resolve_carbon(settings: RunSettings) -> tuple[dict, list[str]]:
    from bids_energy.footprint import carbon_settings

    c = settings.carbon
    return carbon_settings(c.country_code, c.region, c.pue)


def resolve(settings: RunSettings) -> Resolved:
    """Adapter, executable, version, variants, license and carbon inputs; a missing
    executable or license is an error before anything runs (a dry run plans without them
    and says what it could not check)."""
    ps = settings.pipeline
    pipeline = get_pipeline(ps.name)
    if settings.execution.dry_run:  # no executable or license needed: pipelines/dryrun.py
        from bids_energy.pipelines.dryrun import plan_dry_run

        plan = plan_dry_run(pipeline, ps.executable, list(ps.variants), ps.license_file,
                            os.environ)
        for note in plan.notes:
            log.warning("dry run: %s", note)
        carbon, cw = resolve_carbon(settings)
        return Resolved(pipeline, plan.executable, plan.version, tuple(plan.variants),
                        plan.license_file, carbon, tuple(plan.notes + cw))
    executable = pipeline.find_executable(ps.executable)
    if executable is None and ps.name != "command":
        names = " or ".join(pipeline.executable_names) or ps.name
        raise InputMissingError(
            f"{names} not found on PATH; install it, use the bids-energy image for "
            f"{ps.name}, or give --pipeline-bin"
        )
    version = pipeline.version(executable) if executable else None
    variants = pipeline.resolve_variants(list(ps.variants), version)
    license_file = None
    needs = getattr(pipeline, "needs_license_for", None)
    if needs(variants) if needs else pipeline.needs_license:
        from bids_energy.pipelines.license import resolve_license

        license_file = resolve_license(ps.license_file, os.environ)
        if license_file is None:
            raise LicenseError(
                "no FreeSurfer license: give --fs-license-file, or set $FS_LICENSE, or put "
                "license.txt in $FREESURFER_HOME (free from surfer.nmr.mgh.harvard.edu)"
            )
    carbon, cw = resolve_carbon(settings)
    return Resolved(pipeline, executable, version, tuple(variants), license_file, carbon,
                    tuple(cw))


def make_job(settings: RunSettings, r: Resolved, participant: str, session: str | None) -> Job:
    """One participant's job: its folders (pipeline output, scratch) and what the adapter
    needs to build its command."""
    out = settings.inputs.output_dir.resolve()
    pdir = out / r.pipeline.pipeline_dir_name(list(r.variants))
    work_root = (settings.execution.work_dir or out / "work").resolve()
    ps = settings.pipeline
    return Job(
        bids_dir=settings.inputs.bids_dir.resolve(),
        output_root=out,
        pipeline_dir=pdir,
        work_dir=work_root / pdir.name / entity_prefix(participant, session),
        participant=participant,
        session=session,
        variants=list(r.variants),
        nthreads=ps.nthreads,
        mem_gb=ps.mem_gb,
        extra_args=list(ps.extra_args),
        executable=r.executable,
        version=r.version,
        license_file=r.license_file,
        options={"command_template": ps.command_template},
        warnings=list(r.warnings),
    )


def select_jobs(settings: RunSettings, r: Resolved, layout) -> list[tuple[str, str | None]]:
    """(participant, session) pairs to run; a pipeline that is not per session (FreeSurfer's
    cross-sectional stream) runs once per participant unless sessions were named."""
    sessions_asked = list(settings.inputs.session_labels) or None
    participants = select_participants(layout, list(settings.inputs.participant_labels) or None)
    per_session = getattr(r.pipeline, "per_session", True)
    pairs: list[tuple[str, str | None]] = []
    for p in participants:
        sessions = sessions_for(layout, p, sessions_asked)
        if not per_session and not sessions_asked:
            sessions = [None]
        pairs += [(p, ses) for ses in sessions]
    if not pairs:
        raise NothingSelectedError("no participant/session matches the given labels")
    return pairs


def check_powercap_root(settings: RunSettings) -> None:
    """An explicit --powercap-root that is not a directory is a missing input, not a silent
    fall back to the TDP model."""
    root = settings.measurement.powercap_root
    if root is not None and not root.is_dir():
        raise InputMissingError(f"--powercap-root {root} is not a directory")


def print_meter_plan(powercap_root=None) -> None:
    """For --dry-run: how each component would be measured here, and why (on stderr, so
    stdout stays one exact command per line)."""
    from bids_energy.meters import describe_meters

    for m in describe_meters(powercap_root=None if powercap_root is None else str(powercap_root)):
        how = m.get("method") or m.get("source")
        state = "" if m.get("used") else "not used: "
        print(f"meter {m['component']}: {state}{how} ({m['why']})", file=sys.stderr)


def run_participant_level(settings: RunSettings) -> int:
    """Every selected participant in turn; the first failing run's exit code, or 128+signal
    at once when a run was interrupted (the rest are not started)."""
    from bids_energy.app.measured import run_one

    inputs, dry_run = settings.inputs, settings.execution.dry_run
    check_bids_dir(inputs.bids_dir)
    resolved = resolve(settings)
    if dry_run:
        check_output_location(inputs.output_dir, inputs.bids_dir)
    else:
        check_output_dir(inputs.output_dir, inputs.bids_dir)
    layout = load_layout(inputs.bids_dir)
    pairs = select_jobs(settings, resolved, layout)
    check_powercap_root(settings)
    if dry_run:
        print_meter_plan(settings.measurement.powercap_root)
    rc = ExitCode.OK
    skipped: list[str] = []
    ran = 0
    for participant, session in pairs:
        job = make_job(settings, resolved, participant, session)
        try:
            job.inputs = resolved.pipeline.inputs(job, layout)
            argv = resolved.pipeline.build_command(job)
        except ParticipantSkipped as exc:
            log.warning("skipping %s", exc)
            skipped.append(str(exc))
            continue
        if dry_run:
            print(shlex.join(argv))
            ran += 1
            continue
        outcome_rc, interrupted = run_one(settings, resolved, job, argv)
        ran += 1
        if interrupted:
            return outcome_rc
        if outcome_rc != 0 and rc == ExitCode.OK:
            rc = outcome_rc
    if ran == 0 and skipped:
        raise DataError(f"no participant could be run ({len(skipped)} skipped): {skipped[0]}")
    return rc
