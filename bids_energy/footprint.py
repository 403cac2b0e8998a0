"""The per-participant footprint record: building it, validating it, writing and reading it.

The JSON Schema ships in ``bids_energy/data/footprint.schema.json``; every record this app
writes is validated against it first, so a reader can rely on the shape.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from bids_energy import __version__
from bids_energy.errors import DataError
from bids_energy.io import atomic_write_text

if TYPE_CHECKING:  # the meters are imported only where a record is built (group level reads)
    from bids_energy.meters.base import MeterTotals
    from bids_energy.meters.results import (
        ComponentTotals,
        CpuAttribution,
        HardwareInfo,
        SamplerResult,
    )

SCHEMA_VERSION = "1.0.0"


def utc_iso(ts: float) -> str:
    """Seconds since the epoch -> ``2026-11-23T05:40:00.123Z``."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


@lru_cache(maxsize=1)
def load_schema() -> dict:
    text = resources.files("bids_energy").joinpath("data/footprint.schema.json").read_text()
    return json.loads(text)


def validation_errors(record: dict) -> list[str]:
    """Every way ``record`` breaks the schema, as readable strings (empty = valid)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema())
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))
    ]


def validate(record: dict) -> None:
    errors = validation_errors(record)
    if errors:
        raise DataError("footprint does not match its schema: " + "; ".join(errors[:5]))


def add_carbon(energy_block: dict, steps: list[dict], carbon: dict) -> dict:
    """CO2e of the job and of each step: energy x PUE x carbon intensity (pure)."""
    from bids_energy.carbon import co2e_g

    pue, ci = carbon["pue"], carbon["ci_g_per_kwh"]
    job_wh = energy_block.get("job_energy_wh") or 0.0
    out = dict(carbon)
    out["facility_energy_wh"] = job_wh * pue
    out["co2e_g"] = co2e_g(job_wh, pue, ci)
    for s in steps:
        e = s.get("energy_wh")
        s["co2e_g"] = co2e_g(e, pue, ci) if e is not None else None
    return out


def build_footprint(*, participant: str, session: str | None, status: str, exit_code: int,
                    signal: int | None, oom: bool, pipeline: dict, start_ts: float, end_ts: float,
                    sampler_result: SamplerResult, carbon: dict, context: dict,
                    cleanup: dict | None = None, trackers: dict | None = None,
                    warnings: list[str] | None = None) -> dict:
    """Assemble the record from its parts (pure: no I/O); the host name comes from the
    ``context`` block, so it is read once and recorded the same in both places."""
    r = sampler_result
    steps = [dict(s) for s in (r.steps or [])]
    energy = energy_block(r.components)
    carbon_block = add_carbon(energy, steps, carbon)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_by": {"name": "bids-energy", "version": __version__},
        "participant": participant,
        "session": session,
        "status": status,
        "exit_code": int(exit_code),
        "signal": signal,
        "oom": bool(oom),
        "pipeline": pipeline,
        "start_utc": utc_iso(start_ts),
        "end_utc": utc_iso(end_ts),
        "wall_s": round(max(0.0, end_ts - start_ts), 3),
        "cpu_s": round(float(r.cpu_s or 0.0), 3),
        "peak_mem_gb": r.peak_mem_gb,
        "attribution": attribution_block(r.attribution),
        "energy": energy,
        "carbon": carbon_block,
        "hardware": hardware_block(r.hardware, context.get("host")),
        "context": context,
        "timeline": r.timeline,
        "steps": steps,
        "cleanup": cleanup,
        "trackers": trackers or {},
        "warnings": list(dict.fromkeys([*(warnings or []), *(r.warnings or [])])),
    }


# --- the blocks built from the sampler's typed results ------------------------------------

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


def carbon_settings(country_code: str | None = None, region: str | None = None,
                    pue: float | None = None) -> tuple[dict, list[str]]:
    """The record's carbon inputs (intensity and PUE, each with its source) and warnings;
    shared by the participant level and ``bids_energy.measure``."""
    from bids_energy.carbon import lookup_intensity, resolve_pue

    ci = lookup_intensity(country_code=country_code, region=region)
    pue_value, pue_source = resolve_pue(pue)
    warnings = []
    if ci.method.startswith("default"):
        warnings.append(f"no --country-code/--region given: carbon intensity is the world "
                        f"average {ci.ci_g_per_kwh:g} g/kWh")
    return {
        "pue": pue_value,
        "pue_source": pue_source,
        "region": ci.zone,
        "ci_g_per_kwh": float(ci.ci_g_per_kwh),
        "ci_source": ci.source,
        "ci_year": ci.year,
        "ci_method": ci.method,
    }, warnings


def phases_with_carbon(phases: dict | None, carbon: dict) -> dict | None:
    """The sampler's phases block with CO2e per phase, like the steps (pure)."""
    from bids_energy.carbon import co2e_g

    if not phases:
        return None
    out = dict(phases)
    out["rows"] = [dict(r, co2e_g=co2e_g(r["energy_wh"], carbon["pue"], carbon["ci_g_per_kwh"]))
                   for r in phases.get("rows", [])]
    return out


