"""The record's measured blocks, built from what the sampler returns (typed numbers).

The meters say what they measured and how (``meters.results``); the key names, the rounding
and the notes that explain each figure in the record are written here, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the meters are imported only where a record is built (group level reads)
    from bids_energy.meters.base import MeterTotals
    from bids_energy.meters.phasetally import PhaseSummary
    from bids_energy.meters.results import ComponentTotals, CpuAttribution, HardwareInfo
    from bids_energy.meters.steps import StepTotals
    from bids_energy.meters.timeline import TimelineData

ATTRIBUTION_NOTE = {
    "process-tree": "job CPU time = CPU time of the wrapped command's process tree, exited "
                    "children included.",
    "cgroup": "job CPU time and memory from the job's own cgroup counters.",
}


def _wh(j: float | None) -> float | None:
    from bids_energy.meters.attribution import j_to_wh

    return None if j is None else round(j_to_wh(j), 6)


def attribution_block(a: CpuAttribution) -> dict:
    """How the job's CPU time was separated from the node's: the ``attribution`` block."""
    from bids_energy.meters.attribution import job_share

    return {
        "method": a.mode,
        "note": ATTRIBUTION_NOTE[a.mode] + f" Chosen because {a.reason}.",
        "job_cpu_s": a.job_cpu_s,
        "node_cpu_s": a.node_cpu_s,
        "node_busy_cpu_s": a.node_busy_cpu_s,
        "node_cores": a.node_cores,
        "job_share_of_busy": (round(job_share(a.job_cpu_s, a.node_busy_cpu_s), 4)
                              if a.node_busy_cpu_s is not None else None),
        "memory_source": a.memory_source,  # anon / PSS, GB = 10^9 bytes
    }


def split_block(t: MeterTotals) -> dict:
    """A component's shared-node split (``energy.components.<c>.split``), Wh."""
    rem = None if t.node_j is None else t.node_j - t.job_j
    return {
        "job_dynamic_energy_wh": _wh(t.job_dynamic_j),
        "job_dynamic_method": t.dynamic_method,
        "job_idle_energy_wh": _wh(t.job_idle_j),
        "job_idle_method": "idle power x CPUs held / node CPUs x time",
        "job_energy_wh": _wh(t.job_j),
        "job_method": "job dynamic + job idle share (the published figure; "
                      "docs/measurement.md section 2)",
        "node_energy_wh": _wh(t.node_j),
        "node_method": t.node_method,
        "node_idle_energy_wh": _wh(t.node_idle_j),
        "remainder_energy_wh": _wh(rem),
        "remainder_method": "node - job: the neighbours' work and the idle power of CPUs "
                            "the job does not hold",
        "idle_power_w": t.idle.value_w,
        "idle_power_method": t.idle.method,
        "idle_power_inputs": dict(t.idle.inputs),
        "held_cpus": t.held_cpus,
        "held_cpus_source": t.held_source,
        "node_cpus": t.node_cpus,
    }


def component_block(c: ComponentTotals) -> dict:
    """One meter's entry in ``energy.components``: figures, method, status, inputs, note."""
    inputs = dict(c.inputs)
    if c.idle_j is not None:
        inputs["node_idle_energy_wh"] = _wh(c.idle_j)
    if c.unavailable_from_s is not None:
        inputs["unavailable_from_s"] = c.unavailable_from_s
    if c.dropped_intervals:
        inputs["dropped_intervals"] = c.dropped_intervals
        inputs["dropped_s"] = round(c.dropped_s, 3)
    note = c.note + ("" if c.status == "ok" else
                     f" Meter unavailable from t={c.unavailable_from_s} s; "
                     "energy covers the time before only.")
    if c.dropped_intervals:
        note += (f" {c.dropped_intervals} interval(s) ({c.dropped_s:.1f} s) dropped as "
                 "implausible and not counted.")
    out = {"job_energy_wh": _wh(c.job_j), "node_energy_wh": _wh(c.node_j), "method": c.method,
           "status": c.status, "inputs": inputs, "note": note}
    if c.split is not None:
        out["split"] = split_block(c.split)
    return out


