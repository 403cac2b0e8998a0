"""Writing a measured run's outputs: the footprint JSON, then its HTML report.

Shared by the participant level and ``bids_energy.measure`` so both follow one rule: the
record is validated and written first, and a report problem is a warning that never loses
the measurement.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("bids_energy")


def write_outputs(record: dict, json_path: Path, html_path: Path, report: bool = True) -> Path:
    """Write the footprint (validated, atomic); then, if asked, its HTML report."""
    from bids_energy.footprint import write_footprint

    write_footprint(json_path, record)
    if report:
        try:
            from bids_energy.report.participant import render_participant_report

            render_participant_report(record, html_path)
        except Exception as exc:  # a report problem must never lose the measurement
            log.warning("could not write the HTML report %s: %s", html_path, exc)
    return json_path

