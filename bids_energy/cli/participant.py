"""The participant level: one measured pipeline run per participant (and session)."""

from __future__ import annotations

import logging
import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from bids_energy.bids import (
    check_bids_dir,
    check_output_dir,
    ensure_derivative_dataset,
    footprint_paths,
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
    OutputError,
    ParticipantSkipped,
)
from bids_energy.pipelines import Job, Pipeline, get_pipeline
from bids_energy.pipelines.variant import NEUTRAL

log = logging.getLogger("bids_energy")


@dataclass
class Settings:
    """What stays the same for every participant of one invocation (resolved once)."""

    pipeline: Pipeline
    executable: str | None
    version: str | None
    variants: list[str]
    license_file: Path | None
    carbon: dict
    warnings: list[str]


def list_variants(pipeline_name: str) -> str:
    pipeline = get_pipeline(pipeline_name)
    try:
        from bids_energy.pipelines.variants import format_variant_table
    except ImportError:  # pragma: no cover - variants.py ships with the package
        format_variant_table = None
    if format_variant_table is not None:
        return format_variant_table(pipeline)
    width = max(len(n) for n in pipeline.variants)
    return "\n".join(f"{n.ljust(width)}  {v.description}" for n, v in pipeline.variants.items())


def resolve_carbon(opts) -> tuple[dict, list[str]]:
    from bids_energy.footprint import carbon_settings

    return carbon_settings(opts.country_code, opts.region, opts.pue)


def resolve_settings(opts) -> Settings:
    pipeline = get_pipeline(opts.pipeline)
    if getattr(opts, "dry_run", False):  # no executable or license needed: pipelines/dryrun.py
        from bids_energy.pipelines.dryrun import plan_dry_run

        plan = plan_dry_run(pipeline, opts.pipeline_bin, opts.variant, opts.fs_license_file,
                            os.environ)
        for note in plan.notes:
            log.warning("dry run: %s", note)
        carbon, cw = resolve_carbon(opts)
        return Settings(pipeline, plan.executable, plan.version, plan.variants,
                        plan.license_file, carbon, plan.notes + cw)
    warnings: list[str] = []
    executable = pipeline.find_executable(opts.pipeline_bin)
    if executable is None and opts.pipeline != "command":
        names = " or ".join(pipeline.executable_names) or opts.pipeline
        raise InputMissingError(
            f"{names} not found on PATH; install it, use the bids-energy image for "
            f"{opts.pipeline}, or give --pipeline-bin"
        )
    version = pipeline.version(executable) if executable else None
    variants = pipeline.resolve_variants(opts.variant, version)
    license_file = None
    needs = getattr(pipeline, "needs_license_for", None)
    if needs(variants) if needs else pipeline.needs_license:
        from bids_energy.pipelines.license import resolve_license

        license_file = resolve_license(opts.fs_license_file, os.environ)
        if license_file is None:
            raise LicenseError(
                "no FreeSurfer license: give --fs-license-file, or set $FS_LICENSE, or put "
                "license.txt in $FREESURFER_HOME (free from surfer.nmr.mgh.harvard.edu)"
            )
    carbon, cw = resolve_carbon(opts)
    return Settings(pipeline, executable, version, variants, license_file, carbon, warnings + cw)


def make_job(opts, s: Settings, participant: str, session: str | None) -> Job:
    out = opts.output_dir.resolve()
    pdir = out / s.pipeline.pipeline_dir_name(s.variants)
    prefix = f"sub-{participant}" + (f"_ses-{session}" if session else "")
    work_root = (opts.work_dir or out / "work").resolve()
    return Job(
        bids_dir=opts.bids_dir.resolve(),
        output_root=out,
        pipeline_dir=pdir,
        work_dir=work_root / pdir.name / prefix,
        participant=participant,
        session=session,
        variants=list(s.variants),
        nthreads=opts.nthreads,
        mem_gb=opts.mem_gb,
        extra_args=list(opts.extra_args),
        executable=s.executable,
        version=s.version,
        license_file=s.license_file,
        options={"command_template": opts.command_template},
        warnings=list(s.warnings),
    )


def jobs_for(opts, s: Settings, layout) -> list[tuple[str, str | None]]:
    participants = select_participants(layout, opts.participant_label)
    per_session = getattr(s.pipeline, "per_session", True)
    pairs: list[tuple[str, str | None]] = []
    for p in participants:
        sessions = sessions_for(layout, p, opts.session_label)
        if not per_session and not opts.session_label:
            sessions = [None]
        pairs += [(p, ses) for ses in sessions]
    if not pairs:
        raise NothingSelectedError("no participant/session matches the given labels")
    return pairs


