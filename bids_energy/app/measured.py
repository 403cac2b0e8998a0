"""One measured run: start the meters, run the pipeline, stop, clean up, write the footprint.

The order matters and is kept here in one place: the footprint is written whatever the run's
outcome (failed, killed, interrupted), cleanup runs only after a successful run, and signals
that arrive outside the pipeline's own run are held until the record is on disk.
"""

from __future__ import annotations

import logging
import os
import shlex
import time
from pathlib import Path

from bids_energy.app.participant import Resolved
from bids_energy.app.settings import RunSettings
from bids_energy.bids import ensure_derivative_dataset, footprint_paths
from bids_energy.errors import OutputError
from bids_energy.labels import desc_label, describe
from bids_energy.pipelines import Job, Pipeline
from bids_energy.pipelines.variant import NEUTRAL

log = logging.getLogger("bids_energy")


def run_one(settings: RunSettings, r: Resolved, job: Job, argv: list[str]) -> tuple[int, bool]:
    """Measure one pipeline run and write its footprint; returns (exit code, interrupted).

    Signals that arrive outside the pipeline's own run are held until the footprint is
    written (a scheduler's second SIGTERM must not cost the record of the first)."""
    from bids_energy.runner import HeldSignals

    with HeldSignals() as held:
        rc, interrupted = _run_one(settings, r, job, argv, held)
    if not interrupted and held.signum is not None:
        log.warning("signal %d received: stopping after this participant", held.signum)
        return 128 + held.signum, True
    return rc, interrupted


def _run_one(settings: RunSettings, r: Resolved, job: Job, argv: list[str],
             held) -> tuple[int, bool]:
    from bids_energy.app.outputs import write_outputs
    from bids_energy.context import detect_container, detect_slurm
    from bids_energy.footprint import build_record
    from bids_energy.meters import create_sampler
    from bids_energy.phases import PHASE_FILE_ENV
    from bids_energy.runner import oom_kill_count, oom_verdict, prepare_phase_file, run_command

    m = settings.measurement
    container = detect_container()
    ensure_derivative_dataset(job.pipeline_dir, r.pipeline.name, job.bids_dir, container)
    try:
        job.subject_dir.mkdir(parents=True, exist_ok=True)
        job.work_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {job.subject_dir} or {job.work_dir}: {exc.strerror}") from None
    json_path, html_path = footprint_paths(job.subject_dir, footprint_stem(r.pipeline, job))
    env = {**os.environ, **r.pipeline.environment(job)}
    try:
        env.update(prepare_phase_file(job.work_dir))
    except OSError as exc:
        raise OutputError(f"cannot create the phase file in {job.work_dir}: {exc.strerror}") from None
    trackers = start_trackers(settings, r, job)
    sampler = create_sampler(
        root_pid=os.getpid(), interval_s=m.sampling_interval_s, attribution=m.attribution,
        step_map=tuple(r.pipeline.step_map), phase_file=env[PHASE_FILE_ENV],
        powercap_root=None if m.powercap_root is None else str(m.powercap_root),
        idle_power_w=m.idle_power_w,
    )
    oom_before = oom_kill_count()
    if held.signum is not None:  # interrupted before the pipeline started: run nothing
        stop_trackers(trackers, None, 0.0)
        return 128 + held.signum, True
    log.info("running %s", shlex.join(argv))
    start_ts = time.time()
    sampler.start()
    outcome = run_command(argv, env=env, cwd=job.work_dir, grace_s=m.grace_period_s)
    end_ts = time.time()
    result = sampler.stop()
    tracker_results = stop_trackers(trackers, result, end_ts - start_ts,
                                    settings.pipeline.nthreads, r.pipeline.device(job.variants))
    oom, oom_note = oom_verdict(outcome, oom_before, oom_kill_count())
    status = outcome.status
    if r.pipeline.writes_dataset_description():
        ensure_derivative_dataset(job.pipeline_dir, r.pipeline.name, job.bids_dir, container)
    cleanup = None
    warnings = list(job.warnings)
    mode = settings.cleanup.mode
    if status == "success" and mode != "off":
        cleanup = run_cleanup_safely(settings, r, job, [json_path, html_path], warnings)
    elif status != "success":
        cleanup = {"mode": mode, "status": "skipped",
                   "reason": f"run {status}: outputs are kept as they are"}
    if oom_note:
        warnings.append(oom_note)
    if outcome.left_running_warning():  # daemons the pipeline left behind (shim grace period)
        warnings.append(outcome.left_running_warning())
    record = build_record(
        participant=job.participant, session=job.session, status=status,
        exit_code=outcome.exit_code, signal=outcome.signal, oom=oom,
        name=r.pipeline.name, version=r.version, variants=list(job.variants),
        device=r.pipeline.device(job.variants), executable=r.executable, command=list(argv),
        output_dir=job.pipeline_dir, inputs=job.inputs,
        start_ts=start_ts, end_ts=end_ts, sampler_result=result, carbon=r.carbon,
        container=container, slurm=detect_slurm(), work_dir=job.work_dir,
        user_args=list(settings.execution.user_args),
        cleanup=cleanup, trackers=tracker_results, warnings=warnings,
    )
    if outcome.interrupted_by is not None:
        record["warnings"].append(
            f"interrupted by signal {outcome.interrupted_by}; energy is up to that moment")
    write_outputs(record, json_path, html_path, report=settings.execution.participant_report)
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
    return f"{job.entity_prefix}_desc-{desc_label(named)}"


def run_cleanup_safely(settings: RunSettings, r: Resolved, job: Job, protected: list[Path],
                       warnings: list[str]) -> dict:
    """The cleanup summary; a cleanup problem becomes a warning and a ``failed`` summary,
    never an exception that would lose the footprint."""
    from bids_energy.cleanup import run_cleanup

    c = settings.cleanup
    try:
        return run_cleanup(job, dict(r.pipeline.cleanup_rules), mode=c.mode,
                           user_keep=list(c.keep), user_delete=list(c.delete), status="success",
                           protected=protected, pipeline=r.pipeline.name)
    except Exception as exc:  # cleanup trouble is reported, never fatal to the record
        warnings.append(f"cleanup failed: {exc}")
        return {"mode": c.mode, "status": "failed", "reason": str(exc)}


def start_trackers(settings: RunSettings, r: Resolved, job: Job):
    """The comparison trackers (--compare-trackers), logging into the run's scratch area."""
    from bids_energy.trackers.runner import settings_for_run, start_comparison

    m, c = settings.measurement, settings.carbon
    return start_comparison(m.compare_trackers, settings_for_run(
        job.work_dir / "trackers", r.carbon, m.sampling_interval_s, c.country_code,
        c.region))  # fmt: skip


def stop_trackers(session, result, wall_s: float, nthreads: int | None = None,
                  device: str | None = None) -> dict:
    """Each tracker's row (its failures included); never raises into the participant run."""
    from bids_energy.trackers.runner import facts_for_run

    if session is None:
        return {}
    return session.stop(facts_for_run(result, wall_s, nthreads, device))


def summary_line(record: dict, path: Path) -> str:
    """The one line printed per participant."""
    e = record["energy"]
    c = record["carbon"]
    who = describe(record["participant"], record["session"])
    return (f"{who}: {record['status']} in {record['wall_s']:.1f} s, CPU {record['cpu_s']:.1f} s, "
            f"{e['job_energy_wh']:.4g} Wh ({e['method']}), {c['co2e_g']:.3g} g CO2e -> {path}")