def pipeline_block(*, name: str, version: str | None, variants: list[str], device: str,
                   executable: str | None, command: list[str], output_dir: str | Path,
                   inputs: dict | None = None) -> dict:
    """What ran: the record's ``pipeline`` block (inputs as strings, lists kept as lists)."""
    return {
        "name": name, "version": version, "variants": list(variants) or ["baseline"],
        "device": device, "executable": executable, "command": list(command),
        "output_dir": str(output_dir),
        "inputs": {k: [str(x) for x in v] if isinstance(v, (list, tuple)) else str(v)
                   for k, v in (inputs or {}).items()},
    }


def context_block(*, container, slurm, work_dir: str | Path | None,
                  user_args: list[str] | None = None, host: str | None = None) -> dict:
    """Where it ran: the record's ``context`` block."""
    import socket

    return {
        "host": host or socket.gethostname(),
        "container": container, "slurm": slurm,
        "work_dir": None if work_dir is None else str(work_dir),
        "user_args": list(user_args or []),
    }


def build_record(*, participant: str | None, session: str | None, status: str, exit_code: int,
                 signal: int | None, oom: bool, name: str, version: str | None,
                 variants: list[str], device: str, executable: str | None, command: list[str],
                 output_dir: str | Path, inputs: dict | None, start_ts: float, end_ts: float,
                 sampler_result: SamplerResult, carbon: dict, container, slurm, work_dir: str | Path | None,
                 user_args: list[str] | None = None, cleanup: dict | None = None,
                 trackers: dict | None = None, warnings: list[str] | None = None,
                 model: dict | None = None) -> dict:
    """The whole footprint record, for the participant level and ``bids_energy.measure``
    alike: this module owns the record's shape; callers hand over what they know (pure
    except for the host name)."""
    record = build_footprint(
        participant=participant, session=session, status=status, exit_code=exit_code,
        signal=signal, oom=oom,
        pipeline=pipeline_block(name=name, version=version, variants=variants, device=device,
                                executable=executable, command=command,
                                output_dir=output_dir, inputs=inputs),
        start_ts=start_ts, end_ts=end_ts, sampler_result=sampler_result, carbon=carbon,
        context=context_block(container=container, slurm=slurm, work_dir=work_dir,
                              user_args=user_args),
        cleanup=cleanup, trackers=trackers, warnings=warnings,
    )
    record["phases"] = phases_with_carbon(getattr(sampler_result, "phases", None), carbon)
    if model is not None:
        record["model"] = model_block(model, record["energy"].get("job_energy_wh"))
    return record


def model_block(model: dict, job_energy_wh: float | None) -> dict:
    """Model size and work as the user gave (or ptflops computed) them, with energy per GFLOP.

    ``flops`` is the work of the whole measured block as the caller counts it (e.g. FLOPs per
    sample x samples); where it is per forward pass, the figure is energy per forward GFLOP
    and ``flops_source`` says so.
    """
    out = {k: model.get(k) for k in ("params", "flops", "flops_source") if k in model}
    flops = model.get("flops")
    out["energy_wh_per_gflop"] = (job_energy_wh / (flops / 1e9)
                                  if flops and job_energy_wh is not None else None)
    return out


def write_footprint(path: Path, record: dict) -> Path:
    """Validate, then write atomically (a killed run never leaves half a JSON)."""
    validate(record)
    atomic_write_text(path, json.dumps(record, indent=2, allow_nan=False) + "\n")
    return path


def read_footprint(path: Path) -> dict:
    """Read and validate a footprint written by this app; DataError if it is not one."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not readable JSON ({exc})") from None
    gen = record.get("generated_by") if isinstance(record, dict) else None
    if not isinstance(gen, dict) or gen.get("name") != "bids-energy":
        raise DataError(f"{path}: not a bids-energy footprint")
    validate(record)
    return record
