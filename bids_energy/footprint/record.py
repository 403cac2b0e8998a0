"""The footprint record assembled: what ran, where, when, its carbon inputs, and the
measured blocks (``footprint.measured``), for the participant level and ``measure()`` alike.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from bids_energy import __version__
from bids_energy.footprint.measured import (
    attribution_block,
    energy_block,
    hardware_block,
    phases_block,
    steps_block,
    timeline_block,
)

if TYPE_CHECKING:
    from bids_energy.meters.results import SamplerResult

SCHEMA_VERSION = "1.0.0"


def utc_iso(ts: float) -> str:
    """Seconds since the epoch -> ``2026-11-23T05:40:00.123Z``."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


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
    steps = steps_block(r.steps or [])
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
        "timeline": timeline_block(r.timeline),
        "steps": steps,
        "cleanup": cleanup,
        "trackers": trackers or {},
        "warnings": list(dict.fromkeys([*(warnings or []), *(r.warnings or [])])),
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
                 sampler_result: SamplerResult, carbon: dict, container, slurm,
                 work_dir: str | Path | None,
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
    record["phases"] = phases_block(sampler_result.phases, carbon)
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


