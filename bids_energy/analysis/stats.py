"""Group-level arithmetic on the flat footprint table: pure functions, no I/O.

Inputs are the DataFrames :mod:`bids_energy.analysis.collect` builds (one row per run, units in
column names). Only ``status == "success"`` rows are ever averaged; callers pass the full table
and these functions filter, so failed and interrupted runs cannot leak into a mean.

Confidence intervals: the change of a variant against its pipeline's baseline is computed
per participant (paired, same participant/session/device), as a percentage of that
participant's baseline, and summarised as mean +- t(0.975, n-1) x sd / sqrt(n). scipy is not a
dependency, so the t quantile comes from a table (df 1-30) and the Cornish-Fisher expansion
beyond (error below 1e-4 for df > 30).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from bids_energy.pipelines.variant import BASELINE as NEUTRAL_BASELINE

GROUP_KEYS = ["pipeline", "variant", "device"]
PAIR_KEYS = ["participant", "session", "device"]
BASELINE = NEUTRAL_BASELINE  # the variant the others are compared against
GPU_DEVICES = ("gpu", "cuda")

# Two-sided 95% Student t quantiles t(0.975, df), df = 1..30 (standard statistical tables).
_T975 = (
    12.7062,
    4.3027,
    3.1824,
    2.7764,
    2.5706,
    2.4469,
    2.3646,
    2.3060,
    2.2622,
    2.2281,
    2.2010,
    2.1788,
    2.1604,
    2.1448,
    2.1314,
    2.1199,
    2.1098,
    2.1009,
    2.0930,
    2.0860,
    2.0796,
    2.0739,
    2.0687,
    2.0639,
    2.0595,
    2.0555,
    2.0518,
    2.0484,
    2.0452,
    2.0423,
)
_Z975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """t(0.975, df): the multiplier of a two-sided 95% interval on a mean of df+1 values."""
    if df < 1:
        raise ValueError("a t interval needs at least 2 values (df >= 1)")
    if df <= len(_T975):
        return _T975[df - 1]
    return cornish_fisher_t(_Z975, df)


def cornish_fisher_t(z: float, df: float) -> float:
    """Student t quantile from the normal quantile z (expansion in 1/df, four terms)."""
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def mean_ci(values: Iterable[float]) -> dict:
    """Mean, sample sd (n-1), n and the 95% t interval of the mean (None below n = 2)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    n = int(v.size)
    if n == 0:
        return {"mean": math.nan, "sd": math.nan, "n": 0, "lo": None, "hi": None}
    mean = float(v.mean())
    if n < 2:
        return {"mean": mean, "sd": math.nan, "n": 1, "lo": None, "hi": None}
    sd = float(v.std(ddof=1))
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return {"mean": mean, "sd": sd, "n": n, "lo": mean - half, "hi": mean + half}


def successful(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "success"]


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """The study table (as the carbon study reports it): per pipeline/variant/device, mean and sd of runtime (h),
    CPU time (h), energy (Wh) and CO2e (g), with n."""
    ok = successful(df)
    cols = ["wall_h", "cpu_h", "energy_wh", "co2e_g"]
    if ok.empty:
        return pd.DataFrame(
            columns=GROUP_KEYS + ["n"] + [f"{c}_{s}" for c in cols for s in ("mean", "sd")]
        )
    g = ok.groupby(GROUP_KEYS, dropna=False, sort=True)
    out = g.size().rename("n").to_frame()
    for c in cols:
        out[f"{c}_mean"] = g[c].mean()
        out[f"{c}_sd"] = g[c].std(ddof=1)
    return out.reset_index()


