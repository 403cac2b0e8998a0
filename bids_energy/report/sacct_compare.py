"""Compare each run's own energy figure with what Slurm's accounting says (GA4HPC from sacct).

The Slurm group job saves ``sacct -j <array> -P`` output as ``sacct_<array>.tsv`` in the output
folder. Each accounting record is turned into energy the GA4HPC way by the estimate package
(:func:`bids_energy.estimate.green_algorithms.job_energy_wh`, its default constants), with the
PUE and carbon intensity taken from the matching footprint so that only the *energy method*
differs between the two CO2e figures.

Reading is the only I/O (:func:`read_sacct_files`); matching and arithmetic are pure
(:func:`attach_sacct`, :func:`sacct_summary`). Nothing here is fatal: a malformed file or a
record that matches no footprint is one ``logging.warning`` each, also listed in the report.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd

from bids_energy.analysis.collect import finite
from bids_energy.errors import DataError
from bids_energy.estimate import green_algorithms as ga
from bids_energy.estimate.sacct import SacctJob, parse_sacct

log = logging.getLogger(__name__)

SACCT_GLOB = "sacct_*.tsv"
# Extra columns of group_footprint.tsv when sacct records are present; units in the names.
SACCT_COLUMNS = [
    "sacct_job_id",
    "sacct_state",
    "sacct_elapsed_s",
    "sacct_total_cpu_s",
    "sacct_max_rss_gb",
    "sacct_energy_wh",
    "sacct_co2e_g",
    "sacct_method",
]
SACCT_NUMERIC = [
    "sacct_elapsed_s",
    "sacct_total_cpu_s",
    "sacct_max_rss_gb",
    "sacct_energy_wh",
    "sacct_co2e_g",
]


def find_sacct_files(output_dir: Path) -> list[Path]:
    """``sacct_*.tsv`` directly in ``output_dir`` (where the Slurm group job writes them)."""
    try:
        return sorted(p for p in Path(output_dir).glob(SACCT_GLOB) if p.is_file())
    except OSError as exc:
        log.warning("cannot list %s for sacct records: %s", output_dir, exc)
        return []


def read_sacct_files(paths: list[Path]) -> tuple[list[SacctJob], list[str]]:
    """Jobs of every readable file (later files win a repeated job id) and one warning per
    file that could not be read or parsed."""
    jobs: dict[str, SacctJob] = {}
    warnings: list[str] = []
    for path in paths:
        try:
            parsed = parse_sacct(Path(path).read_text("utf-8"))
        except (OSError, UnicodeDecodeError, DataError, ValueError) as exc:
            msg = f"sacct file {Path(path).name} skipped: {exc}"
            log.warning(msg)
            warnings.append(msg)
            continue
        for job in parsed:
            jobs[job.job_id] = job
    return list(jobs.values()), warnings


def _id(value) -> str | None:
    """Slurm ids as text whether the footprint stored them as numbers or strings."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


_finite = finite


def split_array_id(job_id: str) -> tuple[str, str | None]:
    """``"1002_3"`` -> ("1002", "3"); ``"1001"`` -> ("1001", None)."""
    base, sep, task = job_id.partition("_")
    return (base, task) if sep else (job_id, None)


def sacct_figures(job: SacctJob, pue, ci_g_per_kwh) -> dict:
    """One job's GA4HPC estimate with default constants and the footprint's PUE and carbon
    intensity; CO2e is None when the footprint lacks either (energy does not need them)."""
    pue_v, ci_v = _finite(pue), _finite(ci_g_per_kwh)
    known = pue_v is not None and ci_v is not None
    c = ga.JobConstants(
        pue=pue_v if known else 1.0,
        ci_g_per_kwh=ci_v if known else ga.JobConstants().ci_g_per_kwh,
        ci_source="footprint carbon block",
    )
    e = ga.job_energy_wh(job, c)
    return {
        "sacct_job_id": job.job_id,
        "sacct_state": job.state,
        "sacct_elapsed_s": job.elapsed_s,
        "sacct_total_cpu_s": job.total_cpu_s,
        "sacct_max_rss_gb": job.max_rss_gb,
        "sacct_energy_wh": e["energy_wh"],
        "sacct_co2e_g": e["co2e_g"] if known else None,
        "sacct_method": ga.GA4HPC_METHOD,
    }