def run_participant_level(opts) -> int:
    check_bids_dir(opts.bids_dir)
    settings = resolve_settings(opts)
    if opts.dry_run:
        from bids_energy.bids import check_output_location

        check_output_location(opts.output_dir, opts.bids_dir)
    else:
        check_output_dir(opts.output_dir, opts.bids_dir)
    layout = load_layout(opts.bids_dir)
    pairs = jobs_for(opts, settings, layout)
    check_powercap_root(opts)
    if opts.dry_run:
        print_meter_plan(getattr(opts, "powercap_root", None))
    rc = ExitCode.OK
    skipped: list[str] = []
    ran = 0
    for participant, session in pairs:
        job = make_job(opts, settings, participant, session)
        try:
            job.inputs = settings.pipeline.inputs(job, layout)
            argv = settings.pipeline.build_command(job)
        except ParticipantSkipped as exc:
            log.warning("skipping %s", exc)
            skipped.append(str(exc))
            continue
        if opts.dry_run:
            print(shlex.join(argv))
            ran += 1
            continue
        outcome_rc, interrupted = run_one(opts, settings, job, argv)
        ran += 1
        if interrupted:
            return outcome_rc
        if outcome_rc != 0 and rc == ExitCode.OK:
            rc = outcome_rc
    if ran == 0 and skipped:
        raise DataError(f"no participant could be run ({len(skipped)} skipped): {skipped[0]}")
    return rc


def check_powercap_root(opts) -> None:
    """An explicit --powercap-root that is not a directory is a missing input, not a silent
    fall back to the TDP model."""
    root = getattr(opts, "powercap_root", None)
    if root is not None and not root.is_dir():
        raise InputMissingError(f"--powercap-root {root} is not a directory")


def print_meter_plan(powercap_root=None) -> None:
    """For --dry-run: how each component would be measured here, and why (on stderr, so
    stdout stays one exact command per line)."""
    import sys

    from bids_energy.meters import describe_meters

    for m in describe_meters(powercap_root=None if powercap_root is None else str(powercap_root)):
        how = m.get("method") or m.get("source")
        state = "" if m.get("used") else "not used: "
        print(f"meter {m['component']}: {state}{how} ({m['why']})", file=sys.stderr)


def run_one(opts, s: Settings, job: Job, argv: list[str]) -> tuple[int, bool]:
    """Measure one pipeline run and write its footprint; returns (exit code, interrupted).

    Signals that arrive outside the pipeline's own run are held until the footprint is
    written (a scheduler's second SIGTERM must not cost the record of the first)."""
    from bids_energy.runner import HeldSignals

    with HeldSignals() as held:
        rc, interrupted = _run_one(opts, s, job, argv, held)
    if not interrupted and held.signum is not None:
        log.warning("signal %d received: stopping after this participant", held.signum)
        return 128 + held.signum, True
    return rc, interrupted


