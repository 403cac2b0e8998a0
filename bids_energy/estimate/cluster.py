"""Per-partition constants for after-the-fact estimates (``--cluster-config cluster.toml``).

Example::

    [defaults]
    tdp_per_core_w = 12
    gpu_tdp_w = 200
    pue = 1.2
    region = "CA-QC"

    [partitions.gpu]
    gpu_tdp_w = 300          # A100 SXM 400 W, V100 300 W ...
    ci_g_per_kwh = 30        # overrides region
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bids_energy.carbon import lookup_intensity, resolve_pue
from bids_energy.errors import InputMissingError, UsageError
from bids_energy.estimate.green_algorithms import (
    CORE_POWER_W,
    GPU_POWER_W,
    MEM_POWER_W_PER_GB,
    JobConstants,
)

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

KNOWN_KEYS = {
    "tdp_per_core_w",
    "gpu_tdp_w",
    "mem_power_w_per_gb",
    "pue",
    "region",
    "country_code",
    "ci_g_per_kwh",
}


def load_cluster_config(path: Path) -> dict[str, Any]:
    """Read and check a cluster TOML; unknown keys are a usage error (typos cost carbon)."""
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError as exc:
        raise InputMissingError(f"cluster config not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"cluster config {path} is not valid TOML: {exc}") from exc
    sections = [("defaults", data.get("defaults", {}))]
    sections += [(f"partitions.{k}", v) for k, v in data.get("partitions", {}).items()]
    for name, sec in sections:
        if not isinstance(sec, dict):
            raise UsageError(f"cluster config {path}: [{name}] must be a table")
        unknown = set(sec) - KNOWN_KEYS
        if unknown:
            raise UsageError(
                f"cluster config {path}: unknown key(s) {sorted(unknown)} in [{name}]; "
                f"known: {sorted(KNOWN_KEYS)}"
            )
    return data


def constants_for(
    config: dict[str, Any], partition: str | None, overrides: dict[str, Any] | None = None
) -> JobConstants:
    """Merge defaults < partition < command-line overrides into JobConstants."""
    merged: dict[str, Any] = {}
    merged.update(config.get("defaults", {}))
    if partition:
        merged.update(config.get("partitions", {}).get(partition, {}))
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    pue, _ = resolve_pue(merged.get("pue"))
    if merged.get("ci_g_per_kwh") is not None:
        ci = float(merged["ci_g_per_kwh"])
        if ci < 0:
            raise UsageError("ci_g_per_kwh must be >= 0")
        ci_source = "cluster config / user: ci_g_per_kwh"
    else:
        found = lookup_intensity(merged.get("country_code"), merged.get("region"))
        ci, ci_source = found.ci_g_per_kwh, f"{found.method} {found.zone}: {found.source}"
    return JobConstants(
        tdp_per_core_w=float(merged.get("tdp_per_core_w", CORE_POWER_W)),
        gpu_tdp_w=float(merged.get("gpu_tdp_w", GPU_POWER_W)),
        mem_power_w_per_gb=float(merged.get("mem_power_w_per_gb", MEM_POWER_W_PER_GB)),
        pue=pue,
        ci_g_per_kwh=ci,
        ci_source=ci_source,
    )
