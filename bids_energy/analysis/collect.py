"""Find footprint JSON files under an output folder and flatten them into one table.

Reading is the only I/O here; :func:`flatten` is pure so tests feed it dicts. A file that is not
JSON, does not match the footprint schema (``footprint.load_schema``, the one the writer
validates against), or a successful run missing its numbers is skipped with one
``logging.warning`` and listed in :class:`Collected.skipped` (the group report counts them).
This is the one footprint reader of the group level and of ``estimate --from``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from bids_energy.analysis.trackers import RATIO_COLUMNS, run_ratios
from bids_energy.footprint import load_schema
from bids_energy.labels import strip_entity
from bids_energy.pipelines.variant import BASELINE

log = logging.getLogger(__name__)

SUFFIX = "_footprint.json"
NO_PARTICIPANT = "n/a"  # BIDS's word for a missing value
SUPPORTED_MAJOR = "1"

# Columns of group_footprint.tsv, in order; units are in the names.
# What makes two runs the same run (the latest wins duplicates).
RUN_KEYS = ["participant", "session", "pipeline", "variant", "device"]
COLUMNS = [
    *RUN_KEYS,
    "status",
    "exit_code",
    "pipeline_version",
    "start_utc",
    "end_utc",
    "wall_h",
    "cpu_h",
    "peak_mem_gb",
    "energy_wh",
    "node_energy_wh",
    "cpu_energy_wh",
    "memory_energy_wh",
    "gpu_energy_wh",
    "method",
    "cpu_method",
    "gpu_method",
    "co2e_g",
    "pue",
    "ci_g_per_kwh",
    "region",
    "codecarbon_energy_wh",
    "codecarbon_co2e_g",
    *RATIO_COLUMNS,
    "hostname",
    "slurm_job_id",
    "n_steps",
    "top_step",
    "warnings_n",
    "footprint_file",
]
# Numeric columns are the ones whose name carries a unit (house style: units in key names).
NUMERIC = [c for c in COLUMNS if c.endswith(("_h", "_gb", "_wh", "_g", "_kwh")) or c == "pue"]
NUMERIC += RATIO_COLUMNS  # tracker / ours ratios: dimensionless
# Kept in the run table for matching (sacct records) but not written to the TSV.
INTERNAL = ["run_id", "slurm_array_job_id", "slurm_array_task_id"]
STEP_COLUMNS = [
    "run_id",
    "pipeline",
    "variant",
    "device",
    "step",
    "cpu_s",
    "cpu_share",
    "energy_wh",
    "co2e_g",
]
PHASE_COLUMNS = [
    "run_id",
    "pipeline",
    "variant",
    "device",
    "phase",
    "cpu_s",
    "cpu_share",
    "energy_wh",
    "energy_share",
    "co2e_g",
    "time_s",
    "occurrences",
]


# The sampler timeline (up to ~720 rows of numbers) is most of a footprint's bytes and the group
# level never reads it: cut the numeric "rows" array out before parsing (about 8x faster on
# 10,000 files). The pattern only spans digits, signs, dots, exponents, commas, null and
# brackets, so it cannot reach into other content; if the cut text does not parse, the
# whole file is parsed as is.
_ROWS = re.compile(r'"rows"\s*:\s*\[[-+\d\s,.eEnul\[\]]*\]')


def load_without_timeline(text: str):
    """json.loads, skipping the timeline rows when that is safe (see _ROWS)."""
    cut = _ROWS.sub('"rows": []', text, count=1)
    if cut is not text:
        try:
            return json.loads(cut)
        except json.JSONDecodeError:
            pass
    return json.loads(text)


@lru_cache(maxsize=1)
def _schema_validator():
    """The footprint schema compiled once with fastjsonschema.

    jsonschema takes ~1.7 ms a record, 17 s on 10,000 files; the compiled check ~0.09 ms.
    The schema is written for draft 2020-12 but uses only keywords draft-07 shares
    (``$defs`` reached by JSON-pointer ``$ref``), so it is compiled as draft-07;
    ``tests/unit/test_group_collect.py`` checks both validators agree.
    """
    import copy

    import fastjsonschema

    # a deep copy: fastjsonschema writes resolver ids into the sub-schemas it walks, and
    # load_schema() is the one cached dict every other validator reads
    schema = copy.deepcopy(load_schema())
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return fastjsonschema.compile(schema)


def schema_problem(rec) -> str | None:
    """Why ``rec`` breaks the footprint schema (first error), or None when it matches."""
    import fastjsonschema

    try:
        _schema_validator()(rec)
    except fastjsonschema.JsonSchemaValueException as exc:
        return f"does not match the footprint schema: {exc.message}"
    return None


class SkipRecord(ValueError):
    """Why one file cannot be used (malformed, partial, foreign)."""


@dataclass
class Collected:
    runs: pd.DataFrame
    steps: pd.DataFrame
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    duplicates: int = 0
    phases: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PHASE_COLUMNS))


def find_footprints(output_dir: Path) -> list[Path]:
    """Every ``*_footprint.json`` below ``output_dir``, sorted (os.scandir: fast on 10k files)."""
    found: list[Path] = []
    stack = [str(output_dir)]
    while stack:
        top = stack.pop()
        try:
            with os.scandir(top) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.name.endswith(SUFFIX) and entry.is_file():
                        found.append(Path(entry.path))
        except OSError as exc:  # unreadable folder: say so, keep going
            log.warning("cannot read folder %s: %s", top, exc)
    return sorted(found)


def finite(value) -> float | None:
    """A finite float from a JSON/TSV cell, else None (booleans, text, NaN, inf)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


