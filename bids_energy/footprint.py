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

from bids_energy import __version__
from bids_energy.atomic_io import atomic_write_text
from bids_energy.errors import DataError

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
                    sampler_result, carbon: dict, context: dict, cleanup: dict | None = None,
                    trackers: dict | None = None, warnings: list[str] | None = None) -> dict:
    """Assemble the record from its parts (pure: no I/O)."""
    steps = [dict(s) for s in (sampler_result.steps or [])]
    carbon_block = add_carbon(sampler_result.energy, steps, carbon)
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
        "cpu_s": round(float(sampler_result.cpu_s or 0.0), 3),
        "peak_mem_gb": sampler_result.peak_mem_gb,
        "attribution": sampler_result.attribution,
        "energy": sampler_result.energy,
        "carbon": carbon_block,
        "hardware": sampler_result.hardware,
        "context": context,
        "timeline": sampler_result.timeline,
        "steps": steps,
        "cleanup": cleanup,
        "trackers": trackers or {},
        "warnings": list(dict.fromkeys([*(warnings or []), *(sampler_result.warnings or [])])),
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
                 sampler_result, carbon: dict, container, slurm, work_dir: str | Path | None,
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
        record["model"] = model_block(model, sampler_result.energy.get("job_energy_wh"))
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
