"""The group level: read what the participant level wrote, aggregate, report."""

from __future__ import annotations

from bids_energy.app.settings import RunSettings
from bids_energy.errors import InputMissingError


def run_group(settings: RunSettings) -> int:
    from bids_energy.report.group import run_group_level

    out, g = settings.inputs.output_dir, settings.group
    if not out.is_dir():
        raise InputMissingError(f"output_dir {out} does not exist: run the participant level first")
    result = run_group_level(out, extrapolate=g.extrapolate, quality_tsv=g.quality_tsv,
                             quality_higher_is_better=g.quality_higher_is_better,
                             quality_metric=g.quality_metric)
    print(f"group: {result['n_ok']} successful run(s), {result['n_failed']} failed/interrupted, "
          f"{result['n_skipped']} unreadable file(s) skipped")
    print(f"group table: {result['tsv']}")
    print(f"group report: {result['html']}")
    return 0