_num = finite


def _get(d, *path):
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def variant_label(variants) -> str:
    """``["baseline"]`` -> "baseline"; ``["fs-no-reconall", "sloppy"]`` -> "fs-no-reconall+sloppy".

    A record with no variants is treated as the baseline: it ran the pipeline's defaults.
    """
    if isinstance(variants, str):
        return variants or BASELINE
    if not variants:
        return BASELINE
    return "+".join(str(v) for v in variants)


def _label(value, entity: str) -> str | None:
    if value is None or value == "":
        return None
    return strip_entity(str(value), entity)


def flatten(rec, source: str = "") -> tuple[dict, list[dict]]:
    """One footprint dict -> (TSV row, step rows). Raises SkipRecord when it cannot be used."""
    if not isinstance(rec, dict):
        raise SkipRecord("not a JSON object")
    version = rec.get("schema_version")
    if not isinstance(version, str) or "participant" not in rec or "pipeline" not in rec:
        raise SkipRecord("not a bids-energy footprint (no schema_version/participant/pipeline)")
    if version.split(".")[0] != SUPPORTED_MAJOR:
        raise SkipRecord(f"unsupported schema_version {version}")
    pipe = rec.get("pipeline") if isinstance(rec.get("pipeline"), dict) else {}
    name = pipe.get("name")
    participant = _label(rec.get("participant"), "sub")
    if rec.get("participant") is None and _get(rec, "context", "api"):
        participant = NO_PARTICIPANT  # a bids_energy.measure() block that names none
    if not name or not participant:
        raise SkipRecord("partial record: no pipeline name or participant")
    status = (
        rec.get("status") if rec.get("status") in ("success", "failed", "interrupted") else None
    )
    if status is None:
        raise SkipRecord(f"partial record: status {rec.get('status')!r}")
    wall_s, cpu_s = _num(rec.get("wall_s")), _num(rec.get("cpu_s"))
    energy = rec.get("energy") if isinstance(rec.get("energy"), dict) else {}
    carbon = rec.get("carbon") if isinstance(rec.get("carbon"), dict) else {}
    energy_wh, co2e_g = _num(energy.get("job_energy_wh")), _num(carbon.get("co2e_g"))
    if status == "success" and None in (wall_s, energy_wh, co2e_g):
        raise SkipRecord("partial record: a successful run without wall_s, energy or co2e_g")
    comps = energy.get("components") if isinstance(energy.get("components"), dict) else {}

    def comp(name_, key="job_energy_wh"):
        return _get(comps, name_, key)

    cc = _get(rec, "trackers", "codecarbon-machine") or _get(rec, "trackers", "codecarbon") or {}
    steps = rec.get("steps") if isinstance(rec.get("steps"), list) else []
    steps = [s for s in steps if isinstance(s, dict) and s.get("step")]
    top = max(steps, key=lambda s: _num(s.get("energy_wh")) or 0.0)["step"] if steps else None
    warnings = rec.get("warnings") if isinstance(rec.get("warnings"), list) else []
    row = {
        "participant": participant,
        "session": _label(rec.get("session"), "ses"),
        "pipeline": str(name),
        "variant": variant_label(pipe.get("variants")),
        "device": str(pipe.get("device") or "cpu"),
        "status": status,
        "exit_code": rec.get("exit_code"),
        "pipeline_version": pipe.get("version"),
        "start_utc": rec.get("start_utc"),
        "end_utc": rec.get("end_utc"),
        "wall_h": wall_s / 3600 if wall_s is not None else None,
        "cpu_h": cpu_s / 3600 if cpu_s is not None else None,
        "peak_mem_gb": _num(rec.get("peak_mem_gb")),
        "energy_wh": energy_wh,
        "node_energy_wh": _num(energy.get("node_energy_wh")),
        "cpu_energy_wh": _num(comp("cpu")),
        "memory_energy_wh": _num(comp("memory"))
        if comp("memory") is not None
        else _num(comp("dram")),
        "gpu_energy_wh": _num(comp("gpu")),
        "method": energy.get("method"),
        "cpu_method": comp("cpu", "method"),
        "gpu_method": comp("gpu", "method"),
        "co2e_g": co2e_g,
        "pue": _num(carbon.get("pue")),
        "ci_g_per_kwh": _num(carbon.get("ci_g_per_kwh")),
        "region": carbon.get("region"),
        "codecarbon_energy_wh": _num(cc.get("energy_wh")) if isinstance(cc, dict) else None,
        "codecarbon_co2e_g": _num(cc.get("co2e_g")) if isinstance(cc, dict) else None,
        **run_ratios(rec),
        "hostname": _get(rec, "hardware", "hostname"),
        "slurm_job_id": _get(rec, "context", "slurm", "job_id"),
        "slurm_array_job_id": _get(rec, "context", "slurm", "array_job_id"),
        "slurm_array_task_id": _get(rec, "context", "slurm", "array_task_id"),
        "n_steps": len(steps),
        "top_step": top,
        "warnings_n": len(warnings),
        "footprint_file": source,
    }
    step_rows = [
        {
            "pipeline": row["pipeline"],
            "variant": row["variant"],
            "device": row["device"],
            "step": str(s["step"]),
            "cpu_s": _num(s.get("cpu_s")),
            "cpu_share": _num(s.get("cpu_share")),
            "energy_wh": _num(s.get("energy_wh")) or 0.0,
            "co2e_g": _num(s.get("co2e_g")),
        }
        for s in steps
    ]
    return row, step_rows