def paired_changes(df: pd.DataFrame, metric: str = "co2e_g") -> pd.DataFrame:
    """Per non-baseline variant: per-participant % change of ``metric`` against the baseline
    variant of the same pipeline (same participant, session and device), with its 95% CI."""
    ok = successful(df)[["pipeline", "variant", *PAIR_KEYS, metric]].copy()
    ok["session"] = ok["session"].fillna("")
    columns = [
        "pipeline",
        "variant",
        "device",
        "metric",
        "n_pairs",
        "baseline_mean",
        "variant_mean",
        "change_pct_mean",
        "change_pct_sd",
        "ci_lo_pct",
        "ci_hi_pct",
    ]
    rows = []
    for pipeline, sub in ok.groupby("pipeline", sort=True):
        base = sub[sub["variant"] == BASELINE].drop_duplicates(PAIR_KEYS, keep="last")
        if base.empty:
            continue
        for (variant, device), var in sub[sub["variant"] != BASELINE].groupby(
            ["variant", "device"], sort=True
        ):
            var = var.drop_duplicates(PAIR_KEYS, keep="last")
            m = var.merge(base, on=PAIR_KEYS, suffixes=("_v", "_b"))
            m = m[(m[f"{metric}_b"] > 0) & m[f"{metric}_v"].notna()]
            if m.empty:
                continue
            pct = 100.0 * (m[f"{metric}_v"] - m[f"{metric}_b"]) / m[f"{metric}_b"]
            ci = mean_ci(pct.tolist())
            rows.append(
                {
                    "pipeline": pipeline,
                    "variant": variant,
                    "device": device,
                    "metric": metric,
                    "n_pairs": ci["n"],
                    "baseline_mean": float(m[f"{metric}_b"].mean()),
                    "variant_mean": float(m[f"{metric}_v"].mean()),
                    "change_pct_mean": ci["mean"],
                    "change_pct_sd": ci["sd"],
                    "ci_lo_pct": ci["lo"],
                    "ci_hi_pct": ci["hi"],
                }
            )
    return pd.DataFrame(rows, columns=columns)


def _is_gpu(device: str) -> bool:
    return str(device).lower().startswith(GPU_DEVICES)


def extrapolate(df: pd.DataFrame, n_scans: int) -> pd.DataFrame:
    """What ``n_scans`` runs would take per pipeline/variant/device (the headline figure of the group report).

    ``run_days`` is wall-clock days of back-to-back runs (what the study's summary calls cpu-days for CPU
    runs); ``cpu_days`` is CPU time in core-days; ``gpu_days`` is the wall time of GPU runs.
    Energy and CO2e carry the 95% interval of the mean scaled by N.
    """
    rows = []
    for key, g in successful(df).groupby(GROUP_KEYS, sort=True, dropna=False):
        pipeline, variant, device = key
        wall = mean_ci(g["wall_h"].tolist())
        cpu = mean_ci(g["cpu_h"].tolist())
        energy = mean_ci(g["energy_wh"].tolist())
        co2 = mean_ci(g["co2e_g"].tolist())

        def scaled(ci: dict, bound: str, factor: float) -> float | None:
            return None if ci[bound] is None else ci[bound] * n_scans * factor

        rows.append(
            {
                "pipeline": pipeline,
                "variant": variant,
                "device": device,
                "n_runs": len(g),
                "n_scans": n_scans,
                "run_days": wall["mean"] * n_scans / 24,
                "cpu_days": cpu["mean"] * n_scans / 24,
                "gpu_days": wall["mean"] * n_scans / 24 if _is_gpu(device) else 0.0,
                "energy_kwh": energy["mean"] * n_scans / 1000,
                "energy_kwh_lo": scaled(energy, "lo", 1 / 1000),
                "energy_kwh_hi": scaled(energy, "hi", 1 / 1000),
                "co2e_kg": co2["mean"] * n_scans / 1000,
                "co2e_kg_lo": scaled(co2, "lo", 1 / 1000),
                "co2e_kg_hi": scaled(co2, "hi", 1 / 1000),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "pipeline",
            "variant",
            "device",
            "n_runs",
            "n_scans",
            "run_days",
            "cpu_days",
            "gpu_days",
            "energy_kwh",
            "energy_kwh_lo",
            "energy_kwh_hi",
            "co2e_kg",
            "co2e_kg_lo",
            "co2e_kg_hi",
        ],
    )


