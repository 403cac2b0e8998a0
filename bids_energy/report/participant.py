"""Per-participant HTML report: one self-contained file a researcher opens from scratch space.

:func:`participant_context` turns a footprint dict into plain values and inline SVG (pure, and
defensive: any key may be missing in partial or older records); :func:`render_participant_report`
renders the template and writes the file.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from markupsafe import Markup

from bids_energy.analysis.trackers import participant_rows
from bids_energy.labels import describe
from bids_energy.report import svg
from bids_energy.report.phases import phase_bands, phase_chart, run_phase_rows
from bids_energy.report.render import environment, equivalents, write_html

MAX_PLOT_POINTS = 1500
COMPONENT_NAMES = {"cpu": "CPU", "dram": "Memory (DRAM)", "memory": "Memory", "gpu": "GPU"}
SERIES_NAMES = {
    "job_cpu_w": ("CPU, this job", False),
    "node_cpu_w": ("CPU, whole node", True),
    "job_memory_w": ("memory, this job", False),
    "job_gpu_w": ("GPU, this job", False),
    "node_gpu_w": ("GPU, whole node", True),
}



def _d(value) -> dict:
    return value if isinstance(value, dict) else {}


def _l(value) -> list:
    return value if isinstance(value, list) else []


def downsample(xs: list, ys: list, max_points: int = MAX_PLOT_POINTS) -> tuple[list, list]:
    """Bucket means: keeps the area under the curve (the energy) while bounding SVG size."""
    n = len(xs)
    if n <= max_points:
        return xs, ys
    k = -(-n // max_points)
    ox, oy = [], []
    for i in range(0, n, k):
        bx = [x for x in xs[i : i + k] if x is not None]
        by = [y for y in ys[i : i + k] if y is not None]
        if bx and by:
            ox.append(sum(bx) / len(bx))
            oy.append(sum(by) / len(by))
    return ox, oy


def _time_unit(t_max: float) -> tuple[str, float]:
    if t_max > 3 * 3600:
        return "h", 3600.0
    if t_max > 600:
        return "min", 60.0
    return "s", 1.0


def power_plot(timeline: dict, steps: list, phase_record: dict | None = None) -> str:
    """Job (solid) and node (dashed) power over time, with one band per step (and per
    phase the job marked) underneath."""
    cols = _l(timeline.get("columns"))
    rows = [r for r in _l(timeline.get("rows")) if isinstance(r, list) and len(r) == len(cols)]
    if "t_s" not in cols or not rows:
        return ""
    it = cols.index("t_s")
    t = [r[it] for r in rows]
    t_max = max((x for x in t if isinstance(x, (int, float))), default=0.0)
    unit, div = _time_unit(t_max)
    series = []
    for name, (label, dashed) in SERIES_NAMES.items():
        if name not in cols:
            continue
        j = cols.index(name)
        ys = [r[j] if isinstance(r[j], (int, float)) else None for r in rows]
        if not any(y is not None for y in ys):
            continue
        pairs = [(a, b) for a, b in zip(t, ys, strict=True) if a is not None and b is not None]
        xs, vals = downsample([a / div for a, _ in pairs], [b for _, b in pairs])
        series.append({"label": label, "x": xs, "y": vals, "dashed": dashed})
    bands = []
    for s in steps[:8]:
        a, b = s.get("first_seen_s"), s.get("last_seen_s")
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            bands.append({"label": str(s.get("step")), "x0": a / div, "x1": b / div})
    bands += phase_bands(phase_record or {}, div)
    if not series:
        return ""
    return svg.line_plot(
        series, f"time since start ({unit})", "power (W)", "Power over time", bands=bands
    )


def _steps(rec: dict) -> list[dict]:
    steps = [s for s in _l(rec.get("steps")) if isinstance(s, dict) and s.get("step")]
    return sorted(steps, key=lambda s: -(s.get("energy_wh") or s.get("cpu_s") or 0))


def step_chart(steps: list[dict]) -> str:
    if not steps:
        return ""
    key = "energy_wh" if any(s.get("energy_wh") is not None for s in steps) else "cpu_s"
    unit = "energy (Wh)" if key == "energy_wh" else "CPU time (s)"
    notes = [
        f"{100 * s['cpu_share']:.0f}%" if isinstance(s.get("cpu_share"), (int, float)) else ""
        for s in steps
    ]
    return svg.hbar_chart(
        [str(s["step"]) for s in steps],
        [s.get(key) or 0 for s in steps],
        unit,
        "Energy by step (share of the job CPU time)",
        notes=notes,
    )


def _components(energy: dict) -> list[dict]:
    out = []
    for key, comp in _d(energy.get("components")).items():
        comp = _d(comp)
        method = str(comp.get("method") or "")
        inputs = _d(comp.get("inputs"))
        out.append(
            {
                "name": COMPONENT_NAMES.get(key, key),
                "job_energy_wh": comp.get("job_energy_wh"),
                "node_energy_wh": comp.get("node_energy_wh"),
                "method": method or "unknown",
                "estimated": method.startswith("estimated") or not method,
                "status": comp.get("status"),
                "note": comp.get("note"),
                "inputs": ", ".join(f"{k} = {v}" for k, v in inputs.items()),
                "split": _d(comp.get("split")),  # the shared-node definition (issue 13)
            }
        )
    return out


CLEANUP_LABELS = [
    ("mode", "mode"),
    ("status", "status"),
    ("files_before", "files before"),
    ("bytes_before", "size before"),
    ("files_to_delete", "files to delete"),
    ("bytes_to_delete", "size to delete"),
    ("files_removed", "files removed"),
    ("bytes_removed", "space freed"),
    ("files_protected", "files protected"),
    ("files_after", "files after"),
    ("bytes_after", "size after"),
    ("work_dir_bytes", "work folder size"),
    ("manifest", "manifest"),
]


def _cleanup(cleanup) -> list[tuple[str, object, bool]]:
    """(label, value, is_bytes) rows: known keys first in a sensible order, then the rest."""
    c = _d(cleanup)
    known = dict(CLEANUP_LABELS)
    out = [(label, c[k], "bytes" in k) for k, label in CLEANUP_LABELS if c.get(k) is not None]
    out += [
        (k.replace("_", " "), v, "bytes" in k)
        for k, v in c.items()
        if k not in known and v not in (None, "", []) and not isinstance(v, (dict, list))
    ]
    errors = [str(e) for e in _l(c.get("errors"))]
    if errors:
        out.append(("errors", "; ".join(errors), False))
    return out


def participant_context(rec: dict) -> dict:
    """Everything the template shows, as plain values (and Markup for the inline SVG)."""
    rec = _d(rec)
    pipe, energy, carbon = _d(rec.get("pipeline")), _d(rec.get("energy")), _d(rec.get("carbon"))
    ctx = _d(rec.get("context"))
    command = pipe.get("command")
    if isinstance(command, list):
        command = shlex.join(str(c) for c in command)
    steps = _steps(rec)
    phases = run_phase_rows(rec)
    participant = rec.get("participant") or "?"
    session = rec.get("session")
    title = describe(participant, session)
    if rec.get("participant") is None and pipe.get("name"):  # a bids_energy.measure() block
        title = str(pipe["name"])
    return {
        "title": title,
        "participant": participant,
        "session": session,
        "status": rec.get("status") or "unknown",
        "exit_code": rec.get("exit_code"),
        "signal": rec.get("signal"),
        "oom": rec.get("oom"),
        "pipeline": pipe,
        "variants": ", ".join(map(str, _l(pipe.get("variants")))) or "baseline",
        "command": command,
        "start_utc": rec.get("start_utc"),
        "end_utc": rec.get("end_utc"),
        "wall_s": rec.get("wall_s"),
        "cpu_s": rec.get("cpu_s"),
        "peak_mem_gb": rec.get("peak_mem_gb"),
        "hardware": _d(rec.get("hardware")),
        "container": _d(ctx.get("container")),
        "slurm": _d(ctx.get("slurm")),
        "user_args": " ".join(map(str, _l(ctx.get("user_args")))),
        "attribution": _d(rec.get("attribution")),
        "energy": energy,
        "carbon": carbon,
        "components": _components(energy),
        "equivalents": equivalents(energy.get("job_energy_wh"), carbon.get("co2e_g")),
        "power_svg": Markup(power_plot(_d(rec.get("timeline")), steps, rec)),
        "phases": phases,
        "phases_svg": Markup(phase_chart(phases)),
        "phase_block": _d(rec.get("phases")),
        "model": _d(rec.get("model")),
        "steps": steps,
        "steps_svg": Markup(step_chart(steps)),
        "trackers": participant_rows(rec),
        "cleanup": _cleanup(rec.get("cleanup")),
        "warnings": [str(w) for w in _l(rec.get("warnings"))],
        "generated_by": _d(rec.get("generated_by")),
        "schema_version": rec.get("schema_version"),
    }


def render_participant_html(footprint: dict) -> str:
    return (
        environment().get_template("participant.html.j2").render(**participant_context(footprint))
    )


def render_participant_report(footprint: dict, out_html: Path) -> Path:
    """Write the participant's self-contained HTML report; returns its path."""
    return write_html(render_participant_html(footprint), Path(out_html))
