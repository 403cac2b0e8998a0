"""Quality tables as researchers have them, for the group level's cost-against-quality plot.

Three shapes are read (tab-separated):

* bids-energy's own: ``participant``, optional ``session``, ``pipeline``, ``variant`` and a
  metric column (labels may carry ``sub-``/``ses-``);
* BIDS-style: ``participant_id`` (``sub-01``), optional ``session_id`` (``ses-1``), metric
  columns, and optionally ``pipeline``/``variant``;
* MRIQC's group tables as MRIQC writes them (``group_T1w.tsv``): ``bids_name`` such as
  ``sub-01_ses-1_T1w`` and dozens of IQM columns (``cjv``, ``cnr``, ``efc``, ...).

Key columns are whichever of participant, session, pipeline, variant the table has (at least
one): a table without pipeline/variant applies to every run of that participant (and
session); one with only ``pipeline`` (a model's accuracy per ``measure()`` label) to every
run of that pipeline. Several rows per key (MRIQC's ``run-1``/``run-2``) are averaged.
Which column is the metric: ``--quality-metric``, else the only numeric non-key column.
Direction: the user's flag, else MRIQC's documented direction for a known IQM, else higher.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bids_energy.errors import DataError

KEYS = ("participant", "session", "pipeline", "variant")
# Other spellings of the key columns: BIDS's participants.tsv/sessions.tsv names.
ALIASES = {"participant_id": "participant", "subject": "participant", "session_id": "session"}

_MRIQC_T1W = ("MRIQC documentation, 'IQMs for structural images' (mriqc.qc.anatomical, "
              "https://mriqc.readthedocs.io/en/latest/iqms/t1w.html)")
# name -> (direction, what MRIQC's documentation says). Direction "higher", "lower", or
# "target:X" (closer to X is better: ranked by |value - X|, lower is better).
IQM_DIRECTIONS: dict[str, tuple[str, str]] = {
    "cjv": ("lower", "CJV: 'Lower values are better'"),
    "cnr": ("higher", "CNR: 'Higher values indicate better quality'"),
    "efc": ("lower", "EFC: 'Lower values are better'"),
    "fber": ("higher", "FBER: 'Higher values are better'"),
    "qi_1": ("lower", "QI1: 'Lower values are better'"),
    "qi_2": ("lower", "QI2 is the goodness-of-fit error of a chi distribution on the air "
                      "mask (Mortamet 2009): a smaller misfit is better; MRIQC's text states "
                      "no direction, so this one is our reading"),
    **{f"fwhm_{a}": ("lower", "FWHM: 'Lower values are better'") for a in ("avg", "x", "y", "z")},
    **{f"rpve_{t}": ("lower", "rPVe: 'Lower values are better'") for t in ("csf", "gm", "wm")},
    **{f"inu_{s}": ("target:1.0", "INU: 'Values closer to 1.0 are better'")
       for s in ("med", "range")},
    **{f"snr_{t}": ("higher", "SNR: 'Higher values are better' (MRIQC measures page)")
       for t in ("total", "gm", "wm", "csf")},
    **{f"snrd_{t}": ("higher", "SNR (Dietrich): higher is better, as for SNR")
       for t in ("total", "gm", "wm", "csf")},
}

_ENTITY = re.compile(r"(?:^|_)(sub|ses)-([A-Za-z0-9]+)")


@dataclass
class QualityTable:
    table: pd.DataFrame  # the key columns present, and the metric column
    metric: str  # the metric column's name in ``table`` (as shown on the plot)
    higher_is_better: bool
    direction_source: str
    keys: list[str]
    notes: list[str] = field(default_factory=list)


def bids_entities(name: str) -> dict[str, str]:
    """``sub-01_ses-1_run-2_T1w`` -> {"participant": "01", "session": "1"} (pure)."""
    found = dict(_ENTITY.findall(Path(str(name)).name))
    out = {}
    if "sub" in found:
        out["participant"] = found["sub"]
    if "ses" in found:
        out["session"] = found["ses"]
    return out


def direction_for(metric: str, lower_is_better: bool | None) -> tuple[str, str]:
    """(direction, source): the user's choice first, then MRIQC's documented one, else higher."""
    if lower_is_better is not None:
        return ("lower" if lower_is_better else "higher"), "user: command-line flag"
    known = IQM_DIRECTIONS.get(metric)
    if known:
        return known[0], f"{known[1]} ({_MRIQC_T1W})"
    return "higher", "not a known IQM: higher is better assumed (--quality-lower-is-better to flip)"


def normalize(raw: pd.DataFrame, source: str = "quality table", metric: str | None = None,
              lower_is_better: bool | None = None) -> QualityTable:
    """Any of the three shapes -> one keyed table with one metric column (pure)."""
    q = raw.rename(columns={c: ALIASES.get(c, c) for c in raw.columns})
    notes: list[str] = []
    if "bids_name" in q.columns:
        ents = q["bids_name"].astype(str).map(bids_entities)
        for key in ("participant", "session"):
            if key not in q.columns:
                vals = ents.map(lambda e, k=key: e.get(k))
                if vals.notna().any():
                    q[key] = vals
    keys = [k for k in KEYS if k in q.columns]
    if not keys:
        raise DataError(
            f"{source}: no key column; expected participant (or participant_id, or MRIQC's "
            "bids_name), [session], [pipeline], [variant] and a metric column")
    for k in keys:
        q[k] = q[k].astype("string").str.replace(r"^(sub|ses)-", "", regex=True)
    candidates = [c for c in q.columns if c not in (*keys, "bids_name")
                  and pd.to_numeric(q[c], errors="coerce").notna().any()]
    if metric is None:
        if len(candidates) != 1:
            shown = ", ".join(candidates[:12]) + (" ..." if len(candidates) > 12 else "")
            raise DataError(
                f"{source}: {len(candidates)} numeric columns ({shown or 'none'}); choose the "
                "quality metric with --quality-metric NAME" if candidates else
                f"{source}: no numeric metric column besides {', '.join(keys)}")
        metric = candidates[0]
    elif metric not in q.columns:
        raise DataError(f"{source}: no column {metric!r} (--quality-metric); numeric columns: "
                        + ", ".join(candidates[:20]))
    values = pd.to_numeric(q[metric], errors="coerce")
    if values.notna().sum() == 0:
        raise DataError(f"{source}: metric column {metric!r} has no numbers")
    direction, why = direction_for(metric, lower_is_better)
    name = metric
    if direction.startswith("target:"):
        target = float(direction.split(":", 1)[1])
        values = (values - target).abs()
        name = f"|{metric} - {target:g}|"
        direction = "lower"
        notes.append(f"{metric}: closer to {target:g} is better, so the plot ranks the distance")
    out = q[keys].copy()
    out[name] = values
    out = out.dropna(subset=[name])
    n = len(out)
    out = out.groupby(keys, dropna=False, sort=True)[name].mean().reset_index()
    if len(out) < n:
        notes.append(f"{n - len(out)} repeated row(s) per {'/'.join(keys)} averaged "
                     "(e.g. several runs of one participant)")
    return QualityTable(out, name, direction == "higher", why, keys, notes)


def read_quality_table(path: Path, metric: str | None = None,
                       lower_is_better: bool | None = None) -> QualityTable:
    """Read ``path`` (TSV) and normalize it; DataError (exit 65) when it cannot be used."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=True,
                          na_values=["n/a", "N/A", ""])
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read --quality-tsv {path}: {exc}") from exc
    return normalize(raw, f"--quality-tsv {path}", metric, lower_is_better)
