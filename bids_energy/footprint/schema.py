"""The footprint's JSON Schema: validating a record, writing it atomically, reading one back.

The schema ships in ``bids_energy/data/footprint.schema.json``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

from bids_energy.atomic_io import atomic_write_text
from bids_energy.errors import DataError


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
