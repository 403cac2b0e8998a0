"""Phases in the reports: per run (bar and bands) and across variants (group level).

Phases are what a job marked itself (``bids_energy.phase``, or lines in
``$BIDS_ENERGY_PHASE_FILE``); the tables here are pure, the charts come from ``report.svg``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from markupsafe import Markup

from bids_energy.meters.phaselog import NO_PHASE
from bids_energy.report import svg

if TYPE_CHECKING:  # pandas only for the group level: the participant report stays light
    import pandas as pd

MAX_BANDS = 8  # distinct phases drawn as bands on the power plot
MAX_SEGMENTS = 500  # band segments in all (a long training run enters phases thousands of times)
COLUMNS = ["pipeline", "device", "phase", "variant", "n_runs", "energy_wh_mean",
           "energy_share_mean", "cpu_s_mean", "time_s_mean"]


def run_phase_rows(record: dict) -> list[dict]:
    """The footprint's phase rows, largest energy first (the participant report's table)."""
    block = record.get("phases") if isinstance(record.get("phases"), dict) else {}
    rows = [r for r in block.get("rows") or [] if isinstance(r, dict) and r.get("phase")]
    return sorted(rows, key=lambda r: -(r.get("energy_wh") or r.get("cpu_s") or 0))


def phase_bands(record: dict, div: float = 1.0) -> list[dict]:
    """Bands for the power plot: one row per phase (the first MAX_BANDS by first appearance),
    one segment per time it was current (up to MAX_SEGMENTS in all); "(no phase)" is not
    drawn. Older records without spans get first-to-last-seen bands from their rows."""
    block = record.get("phases") if isinstance(record.get("phases"), dict) else {}
    spans = [s for s in block.get("spans") or [] if isinstance(s, list) and len(s) == 3
             and all(isinstance(v, (int, float)) for v in s[1:])]
    if not spans:
        spans = [[r["phase"], r["first_seen_s"], r["last_seen_s"]] for r in run_phase_rows(record)
                 if r.get("phase") != NO_PHASE
                 and isinstance(r.get("first_seen_s"), (int, float))
                 and isinstance(r.get("last_seen_s"), (int, float))]
    names = list(dict.fromkeys(s[0] for s in sorted(spans, key=lambda s: s[1])))[:MAX_BANDS]
    return [{"label": f"phase: {n}", "x0": a / div, "x1": b / div}
            for n, a, b in spans if n in names][:MAX_SEGMENTS]


def phase_chart(rows: list[dict]) -> str:
    """Bars of energy by phase, with each phase's share of the job's energy."""
    if not rows:
        return ""
    return svg.hbar_chart(
        [str(r["phase"]) for r in rows], [r.get("energy_wh") or 0 for r in rows], "energy (Wh)",
        "Energy by phase (share of the job energy)",
        notes=[f"{100 * r['energy_share']:.0f}%" if isinstance(r.get("energy_share"), (int, float))
               else "" for r in rows])


def phase_means(phases: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Mean per successful run of each phase's energy, share, CPU and time, per variant.

    A phase missing from a run counts as 0 for that run, so variants compare like for like.
    """
    import pandas as pd

    from bids_energy.analysis.stats import GROUP_KEYS, successful

    ok = successful(runs)
    if phases.empty or ok.empty:
        return pd.DataFrame(columns=COLUMNS)
    ph = phases[phases["run_id"].isin(ok["run_id"])]
    if ph.empty:
        return pd.DataFrame(columns=COLUMNS)
    n_runs = ok.groupby(GROUP_KEYS).size().rename("n_runs").reset_index()
    sums = (ph.groupby([*GROUP_KEYS, "phase"])[["energy_wh", "energy_share", "cpu_s", "time_s"]]
            .sum().reset_index().merge(n_runs, on=GROUP_KEYS))
    for col in ("energy_wh", "energy_share", "cpu_s", "time_s"):
        sums[f"{col}_mean"] = sums[col] / sums["n_runs"]
    return sums[COLUMNS].sort_values(["pipeline", "device", "phase", "variant"],
                                     kind="stable").reset_index(drop=True)


def phase_sections(phases: pd.DataFrame, runs: pd.DataFrame) -> list[dict]:
    """One section per pipeline/device whose runs marked phases: bars of mean energy per
    phase and variant, and the table behind them."""
    table = phase_means(phases, runs)
    out = []
    for (pipeline, device), sub in table.groupby(["pipeline", "device"], sort=True):
        order = (sub.groupby("phase")["energy_wh_mean"].max()
                 .sort_values(ascending=False).index.tolist())
        sub = sub.set_index("phase").loc[order].reset_index()
        labels = [f"{r.phase} · {r.variant}" for r in sub.itertuples()]
        notes = [f"{100 * r.energy_share_mean:.0f}%" for r in sub.itertuples()]
        chart = svg.hbar_chart(labels, sub["energy_wh_mean"].tolist(),
                               "mean energy per run (Wh)",
                               f"Phases of {pipeline} ({device}) by variant", notes=notes)
        out.append({
            "pipeline": pipeline, "device": device, "svg": Markup(chart),
            "rows": [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
                     for r in sub.to_dict("records")],
        })
    return out