def _index(runs: pd.DataFrame) -> tuple[dict, dict]:
    by_task: dict[tuple[str, str], list[int]] = {}
    by_job: dict[str, list[int]] = {}
    arr = runs.get("slurm_array_job_id", pd.Series(None, index=runs.index))
    task = runs.get("slurm_array_task_id", pd.Series(None, index=runs.index))
    for i, a, t, j in zip(runs.index, arr, task, runs["slurm_job_id"], strict=True):
        a, t, j = _id(a), _id(t), _id(j)
        if a is not None and t is not None:
            by_task.setdefault((a, t), []).append(i)
        if j is not None:
            by_job.setdefault(j, []).append(i)
    return by_task, by_job


def attach_sacct(runs: pd.DataFrame, jobs: list[SacctJob]) -> tuple[pd.DataFrame, list[str]]:
    """``runs`` with :data:`SACCT_COLUMNS` filled where a job matches exactly one run.

    ``<array>_<task>`` matches the footprint's ``context.slurm.array_job_id``/``array_task_id``
    (else its ``job_id``); a plain id matches ``job_id``. A record matching no run, or several,
    is left out with one warning each.
    """
    out = runs.copy()
    for col in SACCT_COLUMNS:
        out[col] = None
    by_task, by_job = _index(runs)
    warnings: list[str] = []
    for job in jobs:
        base, task = split_array_id(job.job_id)
        hits = by_task.get((base, task), []) if task is not None else []
        hits = hits or by_job.get(job.job_id, [])
        if len(hits) != 1:
            why = "no footprint" if not hits else f"{len(hits)} runs (ambiguous)"
            msg = f"sacct job {job.job_id} ({job.state or 'state unknown'}) matches {why}"
            log.warning(msg)
            warnings.append(msg)
            continue
        i = hits[0]
        for k, v in sacct_figures(job, runs.at[i, "pue"], runs.at[i, "ci_g_per_kwh"]).items():
            out.at[i, k] = v
    for col in SACCT_NUMERIC:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out, warnings


def _ratio(a, b) -> float | None:
    a, b = _finite(a), _finite(b)
    return a / b if a is not None and b is not None and b > 0 else None


def comparison_rows(runs: pd.DataFrame) -> list[dict]:
    """Per matched run: our figures beside sacct's and the ratio sacct / ours."""
    if "sacct_job_id" not in runs.columns:
        return []
    rows = []
    for r in runs[runs["sacct_job_id"].notna()].to_dict("records"):
        r = {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        r["sacct_wall_h"] = (
            r["sacct_elapsed_s"] / 3600 if r["sacct_elapsed_s"] is not None else None
        )
        r["sacct_cpu_h"] = (
            r["sacct_total_cpu_s"] / 3600 if r["sacct_total_cpu_s"] is not None else None
        )
        r["energy_ratio"] = _ratio(r["sacct_energy_wh"], r["energy_wh"])
        r["co2e_ratio"] = _ratio(r["sacct_co2e_g"], r["co2e_g"])
        rows.append(r)
    return rows


def sacct_summary(rows: list[dict]) -> dict:
    """Totals over successful matched runs with both energies, their ratio and the median
    per-run ratio (pure)."""
    ok = [r for r in rows if r.get("status") == "success" and r.get("energy_ratio") is not None]
    ours = sum(r["energy_wh"] for r in ok)
    theirs = sum(r["sacct_energy_wh"] for r in ok)
    ratios = sorted(r["energy_ratio"] for r in ok)
    median = None
    if ratios:
        mid = len(ratios) // 2
        median = ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2
    return {
        "n": len(ok),
        "ours_wh": ours,
        "sacct_wh": theirs,
        "ratio_of_totals": theirs / ours if ours > 0 else None,
        "ratio_median": median,
    }


def constants() -> dict:
    """The GA4HPC constants the comparison uses, for the report's plain-words note."""
    c = ga.JobConstants()
    return {
        "tdp_per_core_w": c.tdp_per_core_w,
        "gpu_tdp_w": c.gpu_tdp_w,
        "mem_power_w_per_gb": c.mem_power_w_per_gb,
        "source": ga.GA_SOURCE,
        "method": ga.GA4HPC_METHOD,
    }
