"""The command line's edge of the BIDS-App levels: the parsed namespace becomes a
``RunSettings`` here, once, and nothing past this module reads the namespace.

The application itself (planning, the measured run, the footprint) is ``bids_energy.app``.
"""

from __future__ import annotations

import argparse

from bids_energy.app.settings import (
    Carbon,
    Cleanup,
    Execution,
    GroupSettings,
    Inputs,
    Measurement,
    PipelineSettings,
    RunSettings,
)
from bids_energy.errors import UsageError


def settings_from_args(opts: argparse.Namespace) -> RunSettings:
    """Every option the BIDS-App levels use, by section (pure: nothing is read or made).

    The argparse ``dest`` names are known here and nowhere else; contradicting group-level
    flags are refused here when the group level is asked for (exit 64)."""
    lower = bool(opts.quality_lower_is_better)
    higher = bool(getattr(opts, "quality_higher_is_better", False))
    if lower and higher and "group" in (getattr(opts, "analysis_level", None) or ()):
        raise UsageError("--quality-lower-is-better and --quality-higher-is-better contradict")
    return RunSettings(
        inputs=Inputs(
            bids_dir=opts.bids_dir, output_dir=opts.output_dir,
            participant_labels=tuple(opts.participant_label or ()),
            session_labels=tuple(opts.session_label or ()),
        ),
        pipeline=PipelineSettings(
            name=opts.pipeline, variants=tuple(opts.variant or ()),
            executable=opts.pipeline_bin, license_file=opts.fs_license_file,
            command_template=opts.command_template,
            extra_args=tuple(getattr(opts, "extra_args", None) or ()),
            nthreads=opts.nthreads, mem_gb=opts.mem_gb,
        ),
        measurement=Measurement(
            sampling_interval_s=opts.sampling_interval, attribution=opts.attribution,
            powercap_root=opts.powercap_root, idle_power_w=opts.idle_power_w,
            compare_trackers=tuple(opts.compare_trackers or ()),
            grace_period_s=opts.grace_period,
        ),
        carbon=Carbon(country_code=opts.country_code, region=opts.region, pue=opts.pue),
        cleanup=Cleanup(mode=opts.cleanup, keep=tuple(opts.keep or ()),
                        delete=tuple(opts.delete or ())),
        execution=Execution(
            work_dir=opts.work_dir, dry_run=bool(opts.dry_run),
            participant_report=not opts.no_report,
            user_args=tuple(getattr(opts, "argv", None) or ()),
        ),
        group=GroupSettings(
            extrapolate=opts.extrapolate, quality_tsv=opts.quality_tsv,
            quality_metric=opts.quality_metric,
            quality_higher_is_better=False if lower else True if higher else None,
        ),
    )

