"""The comparison trackers beside our figure: rows per footprint, ratios per group (pure).

The ratio is like for like: the tracker's energy *before* its PUE (``it_energy_wh``)
over our job's IT energy (``energy.job_energy_wh``), so a PUE difference does not pass
for a measurement difference; the PUE each one used is shown next to it. Pure functions
of a footprint (participant report) or of the run table (group report).
"""

from __future__ import annotations

import math

import pandas as pd

from bids_energy.trackers.registry import ESTIMATE_ROW, ROWS

ROW_NAMES: tuple[str, ...] = (*(r for rows in ROWS.values() for r in rows), ESTIMATE_ROW)
LABELS = {
    "codecarbon-machine": "CodeCarbon (machine mode)",
    "codecarbon-process": "CodeCarbon (process mode)",
    "codecarbon": "CodeCarbon (machine mode)",  # records written before the per-mode rows
    "eco2ai": "eco2AI",
    "carbontracker": "carbontracker",
    "zeus": "Zeus (ZeusMonitor)",
    ESTIMATE_ROW: "Green Algorithms (estimate)",
}
LEGACY_BILLS = {
    "codecarbon": "CodeCarbon bills the whole machine (every process on the node, all sockets "
    "and a flat RAM figure); our figure is attributed to this job's processes.",
}
GROUP_KEYS = ["pipeline", "variant", "device"]


def ratio_column(row_name: str) -> str:
    """``codecarbon-machine`` -> ``ratio_codecarbon_machine`` (a group TSV column)."""
    return "ratio_" + row_name.replace("-", "_")


RATIO_COLUMNS: list[str] = [ratio_column(n) for n in ROW_NAMES]


def _num(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def _it_wh(t: dict) -> float | None:
    it = _num(t.get("it_energy_wh"))
    return it if it is not None else _num(t.get("energy_wh"))


def participant_rows(rec: dict) -> list[dict]:
    """Rows for the participant report's tracker table (any key may be missing)."""
    trackers = rec.get("trackers") if isinstance(rec.get("trackers"), dict) else {}
    ours = _num((rec.get("energy") or {}).get("job_energy_wh")) if isinstance(
        rec.get("energy"), dict) else None  # fmt: skip
    out = []
    for name, t in trackers.items():
        t = t if isinstance(t, dict) else {}
        it = _it_wh(t)
        ok = t.get("status") == "ok" and it is not None and ours
        comps = t.get("components_wh") if isinstance(t.get("components_wh"), dict) else {}
        out.append({
            "name": name,
            "label": LABELS.get(name, name),
            "status": t.get("status") or "unknown",
            "energy_wh": _num(t.get("energy_wh")),
            "it_energy_wh": it if t.get("status") == "ok" else None,
            "ours_wh": ours,
            "ratio": it / ours if ok else None,
            "co2e_g": _num(t.get("co2e_g")),
            "ci_g_per_kwh": _num(t.get("ci_g_per_kwh")),
            "pue": _num(t.get("pue")),
            "components": ", ".join(f"{k} {v:.3g}" for k, v in comps.items()
                                    if _num(v) is not None),  # fmt: skip
            "bills": t.get("bills") or LEGACY_BILLS.get(name, t.get("note") or ""),
            "reason": t.get("reason") or t.get("error"),
            "notes": [str(n) for n in (t.get("notes") or []) if n],
            "version": t.get("version"),
        })
    return out


def run_ratios(rec: dict) -> dict[str, float | None]:
    """One ratio column per known tracker row for the group table (None where not ok)."""
    out: dict[str, float | None] = dict.fromkeys(RATIO_COLUMNS)
    legacy = None
    for row in participant_rows(rec):
        if row["name"] == "codecarbon":  # records from before the per-mode rows
            legacy = row["ratio"]
        elif row["name"] in ROW_NAMES and row["ratio"] is not None:
            out[ratio_column(row["name"])] = row["ratio"]
    col = ratio_column("codecarbon-machine")
    if out[col] is None:
        out[col] = legacy
    return out


def group_ratio_table(runs: pd.DataFrame) -> list[dict]:
    """Per pipeline x variant x device x tracker: how far the tracker sits from us.

    Mean and standard deviation of the per-run ratio (tracker IT energy / ours), with its
    range, over successful runs where the tracker returned a figure.
    """
    present = [c for c in RATIO_COLUMNS if c in runs.columns]
    if not present or runs.empty:
        return []
    ok = runs[runs["status"] == "success"]
    rows = []
    for key, g in ok.groupby(GROUP_KEYS, sort=True, dropna=False):
        for name, col in zip(ROW_NAMES, RATIO_COLUMNS, strict=True):
            if col not in g.columns:
                continue
            r = pd.to_numeric(g[col], errors="coerce").dropna()
            if r.empty:
                continue
            rows.append({
                **dict(zip(GROUP_KEYS, key, strict=True)),
                "tracker": LABELS.get(name, name),
                "n": int(len(r)),
                "ratio_mean": float(r.mean()),
                "ratio_sd": float(r.std(ddof=1)) if len(r) > 1 else None,
                "ratio_min": float(r.min()),
                "ratio_max": float(r.max()),
            })
    return rows
