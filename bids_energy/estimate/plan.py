"""Predict a whole study from a pilot: N participants x the per-participant mean.

The interval is a 95% Student-t interval on the per-participant mean, scaled by N. It
covers the uncertainty of the mean, not the spread of single participants, and assumes
the pilot participants are like the rest of the study.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from bids_energy.errors import DataError, InputMissingError

METHOD = "t-interval: N x (mean +/- t(0.975, n-1) x sd / sqrt(n)) over pilot participants"
METRICS = {  # output name -> (footprint path, scale to the output unit)
    "wall_h": (("wall_s",), 1 / 3600),
    "cpu_days": (("cpu_s",), 1 / 86400),
    "energy_kwh": (("energy", "job_energy_wh"), 1 / 1000),
    "co2e_kg": (("carbon", "co2e_g"), 1 / 1000),
}
_T975 = (  # two-sided 95% Student-t quantiles for 1..30 degrees of freedom
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t975(df: int) -> float:
    """97.5% quantile of Student's t; Cornish-Fisher expansion past 30 df (error < 1e-3)."""
    if df < 1:
        raise ValueError("need at least 1 degree of freedom")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


@dataclass(frozen=True)
class Prediction:
    total: float
    low: float | None
    high: float | None


def predict_total(values: list[float], n_participants: int) -> Prediction:
    """N x mean with a 95% t-interval; no interval from a single pilot participant."""
    if not values:
        raise DataError("no pilot values to predict from")
    mean = statistics.fmean(values)
    if len(values) < 2:
        return Prediction(n_participants * mean, None, None)
    half = t975(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return Prediction(
        n_participants * mean,
        n_participants * max(mean - half, 0.0),
        n_participants * (mean + half),
    )


def _get(record: dict, path: tuple[str, ...]) -> float | None:
    cur = record
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return None if cur is None else float(cur)


def group_key(record: dict) -> tuple[str, str, str]:
    p = record.get("pipeline", {}) or {}
    variants = p.get("variants") or []
    return (str(p.get("name", "?")), "+".join(variants) or "-", str(p.get("device") or "cpu"))


def read_footprints(out_dir: Path) -> list[dict]:
    """Successful footprint records under ``out_dir`` (files ``*_footprint.json``)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise InputMissingError(f"--from directory not found: {out_dir}")
    records = []
    for path in sorted(out_dir.rglob("*_footprint.json")):
        try:
            rec = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read footprint {path}: {exc}") from exc
        if rec.get("status") == "success":
            records.append(rec)
    return records


def plan_study(records: list[dict], n_participants: int) -> list[dict]:
    """One row per pipeline/variant/device: pilot size and predicted totals for N."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for rec in records:
        groups.setdefault(group_key(rec), []).append(rec)
    rows = []
    for (name, variant, device), recs in sorted(groups.items()):
        row: dict = {
            "pipeline": name,
            "variant": variant,
            "device": device,
            "n_pilot": len(recs),
            "n_participants": n_participants,
        }
        for metric, (path, scale) in METRICS.items():
            vals = [v * scale for v in (_get(r, path) for r in recs) if v is not None]
            if vals:
                pred = predict_total(vals, n_participants)
                row[metric] = pred.total
                row[f"{metric}_low"] = pred.low
                row[f"{metric}_high"] = pred.high
            else:
                row[metric] = row[f"{metric}_low"] = row[f"{metric}_high"] = None
        row["method"] = METHOD
        rows.append(row)
    return rows
