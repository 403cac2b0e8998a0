"""The command line becomes frozen settings once, at the boundary (cli/participant.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bids_energy.app.settings import Inputs, RunSettings
from bids_energy.cli.parser import parse_args
from bids_energy.cli.participant import settings_from_args
from bids_energy.errors import ExitCode, UsageError


def test_every_section_is_filled_from_the_arguments(tmp_path):
    opts = parse_args([str(tmp_path / "ds"), str(tmp_path / "out"), "participant",
                       "--participant-label", "sub-01", "02", "--session-label", "1",
                       "--pipeline", "fmriprep", "--variant", "sloppy", "--nthreads", "4",
                       "--mem-gb", "8", "--sampling-interval", "0.5", "--attribution", "process",
                       "--powercap-root", str(tmp_path), "--idle-power-w", "30",
                       "--country-code", "can", "--region", "ca-qc", "--pue", "1.2",
                       "--cleanup", "delete", "--keep", "*.nii.gz", "-w", str(tmp_path / "w"),
                       "--dry-run", "--no-report", "--extrapolate", "50", "--", "--notrack"])
    s = settings_from_args(opts)
    assert s.inputs == Inputs(tmp_path / "ds", tmp_path / "out", ("01", "02"), ("1",))
    assert (s.pipeline.name, s.pipeline.variants, s.pipeline.extra_args) == (
        "fmriprep", ("sloppy",), ("--notrack",))
    assert (s.pipeline.nthreads, s.pipeline.mem_gb) == (4, 8.0)
    m = s.measurement
    assert (m.sampling_interval_s, m.attribution, m.powercap_root, m.idle_power_w) == (
        0.5, "process", tmp_path, 30.0)
    assert (s.carbon.country_code, s.carbon.region, s.carbon.pue) == ("CAN", "CA-QC", 1.2)
    assert (s.cleanup.mode, s.cleanup.keep, s.cleanup.delete) == ("delete", ("*.nii.gz",), ())
    e = s.execution
    assert e.dry_run and not e.participant_report and e.work_dir == tmp_path / "w"
    assert e.user_args[-2:] == ("--", "--notrack")
    assert s.group.extrapolate == 50 and s.group.quality_higher_is_better is None


def test_defaults_and_frozen(tmp_path):
    s = settings_from_args(parse_args([str(tmp_path), str(tmp_path / "o"), "participant"]))
    assert s.inputs.participant_labels == () and s.pipeline.name == "demo"
    assert s.cleanup.mode == "dry-run" and s.execution.participant_report
    assert s.measurement.compare_trackers == () and s.measurement.grace_period_s == 20.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.execution.dry_run = True  # type: ignore[misc]
    # built directly, without argparse, as tests and other front ends may
    direct = RunSettings(inputs=Inputs(Path("ds"), Path("out")))
    assert direct.measurement.sampling_interval_s == 1.0


def test_quality_direction(tmp_path):
    base = [str(tmp_path), str(tmp_path / "o"), "group"]
    assert settings_from_args(parse_args(base + ["--quality-lower-is-better"])
                              ).group.quality_higher_is_better is False
    assert settings_from_args(parse_args(base + ["--quality-higher-is-better"])
                              ).group.quality_higher_is_better is True
    with pytest.raises(UsageError) as exc:
        settings_from_args(parse_args(base + ["--quality-lower-is-better",
                                              "--quality-higher-is-better"]))
    assert exc.value.exit_code == ExitCode.USAGE


def test_the_application_takes_settings_built_without_argparse(tmp_path):
    from bids_energy.app.participant import Resolved, make_job
    from bids_energy.app.settings import Execution, PipelineSettings
    from bids_energy.pipelines import get_pipeline

    s = RunSettings(inputs=Inputs(tmp_path / "ds", tmp_path / "out"),
                    pipeline=PipelineSettings(name="demo", extra_args=("--x",), nthreads=2),
                    execution=Execution(work_dir=tmp_path / "w"))
    r = Resolved(get_pipeline("demo"), "demo-bin", "1.0", ("baseline",), None, {}, ("note",))
    job = make_job(s, r, "01", "2")
    assert job.work_dir == (tmp_path / "w").resolve() / job.pipeline_dir.name / "sub-01_ses-2"
    assert job.pipeline_dir.parent == (tmp_path / "out").resolve()
    assert (job.nthreads, job.extra_args, job.warnings) == (2, ["--x"], ["note"])
