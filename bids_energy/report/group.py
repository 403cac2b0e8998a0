"""Group level: every footprint under an output folder -> group_footprint.tsv + .html.

The arithmetic lives in :mod:`bids_energy.analysis.stats` (pure, tested on known values); this
module reads, calls it, draws the plots and writes the two files.

``--quality-tsv``: bids-energy's own table (``participant``, [``session``], ``pipeline``,
``variant``, one metric), a BIDS-style table (``participant_id``, [``session_id``]) or an MRIQC
group table (``bids_name``, IQM columns); see :mod:`bids_energy.analysis.quality` for the
shapes, ``--quality-metric`` for the column and the direction rules. Variant names are as in
the footprints (``baseline``, ``fs-no-reconall``; several joined with ``+``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from bids_energy.analysis import stats
from bids_energy.analysis.collect import COLUMNS, RUN_KEYS, collect, find_footprints
from bids_energy.analysis.quality import read_quality_table
from bids_energy.analysis.quality_files import read_quality_files
from bids_energy.analysis.trackers import group_ratio_table
from bids_energy.errors import NothingSelectedError, WriteError
from bids_energy.report import sacct_compare, svg
from bids_energy.report.phases import phase_sections
from bids_energy.report.render import environment, equivalents, num, write_html
from bids_energy.report.sacct_report import render_group_report

__all__ = ["render_group_report", "run_group_level"]

log = logging.getLogger(__name__)

TSV_NAME = "group_footprint.tsv"
HTML_NAME = "group_footprint.html"
MAX_SCATTER = 2000
CHANGE_METRICS = (("co2e_g", "CO2e"), ("energy_wh", "energy"), ("wall_h", "runtime"))


def read_quality_tsv(path: Path, metric: str | None = None,
                     lower_is_better: bool | None = None) -> tuple[pd.DataFrame, str]:
    """The quality table and the name of its metric column; DataError (65) when unusable.
    The shapes it reads are described in :mod:`bids_energy.analysis.quality`."""
    qt = read_quality_table(path, metric, lower_is_better)
    return qt.table, qt.metric


def group_label(row) -> str:
    return f"{row['pipeline']} / {row['variant']} / {row['device']}"


def write_tsv(runs: pd.DataFrame, path: Path, columns: list[str] | None = None) -> Path:
    try:
        runs[columns or COLUMNS].to_csv(
            path, sep="\t", index=False, na_rep="n/a", float_format="%.6g"
        )
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc}") from exc
    return path


def _records(df: pd.DataFrame) -> list[dict]:
    """DataFrame rows as dicts with NaN turned into None (the template prints n/a)."""
    return [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        for r in df.to_dict("records")
    ]


def _changes(runs: pd.DataFrame) -> list[dict]:
    """One row per variant with the % change of CO2e, energy and runtime and their CIs."""
    merged: dict[tuple, dict] = {}
    for metric, name in CHANGE_METRICS:
        for r in _records(stats.paired_changes(runs, metric)):
            key = (r["pipeline"], r["variant"], r["device"])
            row = merged.setdefault(
                key,
                {"pipeline": key[0], "variant": key[1], "device": key[2], "n_pairs": r["n_pairs"]},
            )
            row[name] = r
    return list(merged.values())


def _plots(
    runs: pd.DataFrame, quality: pd.DataFrame | None, metric: str | None, higher_is_better: bool
) -> dict:
    ok = stats.successful(runs)
    out = {"distribution": "", "scatter": "", "quality": ""}
    if ok.empty:
        return out
    labels = ok.apply(group_label, axis=1) if len(ok) else pd.Series(dtype=str)
    groups = [(lab, ok.loc[labels == lab, "co2e_g"].tolist()) for lab in sorted(set(labels))]
    out["distribution"] = svg.box_strip(groups, "CO2e per run (g)", "CO2e per run, by variant")
    pts = [
        {"x": r.wall_h, "y": r.energy_wh, "group": lab, "label": f"sub-{r.participant} ({lab})"}
        for r, lab in zip(ok.itertuples(), labels, strict=True)
    ]
    out["scatter"] = svg.scatter(
        svg.thin(pts, MAX_SCATTER), "runtime (h)", "energy (Wh)", "Energy against runtime"
    )
    if quality is not None and metric:
        qp = stats.quality_points(runs, quality, metric, higher_is_better)
        if not qp.empty:
            qpts = [
                {
                    "x": r.cost_mean,
                    "y": r.quality_mean,
                    "group": group_label(r._asdict()),
                    "label": (f"{r.pipeline} " if qp["pipeline"].nunique() > 1 else "")
                    + f"{r.variant} ({r.device}, n={r.n})",
                }
                for r in qp.itertuples()
            ]
            out["quality"] = svg.scatter(
                qpts,
                "mean CO2e per run (g)",
                f"mean {metric}",
                "Cost against quality",
                front=qp["pareto"].tolist(),
            )
        out["quality_rows"] = _records(qp)
    return out


def _step_sections(runs: pd.DataFrame, steps: pd.DataFrame) -> list[dict]:
    table = stats.step_changes(steps, runs)
    sections = []
    for (pipeline, variant, device), sub in table.groupby(
        ["pipeline", "variant", "device"], sort=True
    ):
        sub = sub.reindex(sub["delta_wh"].abs().sort_values(ascending=False).index)
        notes = [f"{p:+.0f}%" if p is not None and p == p else "new" for p in sub["delta_pct"]]
        chart = svg.hbar_chart(
            sub["step"].tolist(),
            sub["delta_wh"].tolist(),
            "change in mean energy per run (Wh)",
            f"Steps of {variant} against baseline",
            notes=notes,
        )
        sections.append(
            {
                "pipeline": pipeline,
                "variant": variant,
                "device": device,
                "svg": Markup(chart),
                "rows": _records(sub),
            }
        )
    return sections


def _headlines(changes: list[dict], extrap: pd.DataFrame) -> list[str]:
    lines = []
    for c in changes:
        co2 = c.get("CO2e")
        if not co2 or co2["change_pct_mean"] is None:
            continue
        verb = "cut" if co2["change_pct_mean"] < 0 else "raised"
        ci = (
            f" (95% CI {co2['ci_lo_pct']:+.0f}% to {co2['ci_hi_pct']:+.0f}%)"
            if co2["ci_lo_pct"] is not None
            else ""
        )
        lines.append(
            f"{c['pipeline']} {c['variant']} ({c['device']}) {verb} CO2e by "
            f"{abs(co2['change_pct_mean']):.0f}%{ci} against baseline, over "
            f"{co2['n_pairs']} participants who ran both."
        )
    for r in _records(extrap):
        gpu = f" or {num(r['gpu_days'])} gpu-days" if r["gpu_days"] else ""
        lines.append(
            f"{r['pipeline']} {r['variant']} ({r['device']}): processing "
            f"{r['n_scans']:,} scans would take {num(r['run_days'])} days of runtime "
            f"({num(r['cpu_days'])} cpu-days of CPU time){gpu}, "
            f"{num(r['energy_kwh'])} kWh and produce {num(r['co2e_kg'])} kg CO2e."
        )
    return lines


def group_context(
    runs: pd.DataFrame,
    steps: pd.DataFrame,
    skipped: list,
    extrapolate_n: int,
    quality: pd.DataFrame | None = None,
    metric: str | None = None,
    higher_is_better: bool = True,
    output_dir: str = "",
    duplicates: int = 0,
    sacct_warnings: list[str] | None = None,
) -> dict:
    """Everything the group template shows; pure given the collected tables.

    The sacct comparison appears when ``runs`` carries the columns
    :func:`bids_energy.report.sacct_compare.attach_sacct` adds (or there are sacct warnings).
    """
    ok = stats.successful(runs)
    summary = stats.summary_table(runs)
    changes = _changes(runs)
    extrap = stats.extrapolate(runs, extrapolate_n)
    total_energy = float(ok["energy_wh"].sum()) if len(ok) else 0.0
    total_co2 = float(ok["co2e_g"].sum()) if len(ok) else 0.0
    plots = _plots(runs, quality, metric, higher_is_better)
    not_ok = runs[runs["status"] != "success"]
    return {
        "output_dir": output_dir,
        "n_runs": len(runs),
        "n_ok": len(ok),
        "n_failed": len(not_ok),
        "n_skipped": len(skipped),
        "duplicates": duplicates,
        "n_participants": ok["participant"].nunique() if len(ok) else 0,
        "total_energy_wh": total_energy,
        "total_co2e_g": total_co2,
        "equivalents": equivalents(total_energy, total_co2),
        "summary": _records(summary),
        "changes": changes,
        "extrapolate_n": extrapolate_n,
        "extrapolation": _records(extrap),
        "headlines": _headlines(changes, extrap),
        "distribution_svg": Markup(plots["distribution"]),
        "scatter_svg": Markup(plots["scatter"]),
        "quality_svg": Markup(plots["quality"]),
        "quality_rows": plots.get("quality_rows", []),
        "quality_metric": metric,
        "higher_is_better": higher_is_better,
        "step_sections": _step_sections(runs, steps),
        "trackers": group_ratio_table(runs),
        "failed": _records(
            not_ok[[*RUN_KEYS, "status", "exit_code", "wall_h", "footprint_file"]]
        ),
        "skipped": [{"file": f, "reason": r} for f, r in skipped],
        "sacct": _sacct_context(runs, sacct_warnings),
    }


def _sacct_context(runs: pd.DataFrame, warnings: list[str] | None) -> dict | None:
    if "sacct_job_id" not in runs.columns and not warnings:
        return None
    rows = sacct_compare.comparison_rows(runs)
    return {
        "rows": rows,
        "summary": sacct_compare.sacct_summary(rows),
        "warnings": list(warnings or []),
        "constants": sacct_compare.constants(),
    }


def render_group_html(ctx: dict) -> str:
    return environment().get_template("group.html.j2").render(**ctx)


def run_group_level(
    output_dir: Path,
    extrapolate: int = 10000,
    quality_tsv: Path | None = None,
    out_dir: Path | None = None,
    quality_higher_is_better: bool | None = None,
    quality_metric: str | None = None,
) -> dict:
    """Aggregate every ``*_footprint.json`` under ``output_dir`` into the group TSV and HTML.

    Raises NothingSelectedError (exit 18) when no usable footprint exists and DataError (65)
    for an unusable ``quality_tsv``. ``quality_higher_is_better`` None: the metric's own
    direction (MRIQC's for a known IQM, else higher).
    """
    output_dir = Path(output_dir)
    lower = None if quality_higher_is_better is None else not quality_higher_is_better
    qt = read_quality_table(quality_tsv, quality_metric, lower) if quality_tsv else None
    quality, metric = (qt.table, qt.metric) if qt else (None, None)
    higher = qt.higher_is_better if qt else True
    for note in qt.notes if qt else []:
        log.warning("quality table: %s", note)
    if quality is None:  # quality files the pipeline wrote itself (the demo's)
        quality, metric, higher = read_quality_files(output_dir)
    paths = find_footprints(output_dir)
    if not paths:
        raise NothingSelectedError(
            f"no *_footprint.json found under {output_dir}: run the "
            "participant level first (or point at its output folder)"
        )
    got = collect(output_dir, paths)
    if got.runs.empty:
        raise NothingSelectedError(
            f"none of the {len(got.skipped)} footprint files under "
            f"{output_dir} could be used (see the warnings above)"
        )
    dest = Path(out_dir) if out_dir else output_dir
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot create {dest}: {exc}") from exc
    runs, columns, sacct_warnings = got.runs, COLUMNS, None
    sacct_files = sacct_compare.find_sacct_files(output_dir)
    if sacct_files:
        jobs, sacct_warnings = sacct_compare.read_sacct_files(sacct_files)
        runs, unmatched = sacct_compare.attach_sacct(runs, jobs)
        sacct_warnings += unmatched
        columns = [*COLUMNS, *sacct_compare.SACCT_COLUMNS]
    tsv = write_tsv(runs, dest / TSV_NAME, columns)
    ctx = group_context(
        runs,
        got.steps,
        got.skipped,
        extrapolate,
        quality,
        metric,
        higher,
        str(output_dir),
        got.duplicates,
        sacct_warnings,
    )
    if qt:
        ctx["quality_direction_source"] = qt.direction_source
        ctx["quality_notes"] = qt.notes
    ctx["phase_sections"] = phase_sections(got.phases, runs)
    html = write_html(render_group_html(ctx), dest / HTML_NAME)
    return {
        "tsv": tsv,
        "html": html,
        "n_ok": ctx["n_ok"],
        "n_failed": ctx["n_failed"],
        "n_skipped": ctx["n_skipped"],
        "extrapolation": ctx["extrapolation"],
        "n_sacct_matched": len(ctx["sacct"]["rows"]) if ctx["sacct"] else 0,
    }
