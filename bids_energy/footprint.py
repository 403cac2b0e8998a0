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
