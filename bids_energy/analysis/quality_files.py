"""Quality files pipelines wrote beside their footprints, as the group level's quality table.

The demo pipeline writes ``<prefix>_desc-quality.json`` (:mod:`bids_energy.quality`) next to
``<prefix>_footprint.json``; the footprint says which pipeline and variant produced it, so the
pair becomes one row of the same table ``--quality-tsv`` gives (participant, session,
pipeline, variant, metric). A quality file whose footprint is missing or unreadable is
skipped with a warning: without it the run it scores is unknown.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from bids_energy import quality
from bids_energy.analysis.collect import variant_label

log = logging.getLogger(__name__)

FOOTPRINT_SUFFIX = "_footprint.json"


def find_quality_files(output_dir: Path) -> list[Path]:
    return sorted(Path(output_dir).rglob(f"sub-*{quality.SUFFIX}"))


def read_quality_files(output_dir: Path) -> tuple[pd.DataFrame | None, str | None, bool]:
    """(table, metric, higher_is_better) from every quality file; (None, None, True) if none."""
    rows = []
    metric = None
    for path in find_quality_files(output_dir):
        fp = path.with_name(path.name[: -len(quality.SUFFIX)] + FOOTPRINT_SUFFIX)
        try:
            q = json.loads(path.read_text())
            rec = json.loads(fp.read_text())
            pipe = rec["pipeline"]
            row = {
                "participant": str(rec["participant"]),
                "session": str(rec["session"]) if rec.get("session") else "",
                "pipeline": str(pipe["name"]),
                "variant": variant_label(pipe.get("variants")),
                **{k: float(v) for k, v in q["metrics"].items()},
            }
            metric = metric or q.get("primary_metric", quality.PRIMARY_METRIC)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("skipping quality file %s: %s", path, exc)
            continue
        rows.append(row)
    if not rows or metric is None:
        return None, None, True
    table = pd.DataFrame(rows)
    if metric not in table.columns:
        return None, None, True
    return table, metric, quality.HIGHER_IS_BETTER.get(metric, True)
