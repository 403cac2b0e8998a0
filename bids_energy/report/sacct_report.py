"""The HTML report of ``bids-energy estimate --sacct FILE --report DIR``.

Input is the per-job rows the estimate CLI writes to its TSV (``job_id``, ``partition``,
``state``, ``wall_h``, ``total_cpu_h``, ``energy_wh``, ``co2e_g``, ``method`` ...). No footprint is
involved: every figure here is an after-the-fact GA4HPC estimate, and the page says so. Same
template base as the other reports: one self-contained file, inline SVG, a CSP that forbids
every network request.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from markupsafe import Markup

from bids_energy.analysis.collect import finite
from bids_energy.report import svg
from bids_energy.report.render import environment, equivalents, write_html

HTML_NAME = "sacct_estimate.html"
METRICS = ("wall_h", "cpu_h", "energy_wh", "co2e_g")
NO_PARTITION = "(none)"


_f = finite


def job_table(rows: list[dict]) -> pd.DataFrame:
    """Rows -> a table with numeric metrics; ``total_cpu_h`` (the CLI's name) or ``cpu_h``."""
    recs = []
    for r in rows:
        cpu = r.get("total_cpu_h", r.get("cpu_h"))
        recs.append(
            {
                "job_id": str(r.get("job_id", "")),
                "job_name": r.get("job_name") or "",
                "partition": r.get("partition") or NO_PARTITION,
                "state": r.get("state") or "",
                "ncpus": r.get("ncpus"),
                "n_gpu": r.get("n_gpu"),
                "mem_gb": _f(r.get("mem_gb")),
                "cpu_efficiency": _f(r.get("cpu_efficiency")),
                "wall_h": _f(r.get("wall_h")),
                "cpu_h": _f(cpu),
                "energy_wh": _f(r.get("energy_wh")),
                "co2e_g": _f(r.get("co2e_g")),
                "pue": _f(r.get("pue")),
                "ci_g_per_kwh": _f(r.get("ci_g_per_kwh")),
                "method": r.get("method") or "",
            }
        )
    cols = ["job_id", "job_name", "partition", "state", "ncpus", "n_gpu", "mem_gb",
            "cpu_efficiency", *METRICS, "pue", "ci_g_per_kwh", "method"]  # fmt: skip
    df = pd.DataFrame(recs, columns=cols)
    for c in (*METRICS, "mem_gb", "cpu_efficiency", "pue", "ci_g_per_kwh"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df


def partition_summary(jobs: pd.DataFrame) -> list[dict]:
    """Per partition: n, mean and sample sd (n - 1) of each metric, and energy/CO2e totals;
    a last row ``all partitions`` over every job (pure)."""

    def one(name: str, g: pd.DataFrame) -> dict:
        out: dict = {"partition": name, "n": len(g)}
        for c in METRICS:
            v = g[c].dropna()
            out[f"{c}_mean"] = float(v.mean()) if len(v) else None
            out[f"{c}_sd"] = float(v.std(ddof=1)) if len(v) > 1 else None
        out["energy_wh_total"] = float(g["energy_wh"].sum(min_count=1)) if len(g) else None
        out["co2e_g_total"] = float(g["co2e_g"].sum(min_count=1)) if len(g) else None
        out = {k: (None if isinstance(v, float) and v != v else v) for k, v in out.items()}
        return out

    rows = [one(str(p), g) for p, g in jobs.groupby("partition", sort=True)]
    if len(rows) != 1 and len(jobs):
        rows.append(one("all partitions", jobs))
    return rows


def _records(df: pd.DataFrame) -> list[dict]:
    return [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        for r in df.to_dict("records")
    ]


def report_context(rows: list[dict]) -> dict:
    """Everything the template shows; pure."""
    jobs = job_table(rows)
    total_wh = float(jobs["energy_wh"].sum()) if len(jobs) else 0.0
    total_g = float(jobs["co2e_g"].sum()) if len(jobs) else 0.0
    groups = [(str(p), g["energy_wh"].tolist()) for p, g in jobs.groupby("partition", sort=True)]
    pts = [
        {"x": r.wall_h, "y": r.energy_wh, "group": r.partition, "label": f"job {r.job_id}"}
        for r in jobs.itertuples()
    ]
    methods = sorted({m for m in jobs["method"] if m})
    return {
        "n_jobs": len(jobs),
        "n_partitions": jobs["partition"].nunique(),
        "total_energy_wh": total_wh,
        "total_co2e_g": total_g,
        "equivalents": equivalents(total_wh, total_g),
        "summary": partition_summary(jobs),
        "jobs": _records(jobs),
        "methods": methods,
        "energy_svg": Markup(
            svg.box_strip(groups, "energy per job (Wh)", "Energy per job, by partition")
        ),
        "scatter_svg": Markup(
            svg.scatter(svg.thin(pts, 2000), "runtime (h)", "energy (Wh)", "Energy against runtime")
        ),
    }


def render_group_report(rows: list[dict], out_dir: Path) -> Path:
    """Write ``sacct_estimate.html`` (per-partition summary, per-job table, plots) into
    ``out_dir`` and return its path; WriteError (74) when it cannot be written."""
    html = environment().get_template("sacct_estimate.html.j2").render(**report_context(rows))
    return write_html(html, Path(out_dir) / HTML_NAME)
