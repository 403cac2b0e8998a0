"""The group level: read what the participant level wrote, aggregate, report."""

from __future__ import annotations

from bids_energy.errors import InputMissingError, UsageError


def run_group(opts) -> int:
    from bids_energy.report.group import run_group_level

    out = opts.output_dir
    if not out.is_dir():
        raise InputMissingError(f"output_dir {out} does not exist: run the participant level first")
    if opts.quality_lower_is_better and getattr(opts, "quality_higher_is_better", False):
        raise UsageError("--quality-lower-is-better and --quality-higher-is-better contradict")
    higher = (False if opts.quality_lower_is_better
              else True if getattr(opts, "quality_higher_is_better", False) else None)
    result = run_group_level(out, extrapolate=opts.extrapolate, quality_tsv=opts.quality_tsv,
                             quality_higher_is_better=higher,
                             quality_metric=getattr(opts, "quality_metric", None))
    print(f"group: {result['n_ok']} successful run(s), {result['n_failed']} failed/interrupted, "
          f"{result['n_skipped']} unreadable file(s) skipped")
    print(f"group table: {result['tsv']}")
    print(f"group report: {result['html']}")
    return 0