def pareto_front(
    costs: Sequence[float], qualities: Sequence[float], higher_is_better: bool = True
) -> list[bool]:
    """True where no other point is at least as cheap and as good, and strictly better in one."""
    q = [v if higher_is_better else -v for v in qualities]
    flags = []
    for i, (ci, qi) in enumerate(zip(costs, q, strict=True)):
        dominated = any(
            cj <= ci and qj >= qi and (cj < ci or qj > qi)
            for j, (cj, qj) in enumerate(zip(costs, q, strict=True))
            if j != i
        )
        flags.append(not dominated)
    return flags


def quality_points(
    df: pd.DataFrame,
    quality: pd.DataFrame,
    metric: str,
    higher_is_better: bool = True,
    cost: str = "co2e_g",
) -> pd.DataFrame:
    """Mean cost and mean quality per pipeline/variant/device over runs that have both."""
    ok = successful(df).copy()
    # Match on the keys the quality table has: without pipeline/variant a participant's
    # quality applies to all their runs, without participant a pipeline's to all its runs.
    keys = [k for k in ("participant", "pipeline", "variant") if k in quality.columns]
    if "session" in quality.columns:
        keys.append("session")
        ok["session"] = ok["session"].fillna("")
        quality = quality.assign(session=quality["session"].fillna(""))
    m = ok.merge(quality[[*keys, metric]], on=keys, how="inner").dropna(subset=[metric, cost])
    if m.empty:
        return pd.DataFrame(columns=[*GROUP_KEYS, "n", "cost_mean", "quality_mean", "pareto"])
    g = m.groupby(GROUP_KEYS, sort=True)
    out = pd.DataFrame(
        {"n": g.size(), "cost_mean": g[cost].mean(), "quality_mean": g[metric].mean()}
    ).reset_index()
    out["pareto"] = pareto_front(
        out["cost_mean"].tolist(), out["quality_mean"].tolist(), higher_is_better
    )
    return out


def step_changes(steps: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """Per variant, mean energy of each step against the same pipeline's baseline.

    A step absent from a run counts as 0 Wh for that run, so a step a variant removes shows as
    a full decrease rather than disappearing from the table.
    """
    columns = [
        "pipeline",
        "variant",
        "device",
        "step",
        "baseline_wh",
        "variant_wh",
        "delta_wh",
        "delta_pct",
    ]
    ok = successful(df)
    if steps.empty or ok.empty:
        return pd.DataFrame(columns=columns)
    steps = steps[steps["run_id"].isin(ok["run_id"])]
    runs_per_group = ok.groupby(GROUP_KEYS).size().rename("n_runs").reset_index()
    totals = steps.groupby([*GROUP_KEYS, "step"])["energy_wh"].sum().reset_index()
    means = totals.merge(runs_per_group, on=GROUP_KEYS)
    means["mean_wh"] = means["energy_wh"] / means["n_runs"]
    rows = []
    for (pipeline, device), sub in means.groupby(["pipeline", "device"], sort=True):
        base = sub[sub["variant"] == BASELINE].set_index("step")["mean_wh"]
        if base.empty:
            continue
        for variant, var in sub[sub["variant"] != BASELINE].groupby("variant", sort=True):
            v = var.set_index("step")["mean_wh"]
            for step in sorted(set(base.index) | set(v.index)):
                b, x = float(base.get(step, 0.0)), float(v.get(step, 0.0))
                rows.append(
                    {
                        "pipeline": pipeline,
                        "variant": variant,
                        "device": device,
                        "step": step,
                        "baseline_wh": b,
                        "variant_wh": x,
                        "delta_wh": x - b,
                        "delta_pct": 100.0 * (x - b) / b if b > 0 else None,
                    }
                )
    return pd.DataFrame(rows, columns=columns)