def _run_one(opts, s: Settings, job: Job, argv: list[str], held) -> tuple[int, bool]:
    from bids_energy.context import detect_container, detect_slurm
    from bids_energy.footprint import build_record, write_footprint
    from bids_energy.meters import create_sampler
    from bids_energy.phases import PHASE_FILE_ENV
    from bids_energy.runner import oom_kill_count, oom_verdict, prepare_phase_file, run_command

    container = detect_container()
    ensure_derivative_dataset(job.pipeline_dir, s.pipeline.name, job.bids_dir, container)
    try:
        job.subject_dir.mkdir(parents=True, exist_ok=True)
        job.work_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {job.subject_dir} or {job.work_dir}: {exc.strerror}") from None
    json_path, html_path = footprint_paths(job.subject_dir, footprint_stem(s.pipeline, job))
    env = {**os.environ, **s.pipeline.environment(job)}
    try:
        env.update(prepare_phase_file(job.work_dir))
    except OSError as exc:
        raise OutputError(f"cannot create the phase file in {job.work_dir}: {exc.strerror}") from None
    trackers = start_trackers(opts, s, job)
    sampler = create_sampler(
        root_pid=os.getpid(), interval_s=opts.sampling_interval, attribution=opts.attribution,
        step_map=tuple(s.pipeline.step_map), phase_file=env[PHASE_FILE_ENV],
        powercap_root=(None if getattr(opts, "powercap_root", None) is None
                       else str(opts.powercap_root)),
        idle_power_w=getattr(opts, "idle_power_w", None),
    )
    oom_before = oom_kill_count()
    if held.signum is not None:  # interrupted before the pipeline started: run nothing
        stop_trackers(trackers, None, 0.0)
        return 128 + held.signum, True
    log.info("running %s", shlex.join(argv))
    start_ts = time.time()
    sampler.start()
    outcome = run_command(argv, env=env, cwd=job.work_dir, grace_s=opts.grace_period)
    end_ts = time.time()
    result = sampler.stop()
    tracker_results = stop_trackers(trackers, result, end_ts - start_ts,
                                    getattr(opts, "nthreads", None), s.pipeline.device(job.variants))
    oom, oom_note = oom_verdict(outcome, oom_before, oom_kill_count())
    status = outcome.status
    if s.pipeline.writes_dataset_description():
        ensure_derivative_dataset(job.pipeline_dir, s.pipeline.name, job.bids_dir, container)
    cleanup = None
    warnings = list(job.warnings)
    if status == "success" and opts.cleanup != "off":
        cleanup = run_cleanup_safely(opts, s, job, [json_path, html_path], warnings)
    elif status != "success":
        cleanup = {"mode": opts.cleanup, "status": "skipped",
                   "reason": f"run {status}: outputs are kept as they are"}
    if oom_note:
        warnings.append(oom_note)
    if outcome.left_running_warning():  # daemons the pipeline left behind (shim grace period)
        warnings.append(outcome.left_running_warning())
    record = build_record(
        participant=job.participant, session=job.session, status=status,
        exit_code=outcome.exit_code, signal=outcome.signal, oom=oom,
        name=s.pipeline.name, version=s.version, variants=list(job.variants),
        device=s.pipeline.device(job.variants), executable=s.executable, command=list(argv),
        output_dir=job.pipeline_dir, inputs=job.inputs,
        start_ts=start_ts, end_ts=end_ts, sampler_result=result, carbon=s.carbon,
        container=container, slurm=detect_slurm(), work_dir=job.work_dir,
        user_args=list(getattr(opts, "argv", []) or []),
        cleanup=cleanup, trackers=tracker_results, warnings=warnings,
    )
    if outcome.interrupted_by is not None:
        record["warnings"].append(
            f"interrupted by signal {outcome.interrupted_by}; energy is up to that moment")
    write_footprint(json_path, record)
    if not opts.no_report:
        try:
            from bids_energy.report.participant import render_participant_report

            render_participant_report(record, html_path)
        except Exception as exc:  # a report problem must never lose the measurement
            log.warning("could not write the HTML report %s: %s", html_path, exc)
    print(summary_line(record, json_path))
    if outcome.interrupted_by is not None:
        return 128 + outcome.interrupted_by, True
    return outcome.exit_code, False


def footprint_stem(pipeline: Pipeline, job: Job) -> str:
    """``sub-01[_ses-1]``, plus ``_desc-<variants>`` when the folder name does not already
    tell the variants apart (FreeSurfer's autorecon stages share one folder), so one
    variant's footprint never overwrites another's."""
    named = [v for v in job.variants if v not in NEUTRAL]
    folder = pipeline.pipeline_dir_name(job.variants)
    if not named or folder.endswith("+".join(named)):
        return job.entity_prefix
    desc = "".join(ch for ch in "".join(n.title() for n in named) if ch.isalnum())
    return f"{job.entity_prefix}_desc-{desc}"


def run_cleanup_safely(opts, s: Settings, job: Job, protected: list[Path], warnings: list[str]):
    from bids_energy.cleanup import run_cleanup

    try:
        return run_cleanup(job, dict(s.pipeline.cleanup_rules), mode=opts.cleanup,
                           user_keep=opts.keep, user_delete=opts.delete, status="success",
                           protected=protected, pipeline=s.pipeline.name)
    except Exception as exc:  # cleanup trouble is reported, never fatal to the record
        warnings.append(f"cleanup failed: {exc}")
        return {"mode": opts.cleanup, "status": "failed", "reason": str(exc)}


def start_trackers(opts, s: Settings, job: Job):
    """The comparison trackers (--compare-trackers), logging into the run's scratch area."""
    from bids_energy.trackers.runner import settings_for_run, start_comparison

    return start_comparison(opts.compare_trackers, settings_for_run(
        job.work_dir / "trackers", s.carbon, opts.sampling_interval, opts.country_code,
        opts.region))  # fmt: skip


def stop_trackers(session, result, wall_s: float, nthreads: int | None = None,
                  device: str | None = None) -> dict:
    """Each tracker's row (its failures included); never raises into the participant run."""
    from bids_energy.trackers.runner import facts_for_run

    if session is None:
        return {}
    return session.stop(facts_for_run(result, wall_s, nthreads, device))


def summary_line(record: dict, path: Path) -> str:
    e = record["energy"]
    c = record["carbon"]
    who = f"sub-{record['participant']}" + (f" ses-{record['session']}" if record["session"] else "")
    return (f"{who}: {record['status']} in {record['wall_s']:.1f} s, CPU {record['cpu_s']:.1f} s, "
            f"{e['job_energy_wh']:.4g} Wh ({e['method']}), {c['co2e_g']:.3g} g CO2e -> {path}")