def phase_rows(rec: dict, row: dict) -> list[dict]:
    """The phases a run marked (footprint ``phases.rows``), keyed like its steps (pure)."""
    block = rec.get("phases") if isinstance(rec.get("phases"), dict) else {}
    rows = block.get("rows") if isinstance(block.get("rows"), list) else []
    return [
        {
            "pipeline": row["pipeline"],
            "variant": row["variant"],
            "device": row["device"],
            "phase": str(p["phase"]),
            **{k: _num(p.get(k)) for k in ("cpu_s", "cpu_share", "energy_wh", "energy_share",
                                           "co2e_g", "time_s", "occurrences")},
        }
        for p in rows
        if isinstance(p, dict) and p.get("phase")
    ]


def collect(output_dir: Path, paths: list[Path] | None = None) -> Collected:
    """Read and flatten every footprint under ``output_dir`` (or the given ``paths`` found
    there); the latest run wins duplicates."""
    output_dir = Path(output_dir)
    rows, step_rows, skipped, phases = [], [], [], []
    for path in find_footprints(output_dir) if paths is None else paths:
        rel = os.path.relpath(path, output_dir)
        try:
            with open(path, encoding="utf-8") as fh:
                rec = load_without_timeline(fh.read())
            if isinstance(rec, dict) and "schema_version" in rec:
                problem = schema_problem(rec)
                if problem:
                    raise SkipRecord(problem)
            row, steps = flatten(rec, rel)
            ph = phase_rows(rec, row)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, SkipRecord) as exc:
            reason = f"malformed JSON: {exc}" if isinstance(exc, json.JSONDecodeError) else str(exc)
            log.warning("skipping %s: %s", path, reason)
            skipped.append((rel, reason))
            continue
        row["run_id"] = len(rows)
        for s in [*steps, *ph]:
            s["run_id"] = row["run_id"]
        phases.extend(ph)
        rows.append(row)
        step_rows.extend(steps)
    runs = pd.DataFrame(rows, columns=[*COLUMNS, *INTERNAL])
    for col in NUMERIC:
        runs[col] = pd.to_numeric(runs[col], errors="coerce").astype(float)
    steps_df = pd.DataFrame(step_rows, columns=STEP_COLUMNS)
    phases_df = pd.DataFrame(phases, columns=PHASE_COLUMNS)
    before = len(runs)
    if before:
        keys = RUN_KEYS
        runs = (
            runs.assign(_s=runs["session"].fillna(""))
            .sort_values("start_utc", na_position="first", kind="stable")
            .drop_duplicates([*keys[:1], "_s", *keys[2:]], keep="last")
            .drop(columns="_s")
            .sort_values(
                ["pipeline", "variant", "device", "participant", "session"],
                na_position="first",
                kind="stable",
            )
            .reset_index(drop=True)
        )
        if len(runs) < before:
            log.warning(
                "%d duplicate runs (same participant/session/pipeline/variant/device): "
                "kept the latest of each",
                before - len(runs),
            )
        steps_df = steps_df[steps_df["run_id"].isin(runs["run_id"])]
        phases_df = phases_df[phases_df["run_id"].isin(runs["run_id"])]
    return Collected(runs=runs, steps=steps_df, skipped=skipped, duplicates=before - len(runs),
                     phases=phases_df)
