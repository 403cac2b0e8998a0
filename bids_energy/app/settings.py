"""What one invocation was asked to do, as named, frozen sections.

The command line's namespace is turned into a ``RunSettings`` once, at the boundary
(``cli/participant.settings_from_args``), and that object is passed explicitly to the
application (``app/participant.py``, ``app/measured.py``) and the group level. Sections
follow fMRIPrep's ``config.py`` (inputs, pipeline, measurement, ...) without its
module-level singleton: nothing here is global, so two runs in one process (tests, the
``demo`` command) cannot leak settings into each other, and a test builds a ``RunSettings``
directly without argparse.

Only what the user asked for lives here. What is resolved from it on this machine (the
pipeline adapter, its executable's version, the license file, the carbon intensity) is
``app.participant.Resolved``, built once per invocation from these settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Inputs:
    """Which data: the BIDS dataset (read only), where derivatives go, which labels."""

    bids_dir: Path
    output_dir: Path
    participant_labels: tuple[str, ...] = ()  # without "sub-"; empty = every participant
    session_labels: tuple[str, ...] = ()  # without "ses-"; empty = every session


@dataclass(frozen=True)
class PipelineSettings:
    """Which pipeline and how it is called (``--pipeline``, ``--variant``, after ``--``)."""

    name: str = "demo"
    variants: tuple[str, ...] = ()  # as asked; the adapter resolves defaults and conflicts
    executable: str | None = None  # --pipeline-bin; None = look on PATH
    license_file: Path | None = None  # --fs-license-file; else $FS_LICENSE, $FREESURFER_HOME
    command_template: str | None = None  # --pipeline command only
    extra_args: tuple[str, ...] = ()  # handed to the wrapped pipeline unchanged
    nthreads: int | None = None
    mem_gb: float | None = None


@dataclass(frozen=True)
class Measurement:
    """How the run is measured: sampling, CPU attribution, meters, comparison trackers."""

    sampling_interval_s: float = 1.0
    attribution: str = "auto"  # auto | cgroup | process
    powercap_root: Path | None = None  # None = /sys/class/powercap
    idle_power_w: float | None = None  # None = estimated from the run, else 0.2 x TDP
    compare_trackers: tuple[str, ...] = ()
    grace_period_s: float = 20.0  # SIGTERM -> SIGKILL for the pipeline


@dataclass(frozen=True)
class Carbon:
    """Where the energy was used, for its carbon intensity and facility overhead."""

    country_code: str | None = None  # ISO 3166 alpha-2 or alpha-3
    region: str | None = None  # ISO 3166-2
    pue: float | None = None  # None = 1.0 (IT energy only)


@dataclass(frozen=True)
class Cleanup:
    """What happens to the pipeline's junk after a successful run."""

    mode: str = "dry-run"  # off | dry-run | delete
    keep: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()


@dataclass(frozen=True)
class Execution:
    """How this invocation runs: scratch folder, plan only, reports, what the user typed."""

    work_dir: Path | None = None  # None = <output_dir>/work
    dry_run: bool = False
    participant_report: bool = True  # the per-participant HTML (--no-report turns it off)
    user_args: tuple[str, ...] = ()  # the invocation as typed, recorded in the footprint


@dataclass(frozen=True)
class GroupSettings:
    """The group level's aggregation and quality inputs."""

    extrapolate: int = 10000
    quality_tsv: Path | None = None
    quality_metric: str | None = None
    quality_higher_is_better: bool | None = None  # None = the metric's known direction


@dataclass(frozen=True)
class RunSettings:
    """Everything one invocation was asked for, by section."""

    inputs: Inputs
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    measurement: Measurement = field(default_factory=Measurement)
    carbon: Carbon = field(default_factory=Carbon)
    cleanup: Cleanup = field(default_factory=Cleanup)
    execution: Execution = field(default_factory=Execution)
    group: GroupSettings = field(default_factory=GroupSettings)
