"""Synthetic footprint records built from docs/footprint-example.json, for report tests and the
group-scale benchmark. Values are chosen by the caller so tests can check known numbers."""

from __future__ import annotations

import copy
import json
import math
import random
from functools import lru_cache
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "footprint-example.json"


@lru_cache(maxsize=1)
def _example() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def _merge(base: dict, extra: dict) -> dict:
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v
    return base


def make_timeline(
    wall_s: float, job_w: float, node_w: float | None = None, n_rows: int = 60
) -> dict:
    """A smooth synthetic power curve whose mean job power is about ``job_w``."""
    cols = [
        "t_s",
        "job_cpu_share",
        "job_cpu_w",
        "node_cpu_w",
        "job_mem_gb",
        "job_memory_w",
        "job_gpu_w",
        "node_gpu_w",
    ]
    rows = []
    for i in range(n_rows):
        t = wall_s * i / max(n_rows - 1, 1)
        wobble = 1 + 0.25 * math.sin(i / 4)
        rows.append(
            [
                round(t, 3),
                0.9,
                round(job_w * wobble, 4),
                round(node_w * wobble, 4) if node_w is not None else None,
                0.5,
                0.2,
                None,
                None,
            ]
        )
    return {"interval_s": wall_s / max(n_rows - 1, 1), "columns": cols, "rows": rows}


def make_footprint(
    participant: str = "01",
    session: str | None = None,
    pipeline: str = "demo",
    variants=("baseline",),
    device: str = "cpu",
    status: str = "success",
    wall_s: float = 3600.0,
    cpu_s: float | None = None,
    energy_wh: float = 10.0,
    co2e_g: float | None = None,
    steps: list | None = None,
    codecarbon_wh: float | None = None,
    timeline_rows: int = 60,
    **overrides,
) -> dict:
    """One footprint with the given figures; ``overrides`` are deep-merged at the top level."""
    rec = copy.deepcopy(_example())
    cpu_s = wall_s * 0.9 if cpu_s is None else cpu_s
    co2e_g = energy_wh * 0.03 if co2e_g is None else co2e_g
    rec.update(
        participant=participant,
        session=session,
        status=status,
        exit_code=0 if status == "success" else 1,
        wall_s=wall_s,
        cpu_s=cpu_s,
    )
    rec["pipeline"].update(name=pipeline, variants=list(variants), device=device)
    rec["energy"]["job_energy_wh"] = energy_wh
    rec["energy"]["components"]["cpu"]["job_energy_wh"] = energy_wh * 0.95
    rec["energy"]["components"]["memory"]["job_energy_wh"] = energy_wh * 0.05
    rec["carbon"]["co2e_g"] = co2e_g
    rec["carbon"]["facility_energy_wh"] = energy_wh
    rec["timeline"] = make_timeline(
        wall_s, energy_wh * 3600 / wall_s if wall_s else 0.0, node_w=None, n_rows=timeline_rows
    )
    rec["steps"] = steps if steps is not None else []
    rec["trackers"] = (
        {"codecarbon-machine": codecarbon_row(codecarbon_wh)} if codecarbon_wh is not None else {}
    )
    return _merge(rec, overrides)


def footprint_path(out_dir: Path, rec: dict) -> Path:
    """Where the participant level writes a record (the layout the group level walks)."""
    variants = rec["pipeline"]["variants"]
    folder = rec["pipeline"]["name"] + (
        "" if variants == ["baseline"] else "-" + "+".join(variants)
    )
    sub = f"sub-{rec['participant']}"
    ses = f"ses-{rec['session']}" if rec.get("session") else None
    d = Path(out_dir) / folder / sub / (ses or "")
    name = "_".join(x for x in (sub, ses) if x) + "_footprint.json"
    return d / name


def write_footprint(out_dir: Path, rec: dict) -> Path:
    path = footprint_path(out_dir, rec)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec), encoding="utf-8")
    return path


def write_footprints(
    out_dir: Path,
    n: int,
    variants=(("baseline",), ("fs-no-reconall",)),
    seed: int = 0,
    timeline_rows: int = 60,
) -> list[Path]:
    """``n`` records spread over participants x variants with random but plausible figures."""
    rng = random.Random(seed)
    paths = []
    n_part = max(1, math.ceil(n / len(variants)))
    for i in range(n):
        v = variants[i // n_part % len(variants)]
        wall = rng.uniform(1800, 7200) * (0.55 if v != ("baseline",) else 1.0)
        energy = wall / 3600 * rng.uniform(20, 30)
        steps = [
            {
                "step": "surface reconstruction",
                "programs": ["recon-all"],
                "cpu_s": wall * 0.5,
                "cpu_share": 0.5,
                "energy_wh": energy * 0.5,
                "co2e_g": energy * 0.015,
                "first_seen_s": 0.0,
                "last_seen_s": wall * 0.5,
            },
            {
                "step": "registration",
                "programs": ["antsRegistration"],
                "cpu_s": wall * 0.5,
                "cpu_share": 0.5,
                "energy_wh": energy * 0.5,
                "co2e_g": energy * 0.015,
                "first_seen_s": wall * 0.5,
                "last_seen_s": wall,
            },
        ]
        rec = make_footprint(
            participant=f"{i % n_part + 1:05d}",
            pipeline="fmriprep",
            variants=v,
            wall_s=wall,
            energy_wh=energy,
            steps=steps,
            codecarbon_wh=energy * rng.uniform(2, 4),
            timeline_rows=timeline_rows,
        )
        paths.append(write_footprint(out_dir, rec))
    return paths


def codecarbon_row(energy_wh: float, pue: float = 1.0) -> dict:
    """A CodeCarbon machine-mode row as the trackers package records it."""
    from bids_energy.trackers.base import OK, TrackerResult
    from bids_energy.trackers.codecarbon_tracker import bills

    return TrackerResult(
        name="codecarbon-machine", status=OK, bills=bills("machine"), mode="machine",
        version="3.3.2", energy_wh=energy_wh,
        components_wh={"cpu": energy_wh * 0.4, "memory": energy_wh * 0.6, "gpu": 0.0},
        co2e_g=energy_wh * 0.03, ci_g_per_kwh=30.0, pue=pue,
        method="tracked: codecarbon machine mode",
    ).to_dict()