def energy_block(components: tuple[ComponentTotals, ...] | list[ComponentTotals]) -> dict:
    """The record's ``energy``: the job's total, the node's (when every meter sees it), the
    overall method (measured, estimated or mixed) and each component's block."""
    comps = {c.component: component_block(c) for c in components}
    measured = {c.measured for c in components}
    nodes = [c["node_energy_wh"] for c in comps.values()]
    return {
        "job_energy_wh": round(sum(c["job_energy_wh"] for c in comps.values()), 6),
        "node_energy_wh": (round(sum(nodes), 6) if nodes and None not in nodes else None),
        "method": ("measured" if measured == {True} else "estimated" if measured == {False}
                   else "mixed"),
        "components": comps,
    }


def hardware_block(h: HardwareInfo, host: str | None) -> dict:
    """The machine: the record's ``hardware`` block (``host`` as in ``context``)."""
    return {
        "hostname": host,
        "cpu_model": h.cpu_model,
        "cpu_cores_logical": h.cpu_cores_logical,
        "cpu_cores_physical": h.cpu_cores_physical,
        "mem_total_gb": None if h.mem_total_gb is None else round(h.mem_total_gb, 2),
        "gpus": [{"index": g.index, "name": g.name, "uuid": g.uuid,
                  "visible_to_job": g.visible_to_job} for g in h.gpus],
    }


def phases_block(summary: PhaseSummary | None, carbon: dict | None = None,
                 ndigits: int = 6) -> dict | None:
    """The record's ``phases``: each marked phase's CPU and energy with their shares (and
    CO2e, given the carbon inputs), the spans for the report's bands; None if none marked."""
    if summary is None:
        return None
    from bids_energy.carbon import co2e_g

    cpu_total = sum(p.cpu_s for p in summary.rows)
    e_total = sum(p.energy_wh for p in summary.rows)
    rows = []
    for p in summary.rows:
        row = {
            "phase": p.phase,
            "cpu_s": round(p.cpu_s, 3),
            "cpu_share": round(p.cpu_s / cpu_total, 4) if cpu_total > 0 else 0.0,
            "energy_wh": round(p.energy_wh, ndigits),
            "energy_share": round(p.energy_wh / e_total, 4) if e_total > 0 else 0.0,
            "time_s": round(p.time_s, 3),
            "first_seen_s": None if p.first_seen_s is None else round(p.first_seen_s, 3),
            "last_seen_s": None if p.last_seen_s is None else round(p.last_seen_s, 3),
            "occurrences": p.occurrences,
        }
        if carbon is not None:
            row["co2e_g"] = co2e_g(row["energy_wh"], carbon["pue"], carbon["ci_g_per_kwh"])
        rows.append(row)
    return {
        "method": "pro rata by time: each sampling interval's job energy and CPU shared "
                  "among the phases current in it",
        "rows": rows,
        "spans": [list(sp) for sp in summary.spans],
        "spans_dropped": summary.spans_dropped,
        "events": summary.events,
        "ignored_lines": summary.ignored_lines,
    }


TIMELINE_DIGITS = {"job_cpu_share": 4, "job_mem_gb": 4}  # the other columns: 3


def timeline_block(t: TimelineData) -> dict:
    """The record's ``timeline``: column names once, then one row of values per interval."""
    from bids_energy.meters.timeline import TimelineRow

    columns = list(TimelineRow._fields)
    digits = [TIMELINE_DIGITS.get(c, 3) for c in columns]
    rows = [[None if v is None else round(v, n) for v, n in zip(row, digits, strict=True)]
            for row in t.rows]
    return {"interval_s": t.interval_s, "columns": columns, "rows": rows}


def steps_block(steps: list[StepTotals], ndigits: int = 6) -> list[dict]:
    """The record's ``steps`` (before CO2e, which ``add_carbon`` adds): CPU share of the
    steps' CPU total, energy, when each was first and last seen."""
    total = sum(s.cpu_s for s in steps)
    out = []
    for s in steps:
        rec = {
            "step": s.step,
            "programs": list(s.programs),
            "cpu_s": round(s.cpu_s, 3),
            "cpu_share": round(s.cpu_s / total, 4) if total > 0 else 0.0,
            "energy_wh": round(s.energy_wh, ndigits),
            "first_seen_s": None if s.first_seen_s is None else round(s.first_seen_s, 1),
            "last_seen_s": None if s.last_seen_s is None else round(s.last_seen_s, 1),
        }
        if s.gpu_energy_wh > 0:
            rec["gpu_energy_wh"] = round(s.gpu_energy_wh, ndigits)
        out.append(rec)
    return out


